"""JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/): a pure parse to items."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from connectors.base import Author, Item, ItemKind, parse_utc_time
from connectors.rss.entries import (
    AUTHOR_LIMIT,
    EntryProblem,
    FeedReading,
    FeedSettings,
    Report,
    checked_link,
    detected_kind,
    guarded_item,
    is_comment_link,
    is_comments_feed,
    is_school_author,
    not_a_feed,
    stable_id,
    thread_of,
)
from connectors.rss.text import TITLE_LIMIT, capped, html_to_text, plain_text

JSON_FEED_TYPES = ("application/feed+json", "application/json")
VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")


def is_json_feed(content: bytes, content_type: str) -> bool:
    """Whether the bytes are to be read as JSON: a JSON media type, or a JSON object body."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type in JSON_FEED_TYPES:
        return True
    start = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith(b"{") and b'"version"' in content[:4096]


def read_json_feed(
    content: bytes, *, base: str, where: str, config: FeedSettings | None = None
) -> FeedReading:
    """Items of a JSON Feed document; PermanentError if it is not one."""
    document = json_feed_document(content, where)
    comments_feed = is_comments_feed(str(document.get("title") or ""))
    feed_author = _author_name(document)
    items: list[Item] = []
    problems: list[EntryProblem] = []
    entries = document.get("items")
    for number, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
        label = f"item #{number}"
        if not isinstance(entry, dict):
            problems.append(EntryProblem(label, "item", "left out: not a JSON object"))
            continue
        build = partial(_json_item, entry, base, config, comments_feed, feed_author)
        item = guarded_item(build, str(entry.get("id") or label), problems)
        if item is not None:
            items.append(item)
    title = plain_text(_text_field(document, "title"), TITLE_LIMIT)
    return FeedReading(tuple(items), tuple(problems), title)


def json_feed_document(content: bytes, where: str) -> dict[str, Any]:
    """The JSON Feed object in `content`; PermanentError if it is not JSON or not a feed."""
    try:
        document = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise not_a_feed(where) from None
    if not isinstance(document, dict) or not _is_versioned(document.get("version")):
        raise not_a_feed(where)
    return document


def _is_versioned(version: object) -> bool:
    return isinstance(version, str) and version.strip().lower().startswith(VERSION_PREFIXES)


def _json_item(
    entry: Mapping[str, Any],
    base: str,
    config: FeedSettings | None,
    comments_feed: bool,
    feed_author: str | None,
    report: Report,
) -> Item:
    link = _text_field(entry, "url") or _text_field(entry, "external_url")
    url = checked_link(link or None, report, base)
    text = json_item_text(entry)
    kind = detected_kind(config, comments_feed or is_comment_link(url, entry.get("id")))
    parent = thread_of(url) if kind is ItemKind.COMMENT else None
    author = _author_name(entry) or feed_author
    return Item(
        external_id=json_item_id(entry, url, text),
        kind=kind,
        text=text,
        created_at=parse_utc_time(entry.get("date_published"))
        or parse_utc_time(entry.get("date_modified")),
        url=url,
        author=Author(display_name=author),
        by_school=is_school_author(author, config),
        title=plain_text(_text_field(entry, "title"), TITLE_LIMIT) or None,
        parent_id=parent,
        thread_id=parent,
        raw=dict(entry),
    )


def json_item_id(entry: Mapping[str, Any], url: str | None, text: str) -> str:
    """The item's `id` (1.0 allowed numbers: read as their text), else a hash of its content."""
    given = entry.get("id")
    if isinstance(given, str | int | float) and not isinstance(given, bool) and str(given).strip():
        return stable_id(str(given).strip())
    basis = f"{url or ''}\n{_text_field(entry, 'title')}\n{entry.get('date_published') or ''}"
    basis += f"\n{text}"
    return "sha256:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()


def json_item_text(entry: Mapping[str, Any]) -> str:
    """content_text, else content_html as text, else the summary."""
    if _text_field(entry, "content_text").strip():
        return plain_text(_text_field(entry, "content_text"))
    if _text_field(entry, "content_html").strip():
        return html_to_text(_text_field(entry, "content_html"))
    return plain_text(_text_field(entry, "summary"))


def _author_name(value: Mapping[str, Any]) -> str | None:
    """The first author's name: 1.1's `authors` list, else 1.0's `author` object."""
    authors = value.get("authors")
    candidates = authors if isinstance(authors, list) else [value.get("author")]
    for author in candidates:
        if isinstance(author, dict) and _text_field(author, "name").strip():
            return capped(" ".join(_text_field(author, "name").split()), AUTHOR_LIMIT)
    return None


def _text_field(value: Mapping[str, Any], key: str) -> str:
    field = value.get(key)
    return field if isinstance(field, str) else ""
