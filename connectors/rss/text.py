"""Feed text as plain text, in time linear in its length and with a cap on what is kept."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from html import unescape
from typing import Any

from connectors.base import JSONValue

INLINE_TAGS = frozenset(
    ("a", "abbr", "b", "cite", "em", "i", "mark", "q", "small", "span", "strong", "u")
)
DROPPED_TAGS = frozenset(("script", "style", "noscript", "template"))
TAG_NAME = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")
MARKUP_LIMIT = 512 * 1024
"""Characters of one field's markup that are read; a field past this is cut before cleaning."""
TEXT_LIMIT = 64 * 1024
"""Characters of one field's text that an item keeps (an article's worth, many times over)."""
TITLE_LIMIT = 1000
ELLIPSIS = "\u2026"
RUN_LIMIT = 128 * 1024
"""Bytes of one run of a feed document's text between two tags that reach the XML parser: enough
for TEXT_LIMIT characters of escaped markup, while a hostile megabyte of `&lt;b&gt;` entities
(each one a parser callback) is cut before it costs seconds."""
SECTION_ENDS = (b"]]>", b"-->")
"""Ends of a CDATA section and of a comment, kept when the run before them is cut."""


def capped(text: str, limit: int = TEXT_LIMIT) -> str:
    """`text` cut to `limit` characters, ending in an ellipsis when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def plain_text(value: str, limit: int = TEXT_LIMIT) -> str:
    """Plain text with its whitespace collapsed, capped at `limit` characters."""
    return capped(" ".join(value[:MARKUP_LIMIT].split()), limit)


def html_to_text(html: str, limit: int = TEXT_LIMIT) -> str:
    """Visible text of an HTML fragment: scripts and styles dropped, whitespace collapsed."""
    if "<" not in html and "&" not in html:
        return plain_text(html, limit)
    parts = _visible_parts(html[:MARKUP_LIMIT], enough=4 * limit)
    return capped(" ".join("".join(parts).split()), limit)


def _visible_parts(html: str, enough: int) -> list[str]:
    """Text pieces and separators in one left-to-right pass (every search moves forward),
    stopping after `enough` characters and steps."""
    parts: list[str] = []
    pos = kept = 0
    while pos < len(html) and kept < enough:
        start = html.find("<", pos)
        text = unescape(html[pos:start] if start >= 0 else html[pos:])
        parts.append(text)
        kept += len(text) + 1  # a step with no text still counts: markup alone is bounded too
        if start < 0:
            break
        pos = _after_markup(html, start, parts)
    return parts


def _after_markup(html: str, start: int, parts: list[str]) -> int:
    """Where reading resumes after the markup at `start`; len(html) when it never ends."""
    if html.startswith("<!--", start):
        return _after(html, "-->", start + 4)
    if html.startswith("<![CDATA[", start):
        end = html.find("]]>", start)
        parts.append(html[start + 9 : end if end >= 0 else len(html)])
        return end + 3 if end >= 0 else len(html)
    tag = TAG_NAME.match(html, start)
    if tag is None:
        if html.startswith(("<!", "<?"), start):
            return _after(html, ">", start + 2)
        parts.append("<")  # a bare "<" (as in "a < b") is text
        return start + 1
    end = _after(html, ">", tag.end())
    name = tag.group(2).lower()
    if name not in INLINE_TAGS:
        parts.append(" ")
    if name in DROPPED_TAGS and not tag.group(1):
        closing = re.compile(rf"</{name}\s*>", re.IGNORECASE).search(html, end)
        return closing.end() if closing else len(html)
    return end


def _after(html: str, marker: str, start: int) -> int:
    end = html.find(marker, start)
    return end + len(marker) if end >= 0 else len(html)


def json_safe(value: Any) -> JSONValue:
    """A feedparser structure as plain JSON types; struct_time dates become ISO 8601 strings."""
    if isinstance(value, time.struct_time):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def trim_long_runs(document: bytes, limit: int = RUN_LIMIT) -> bytes:
    """An ASCII-compatible XML document with each run of text longer than `limit` bytes cut.

    The cut never splits an entity or a UTF-8 character, and keeps a CDATA section's or a
    comment's end, so the document stays as well-formed as it was. Other encodings (UTF-16) are
    left whole.
    """
    if len(document) <= limit or b"\x00" in document[:1024]:
        return document
    runs = document.split(b"<")
    if max(map(len, runs)) <= limit:
        return document
    return b"<".join(run if len(run) <= limit else _cut_run(run, limit) for run in runs)


def _cut_run(run: bytes, limit: int) -> bytes:
    head = run[:limit]
    entity = head.rfind(b"&", max(0, limit - 16))
    if entity != -1 and b";" not in head[entity:]:
        head = head[:entity]
    while head and head[-1] & 0xC0 == 0x80:  # a UTF-8 continuation byte: back to its lead
        head = head[:-1]
    if head and head[-1] >= 0xC0:
        head = head[:-1]
    tail = run[-64:]
    ends = [tail.rfind(end) for end in SECTION_ENDS]
    return head + (tail[max(ends) :] if max(ends) != -1 else b"")
