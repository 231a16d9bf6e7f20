"""Parsing X API v2 payloads: pure functions from documented pages to items."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import Author, Item, ItemKind, PermanentError, parse_utc_time
from connectors.x.streams import OWN, JSONObject


@dataclass(frozen=True)
class School:
    """The school's X account: its numeric id and its username."""

    user_id: str
    username: str


def tweets_of(page: Mapping[str, Any]) -> list[JSONObject]:
    """The posts in one page's `data` (none when the page is empty)."""
    return [tweet for tweet in _list(page.get("data")) if isinstance(tweet, dict)]


def parse_page(page: Mapping[str, Any], *, school: School, account: str) -> list[Item]:
    """The items of one page; the school's own posts only when they reply to someone else."""
    users = {
        user["id"]: user
        for user in _list(_mapping(page.get("includes")).get("users"))
        if isinstance(user, dict) and isinstance(user.get("id"), str)
    }
    parse = parse_own_tweet if account == OWN else parse_tweet
    found = (parse(tweet, users=users, school=school, account=account) for tweet in tweets_of(page))
    return [item for item in found if item is not None]


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
        text=str(tweet.get("text") or ""),
        created_at=parse_utc_time(tweet.get("created_at")),
        url=f"https://x.com/{handle or 'i/web'}/status/{tweet_id}",
        author=Author(id=author_id, handle=handle, display_name=_id(user.get("name"))),
        by_school=by_school,
        account=account,
        parent_id=parent,
        thread_id=_id(tweet.get("conversation_id")) or tweet_id,
        raw={"tweet": dict(tweet), "author": dict(user) or None},
    )


def _kind(*, by_school: bool, parent: str | None, to_school: bool) -> ItemKind:
    if by_school:
        return ItemKind.REPLY if parent else ItemKind.POST
    return ItemKind.REPLY if parent and to_school else ItemKind.MENTION


def replied_to(tweet: Mapping[str, Any]) -> str | None:
    """The id of the post this one replies to (referenced_tweets of type replied_to)."""
    for reference in _list(tweet.get("referenced_tweets")):
        reference = _mapping(reference)
        if reference.get("type") == "replied_to":
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
