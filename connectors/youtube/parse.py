"""Parsing YouTube Data API v3 payloads: pure functions from comment resources to items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from bs4 import BeautifulSoup

from connectors.base import Author, Item, ItemKind, JSONValue, PermanentError, parse_utc_time


def page_items(page: JSONValue) -> list[dict[str, Any]]:
    """The `items` of a list response; PermanentError when the body is not one."""
    if not isinstance(page, Mapping) or not isinstance(page.get("items", []), list):
        raise PermanentError("YouTube returned a response without an items list")
    return _dicts(page.get("items", []))


@dataclass(frozen=True)
class ParseContext:
    """What a comment's items need from its thread."""

    channel_id: str
    thread_id: str
    video_id: str | None


def parse_thread(
    thread: Mapping[str, Any],
    *,
    channel_id: str,
    replies: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[Item, ...]:
    """The top-level comment and its replies (default: the five at most included) as items."""
    thread_id, top = _text(thread.get("id")), dig(thread, "snippet", "topLevelComment")
    top_id = _text(dig(top, "id"))
    if not thread_id or not top_id:
        return ()
    video = _text(dig(thread, "snippet", "videoId")) or _text(dig(top, "snippet", "videoId"))
    answers = _dicts(dig(thread, "replies", "comments")) if replies is None else replies
    context = ParseContext(channel_id, thread_id, video or None)
    return (
        parse_comment(top, context),
        *(parse_comment(reply, context, reply_to=top_id) for reply in answers if dig(reply, "id")),
    )


def parse_comment(
    comment: Mapping[str, Any], context: ParseContext, *, reply_to: str | None = None
) -> Item:
    """One comment resource; a reply when `reply_to` (its top-level comment's id) is given."""
    snippet, comment_id = dig(comment, "snippet"), _text(comment.get("id"))
    snippet = snippet if isinstance(snippet, Mapping) else {}
    author = comment_author(snippet)
    parent = context.video_id if reply_to is None else _text(snippet.get("parentId")) or reply_to
    channel = _text(snippet.get("channelId")) or context.channel_id
    return Item(
        external_id=comment_id,
        kind=ItemKind.COMMENT if reply_to is None else ItemKind.REPLY,
        text=comment_text(snippet),
        created_at=parse_utc_time(snippet.get("publishedAt")),
        url=comment_url(context.video_id, comment_id, channel),
        author=author,
        by_school=author.id == context.channel_id,
        account="comments",
        parent_id=parent,
        thread_id=context.thread_id,
        raw=dict(comment),
    )


def comment_author(snippet: Mapping[str, Any]) -> Author:
    """Channel id, @handle and display name of a comment's author."""
    name = _text(snippet.get("authorDisplayName"))
    path = urlsplit(_text(snippet.get("authorChannelUrl"))).path.rstrip("/")
    handle = path.rsplit("/", 1)[-1] if "/@" in path else (name if name.startswith("@") else "")
    channel = _text(dig(snippet, "authorChannelId", "value"))
    return Author(id=channel or None, handle=handle or None, display_name=name or None)


def comment_text(snippet: Mapping[str, Any]) -> str:
    """textOriginal, else textDisplay reduced to plain text (line breaks kept)."""
    original = snippet.get("textOriginal")
    if isinstance(original, str) and original.strip():
        return original.strip()
    return display_text(_text(snippet.get("textDisplay")))


def display_text(html: str) -> str:
    """Plain text of YouTube's textDisplay HTML: <br> becomes a line break, entities decoded."""
    if "<" not in html and "&" not in html:
        return html.strip()
    soup = BeautifulSoup(html, "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().split("\n"))
    return "\n".join(lines).strip()


def comment_url(video_id: str | None, comment_id: str, channel_id: str) -> str:
    """The comment highlighted under its video (or the channel for channel comments)."""
    if video_id:
        return f"https://www.youtube.com/watch?v={video_id}&lc={comment_id}"
    return f"https://www.youtube.com/channel/{channel_id}"


def dig(value: object, *keys: str) -> Any:
    """`value[k1][k2]...`, or None where a level is missing or not an object."""
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dicts(value: object) -> list[dict[str, Any]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _published(thread: Mapping[str, Any]) -> datetime | None:
    return parse_utc_time(dig(thread, "snippet", "topLevelComment", "snippet", "publishedAt"))
