"""The Instagram cursor: the recent media whose comments are read on every poll."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from connectors.graph import JSONObject, newest_since


def watch_list(
    known: Mapping[str, JSONObject], media: Iterable[JSONObject], cutoff: datetime, limit: int
) -> dict[str, JSONObject]:
    """Media whose comments are read this poll: posted since `cutoff`, newest first."""
    watched = dict(known)
    for entry in media:
        watched[str(entry["id"])] = {
            "created": entry.get("timestamp"),
            "permalink": entry.get("permalink"),
            "comments_count": entry.get("comments_count"),
        }
    return newest_since(watched, cutoff, limit)
