"""Pure functions from Bluesky XRPC payloads to items and (URI, indexedAt) entries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import Author, Item, ItemKind, PermanentError, parse_utc_time

NOTIFICATIONS = "app.bsky.notification.listNotifications"
SEARCH_POSTS = "app.bsky.feed.searchPosts"
AUTHOR_FEED = "app.bsky.feed.getAuthorFeed"
NOTIFICATION_KINDS = {"mention": ItemKind.MENTION, "reply": ItemKind.REPLY}
POST_COLLECTION = "app.bsky.feed.post"
SEARCH = "search"
"""`Item.account` of posts found by searching for the school's names."""

Entry = tuple[str, datetime | None]


def page_entries(nsid: str, page: Mapping[str, Any]) -> list[Entry]:
    """(URI, indexedAt) of the posts or notifications on a page, newest first."""
    if nsid == AUTHOR_FEED:
        views = _own_feed_posts(page)
    else:
        views = _listed(page, "notifications" if nsid == NOTIFICATIONS else "posts")
    return [(str(v["uri"]), parse_utc_time(v.get("indexedAt"))) for v in views if v.get("uri")]


def parse_page(nsid: str, page: Mapping[str, Any], school_did: str) -> tuple[Item, ...]:
    """The items on one page of any stream."""
    if nsid == NOTIFICATIONS:
        return parse_notifications(page, school_did)
    if nsid == AUTHOR_FEED:
        return parse_author_feed(page, school_did)
    return parse_search(page, school_did)


def parse_notifications(page: Mapping[str, Any], school_did: str) -> tuple[Item, ...]:
    """Items for the mention and reply notifications of a listNotifications page."""
    found = []
    for notification in _listed(page, "notifications"):
        kind = NOTIFICATION_KINDS.get(str(notification.get("reason")))
        if kind is not None:
            found.append(post_item(notification, kind, "notifications", school_did))
    return _present(found)


def parse_search(page: Mapping[str, Any], school_did: str) -> tuple[Item, ...]:
    """Items for the posts of a searchPosts page: mentions found by search."""
    posts = _listed(page, "posts")
    return _present(post_item(post, ItemKind.MENTION, SEARCH, school_did) for post in posts)


def parse_author_feed(page: Mapping[str, Any], school_did: str) -> tuple[Item, ...]:
    """The school's own posts and replies in a getAuthorFeed page (reposts and pins skipped)."""
    return _present(
        post_item(post, _post_kind(post), "posts", school_did)
        for post in _own_feed_posts(page)
        if _author(post).get("did") == school_did
    )


def post_item(
    view: Mapping[str, Any], kind: ItemKind, account: str, school_did: str
) -> Item | None:
    """An item for a postView or a notification; None when it is not a post."""
    uri, record = view.get("uri"), view.get("record")
    if not isinstance(uri, str) or not isinstance(record, Mapping):
        return None
    if record.get("$type", POST_COLLECTION) != POST_COLLECTION:
        return None
    author = _author(view)
    reply: Mapping[str, Any] = record["reply"] if isinstance(record.get("reply"), Mapping) else {}
    did = str(author.get("did") or uri.removeprefix("at://").split("/")[0])
    return Item(
        external_id=uri,
        kind=kind,
        text=" ".join(str(record.get("text") or "").split()),
        created_at=_earliest(record.get("createdAt"), view.get("indexedAt")),
        url=post_url(uri, str(author.get("handle") or "")),
        author=Author(id=did, handle=author.get("handle"), display_name=author.get("displayName")),
        by_school=did == school_did,
        account=account,
        parent_id=_ref_uri(reply, "parent"),
        thread_id=_ref_uri(reply, "root") or uri,
        raw=dict(view),
    )


def post_url(uri: str, handle: str) -> str:
    """The bsky.app link of a post: its author's handle (or DID) and record key."""
    authority, _, rest = uri.removeprefix("at://").partition("/")
    profile = handle if handle and handle != "handle.invalid" else authority
    return f"https://bsky.app/profile/{profile}/post/{rest.rsplit('/', 1)[-1]}"


def _earliest(created: object, indexed: object) -> datetime | None:
    # Like Bluesky's own sortAt: a post cannot be newer than when the AppView first saw it.
    times = [t for t in (parse_utc_time(created), parse_utc_time(indexed)) if t is not None]
    return min(times, default=None)


def _post_kind(post: Mapping[str, Any]) -> ItemKind:
    record = post.get("record")
    return ItemKind.REPLY if isinstance(record, Mapping) and record.get("reply") else ItemKind.POST


def _own_feed_posts(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        entry["post"]
        for entry in _listed(page, "feed")
        if not entry.get("reason") and isinstance(entry.get("post"), Mapping)
    ]


def _listed(page: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    values = page.get(key)
    if not isinstance(values, list):
        raise PermanentError(
            f"Bluesky answered without a {key!r} list",
            fix="base_url must be https://bsky.social or the account's own PDS",
        )
    return [value for value in values if isinstance(value, Mapping)]


def _author(view: Mapping[str, Any]) -> Mapping[str, Any]:
    author = view.get("author")
    return author if isinstance(author, Mapping) else {}


def _ref_uri(reply: Mapping[str, Any], key: str) -> str | None:
    ref = reply.get(key)
    uri = ref.get("uri") if isinstance(ref, Mapping) else None
    return uri if isinstance(uri, str) and uri else None


def _present(items: Any) -> tuple[Item, ...]:
    return tuple(item for item in items if item is not None)
