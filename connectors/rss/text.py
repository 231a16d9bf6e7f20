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
