"""Parsing Instagram payloads: pure functions from Graph API media and comments to items."""

from __future__ import annotations

from typing import Any

from connectors.base import Author, Item, ItemKind, parse_utc_time
from connectors.graph import JSONObject, clean_text, https_url

School = tuple[str, str]
"""The school's account as (ig_user_id, username)."""


def parse_media(media: JSONObject, ig_user_id: str, username: str) -> Item:
    """One of the account's own media: by the school, the thread its comments belong to."""
    media_id = str(media["id"])
    return Item(
        external_id=media_id,
        kind=ItemKind.POST,
        text=clean_text(media.get("caption")),
        created_at=parse_utc_time(media.get("timestamp")),
        url=https_url(media.get("permalink")),
        author=Author(id=ig_user_id, handle=media.get("username") or username),
        by_school=True,
        account="media",
        thread_id=media_id,
        raw=media,
    )


def parse_comment(comment: JSONObject, media_id: str, url: Any, school: School) -> Item:
    """A comment on the account's media (its replies are separate items)."""
    raw = {key: value for key, value in comment.items() if key != "replies"}
    return _comment_item(raw, ItemKind.COMMENT, media_id, media_id, url, school)


def parse_reply(
    reply: JSONObject, comment: JSONObject, media_id: str, url: Any, school: School
) -> Item:
    """A reply to a comment; the school's own replies are by_school."""
    parent = str(reply.get("parent_id") or comment["id"])
    return _comment_item(reply, ItemKind.REPLY, parent, media_id, url, school)


def parse_tag(media: JSONObject) -> Item:
    """Someone else's media that tags the school: a mention of it, in its own thread."""
    media_id, username = str(media["id"]), media.get("username") or None
    return Item(
        external_id=media_id,
        kind=ItemKind.MENTION,
        text=clean_text(media.get("caption")),
        created_at=parse_utc_time(media.get("timestamp")),
        url=https_url(media.get("permalink")),
        author=Author(handle=username),
        account="tags",
        thread_id=media_id,
        raw=media,
    )


def _comment_item(
    payload: JSONObject, kind: ItemKind, parent_id: str, media_id: str, url: Any, school: School
) -> Item:
    given = payload.get("from")
    sender: JSONObject = given if isinstance(given, dict) else {}
    username = payload.get("username") or sender.get("username") or None
    author_id = str(sender["id"]) if sender.get("id") else None
    by_school = author_id == school[0] or (
        username is not None and str(username).casefold() == school[1].casefold()
    )
    return Item(
        external_id=str(payload["id"]),
        kind=kind,
        text=clean_text(payload.get("text")),
        created_at=parse_utc_time(payload.get("timestamp")),
        url=https_url(url),
        author=Author(id=author_id, handle=username),
        by_school=by_school,
        account="comments",
        parent_id=parent_id,
        thread_id=media_id,
        raw=payload,
    )
