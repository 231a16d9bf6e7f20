"""Wikipedia diffs as text: the words and lines an edit added and removed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bs4 import BeautifulSoup, Tag

DIFF_TEXT_LIMIT = 3000
DIFF_UNAVAILABLE = {
    "missingcontent": "the text of this edit or of the one before it is hidden",
    "nosuchrevid": "the revision has been deleted",
    "baddiff": "Wikipedia could not produce the diff",
}


def diff_section(compare: Mapping[str, Any]) -> str:
    """The added and removed text of a compare answer, or why there is none."""
    error = compare.get("error")
    if isinstance(error, dict):
        code = str(error.get("code"))
        return f"[diff unavailable: {DIFF_UNAVAILABLE.get(code, code)}]"
    body = compare.get("compare", {}).get("body")
    return diff_summary(*diff_changes(body if isinstance(body, str) else ""))


def diff_changes(body: str) -> tuple[list[str], list[str]]:
    """Added and removed fragments of a diff table: changed words, else whole lines."""
    soup = BeautifulSoup(body, "html.parser")
    added = [_changed(cell, "ins") for cell in soup.select("td.diff-addedline")]
    removed = [_changed(cell, "del") for cell in soup.select("td.diff-deletedline")]
    return [text for text in added if text], [text for text in removed if text]


def _changed(cell: Tag, mark: str) -> str:
    marked = [_squash(tag.get_text()) for tag in cell.find_all(mark)]
    row = cell.find_parent("tr")
    paired = row is not None and bool(
        row.select("td.diff-deletedline") and row.select("td.diff-addedline")
    )
    if marked or paired:  # a changed line: only its marked words were added or removed
        return " … ".join(text for text in marked if text)
    marker = cell.find_previous_sibling("td", class_="diff-marker")
    if marker is not None and marker.find("a", class_=re.compile("^mw-diff-movedpara")):
        return ""  # a paragraph moved unchanged: neither added nor removed
    return _squash(cell.get_text())


def diff_summary(added: list[str], removed: list[str], limit: int = DIFF_TEXT_LIMIT) -> str:
    """An "Added: …" and a "Removed: …" line, each capped at half of `limit` characters."""
    if not added and not removed:
        return "No text added or removed (formatting or a moved paragraph)"
    lines = []
    for label, parts in (("Added", added), ("Removed", removed)):
        if parts:
            lines.append(f"{label}: {_capped(' | '.join(parts), limit // 2)}")
    return "\n".join(lines)


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _squash(text: str) -> str:
    return " ".join(text.split())
