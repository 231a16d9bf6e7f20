"""Parsing: a pure function from a feed's bytes (RSS, Atom or JSON Feed) to items."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urljoin

import feedparser

from connectors.base import Author, Item, ItemKind
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
    public_url,
    stable_id,
    thread_of,
)
from connectors.rss.jsonfeed import is_json_feed, read_json_feed
from connectors.rss.text import (
    TEXT_LIMIT,
    TITLE_LIMIT,
    capped,
    html_to_text,
    json_safe,
    plain_text,
    trim_long_runs,
)

DATE_KEYS = ("published_parsed", "created_parsed", "updated_parsed")


def parse_feed(
    content: bytes,
    *,
    source_url: str,
    config: FeedSettings | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[Item, ...]:
    """Items of an RSS, Atom or JSON Feed document; PermanentError if the bytes are not a feed."""
    return read_feed(content, source_url=source_url, config=config, headers=headers).items


def read_feed(
    content: bytes,
    *,
    source_url: str,
    config: FeedSettings | None = None,
    headers: Mapping[str, str] | None = None,
) -> FeedReading:
    """Items of a feed document and the entries' fields that had to be blanked or left out.

    `headers` are the HTTP response's: its Content-Type charset decodes the bytes and its
    Content-Location (else `source_url`, the address the feed was read from) resolves links.
    """
    lowered = {key.lower(): value for key, value in (headers or {}).items()}
    base = urljoin(source_url, lowered.get("content-location", ""))
    if is_json_feed(content, lowered.get("content-type", "")):
        return read_json_feed(content, base=base, where=public_url(source_url), config=config)
    document = parse_document(content, public_url(source_url), lowered.get("content-type"))
    return document_reading(document, config, base)


def parse_document(content: bytes, where: str, content_type: str | None = None) -> Any:
    """feedparser's reading of RSS/Atom bytes; PermanentError if they are not a feed.

    Only the Content-Type (its charset) goes to feedparser. The feed's address does not: with
    it feedparser rewrites guids as addresses too, and an item's id must never change.
    """
    # A stream, never bytes: feedparser opens a bytes value that names a file as that file.
    document = feedparser.parse(
        io.BytesIO(trim_long_runs(content)),
        response_headers={"content-type": content_type} if content_type else {},
        sanitize_html=False,  # only text is kept: no markup reaches staff
        resolve_relative_uris=False,
    )
    if not document.entries and (
        not document.get("version") or (document.bozo and not document.feed.get("title"))
    ):
        raise not_a_feed(where)
    return document


def document_reading(document: Any, config: FeedSettings | None, base: str = "") -> FeedReading:
    """Every readable entry of a feedparser document as an item; one bad entry costs itself.

    Links (already resolved against any xml:base) are resolved against `base`."""
    comments_feed = is_comments_feed(str(document.feed.get("title", "")))
    items: list[Item] = []
    problems: list[EntryProblem] = []
    for number, entry in enumerate(document.entries, start=1):
        if not _is_identifiable(entry):
            continue
        label = str(entry.get("id") or entry.get("link") or f"entry #{number}")
        build = partial(_entry_item, entry, config, comments_feed, base)
        item = guarded_item(build, label, problems)
        if item is not None:
            items.append(item)
    title = detail_text(document.feed, "title", TITLE_LIMIT)
    return FeedReading(tuple(items), tuple(problems), title)


def _is_identifiable(entry: Mapping[str, Any]) -> bool:
    # A truncated document can end in an entry with nothing in it yet: no id, link or text.
    keys = ("id", "link", "title", "summary")
    return any(str(entry.get(key) or "").strip() for key in keys) or bool(entry.get("content"))


def _entry_item(
    entry: Any, config: FeedSettings | None, comments_feed: bool, base: str, report: Report
) -> Item:
    link = str(entry.get("link") or "").strip() or None
    text = _entry_text(entry)
    url = checked_link(link, report, base)
    is_comment = comments_feed or is_comment_link(link, entry.get("id"))
    kind = detected_kind(config, is_comment)
    parent = thread_of(url) if is_comment and kind is ItemKind.COMMENT else None
    author = capped(" ".join(str(entry.get("author") or "").split()), AUTHOR_LIMIT) or None
    return Item(
        external_id=entry_id(entry, text),
        kind=kind,
        text=text,
        created_at=entry_datetime(entry),
        url=url,
        author=Author(display_name=author),
        by_school=is_school_author(author, config),
        title=detail_text(entry, "title", TITLE_LIMIT) or None,
        parent_id=parent,
        thread_id=parent,
        raw=json_safe(entry),
    )


def entry_id(entry: Mapping[str, Any], text: str = "") -> str:
    """The entry's guid/id, else a hash of its link and title, else of its date and text.

    Each is stable across polls, so the same entry seen twice is the same item.
    """
    given = str(entry.get("id") or "").strip()
    if given:
        return stable_id(given)
    link, title = entry.get("link") or "", entry.get("title") or ""
    if link or title:
        basis = f"{link}\n{title}"
    else:
        when = entry.get("published") or entry.get("created") or entry.get("updated") or ""
        basis = f"description\n{when}\n{text}"
    return "sha256:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()


def entry_datetime(entry: Mapping[str, Any]) -> datetime | None:
    """Published, else created (Atom 0.3), else updated, as an aware UTC datetime."""
    for key in DATE_KEYS:
        # dict.get skips FeedParserDict's deprecated updated→published alias (and its warning).
        parsed = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if isinstance(parsed, time.struct_time):
            try:
                return datetime(*parsed[:6], tzinfo=UTC)
            except (TypeError, ValueError, OverflowError):
                continue
    return None


def _entry_text(entry: Mapping[str, Any]) -> str:
    contents = entry.get("content") or []
    if contents:
        first = contents[0]
        return _as_text(str(first.get("value", "")), str(first.get("type", "text/html")))
    return detail_text(entry, "summary")


def detail_text(entry: Mapping[str, Any], key: str, limit: int = TEXT_LIMIT) -> str:
    """An entry's (or feed's) `key` field as plain text, whatever its declared type."""
    detail = entry.get(f"{key}_detail") or {}
    value, kind = str(entry.get(key) or ""), str(detail.get("type", "text/html"))
    return _as_text(value, kind, limit)


def _as_text(value: str, content_type: str, limit: int = TEXT_LIMIT) -> str:
    if content_type == "text/plain":
        return plain_text(value, limit)
    return html_to_text(value, limit)
