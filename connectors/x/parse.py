"""Parsing X API v2 payloads: pure functions from documented pages to items."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from connectors.base import Author, Item, ItemKind, PermanentError, parse_utc_time
from connectors.x.streams import KEEP, OWN, JSONObject, Reposts

_ESCAPED = re.compile(r"&(amp|lt|gt);")
_UNESCAPED = {"amp": "&", "lt": "<", "gt": ">"}


@dataclass(frozen=True)
class School:
    """The school's X account: its numeric id and its username."""

    user_id: str
    username: str


def tweets_of(page: Mapping[str, Any]) -> list[JSONObject]:
    """The posts in one page's `data` (none when the page is empty)."""
    return [tweet for tweet in _list(page.get("data")) if isinstance(tweet, dict)]


def posts_read(page: Mapping[str, Any]) -> int:
    """The posts a page returned, billed as reads: its `data` and any reposted ones included."""
    included = _list(_mapping(page.get("includes")).get("tweets"))
    return len(tweets_of(page)) + sum(isinstance(tweet, dict) for tweet in included)


def parse_page(
    page: Mapping[str, Any], *, school: School, account: str, reposts: Reposts = "skip"
) -> list[Item]:
    """The items of one page; the school's own posts only when they reply to someone else;
    reposts left out, or kept as `repost` items when `reposts` is "keep"."""
    users, originals = _included(page, "users"), _included(page, "tweets")
    found: list[Item | None] = []
    for tweet in tweets_of(page):
        original = reposted(tweet)
        if original is None:
            parse = parse_own_tweet if account == OWN else parse_tweet
            found.append(parse(tweet, users=users, school=school, account=account))
        elif reposts == KEEP:
            post = originals.get(original, {})
            found.append(parse_repost(tweet, post, users=users, school=school, account=account))
    return [item for item in found if item is not None]


def _included(page: Mapping[str, Any], kind: str) -> dict[str, Mapping[str, Any]]:
    """The page's `includes.users` or `includes.tweets` by id."""
    return {
        entry["id"]: entry
        for entry in _list(_mapping(page.get("includes")).get(kind))
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    }


def parse_own_tweet(
    tweet: Mapping[str, Any], *, users: Mapping[str, Any], school: School, account: str = OWN
) -> Item | None:
    """One of the school's own posts, kept only when it replies to someone else's post."""
    if replied_to(tweet) is None or _id(tweet.get("in_reply_to_user_id")) == school.user_id:
        return None  # an original post, or the school continuing its own thread
    return parse_tweet(tweet, users=users, school=school, account=account)


def parse_tweet(
    tweet: Mapping[str, Any], *, users: Mapping[str, Any], school: School, account: str
) -> Item:
    """A post as an item: a mention, a reply to the school, or the school's own reply."""
    tweet_id = _id(tweet.get("id"))
    if tweet_id is None or not tweet_id.isdigit():
        raise PermanentError("X sent a post without a numeric id", fix="report this payload")
    author_id = _id(tweet.get("author_id"))
    user = _mapping(users.get(author_id or ""))
    handle = _id(user.get("username"))
    by_school = author_id == school.user_id
    parent = replied_to(tweet)
    to_school = _id(tweet.get("in_reply_to_user_id")) == school.user_id
    if by_school and to_school:
        parent = None  # a thread of the school's own posts answers nobody
    return Item(
        external_id=tweet_id,
        kind=_kind(by_school=by_school, parent=parent, to_school=to_school),
        text=unescape(str(tweet.get("text") or "")),
        created_at=parse_utc_time(tweet.get("created_at")),
        url=f"https://x.com/{handle or 'i/web'}/status/{tweet_id}",
        author=Author(id=author_id, handle=handle, display_name=_id(user.get("name"))),
        by_school=by_school,
        account=account,
        parent_id=parent,
        thread_id=_id(tweet.get("conversation_id")) or tweet_id,
        raw={"tweet": dict(tweet), "author": dict(user) or None},
    )


def parse_repost(
    tweet: Mapping[str, Any],
    original: Mapping[str, Any],
    *,
    users: Mapping[str, Any],
    school: School,
    account: str,
) -> Item | None:
    """A repost as a `repost` item by whoever reposted, with the original's full text, link and
    conversation; None when the school reposted (a repost answers nobody). Without the original
    (deleted, or not expanded) the repost's own shortened text is kept."""
    item = parse_tweet(tweet, users=users, school=school, account=account)
    source_id = reposted(tweet)
    if item.by_school or source_id is None:
        return None
    author = _mapping(users.get(_id(original.get("author_id")) or ""))
    handle = _id(author.get("username"))
    text = original.get("text")
    return replace(
        item,
        kind=ItemKind.REPOST,
        text=unescape(text) if isinstance(text, str) else item.text,
        url=f"https://x.com/{handle or 'i/web'}/status/{source_id}",
        parent_id=source_id,
        thread_id=_id(original.get("conversation_id")) or source_id,
        raw=item.raw | {"reposted": _raw(original, author)},
    )


def _raw(tweet: Mapping[str, Any], author: Mapping[str, Any]) -> JSONObject:
    return {"tweet": dict(tweet) or None, "author": dict(author) or None}


def unescape(text: str) -> str:
    """A post's text without X's HTML escaping (`&amp;`, `&lt;`, `&gt;`), undone exactly once."""
    return _ESCAPED.sub(lambda match: _UNESCAPED[match[1]], text)


def _kind(*, by_school: bool, parent: str | None, to_school: bool) -> ItemKind:
    if by_school:
        return ItemKind.REPLY if parent else ItemKind.POST
    return ItemKind.REPLY if parent and to_school else ItemKind.MENTION


def replied_to(tweet: Mapping[str, Any]) -> str | None:
    """The id of the post this one replies to (referenced_tweets of type replied_to)."""
    return _referenced(tweet, "replied_to")


def reposted(tweet: Mapping[str, Any]) -> str | None:
    """The id of the post this one reposts (referenced_tweets of type retweeted)."""
    return _referenced(tweet, "retweeted")


def _referenced(tweet: Mapping[str, Any], kind: str) -> str | None:
    for reference in _list(tweet.get("referenced_tweets")):
        reference = _mapping(reference)
        if reference.get("type") == kind:
            return _id(reference.get("id"))
    return None


def _id(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def _post_id(value: Any) -> str | None:
    text = _id(value)
    return text if text and text.isdigit() else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else ()
