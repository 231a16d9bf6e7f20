"""Names the X modules share: the streams a source reads, its setup guide and its clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

DOC = "docs/connectors/x.md"
MENTIONS, OWN, SEARCH = "mentions", "own_tweets", "search"
STREAMS = (MENTIONS, OWN, SEARCH)  # most needed first, should the budget run short mid-poll
MIN_PAGE = {MENTIONS: 5, OWN: 5, SEARCH: 10}  # the smallest max_results each endpoint accepts

JSONObject = dict[str, Any]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
