"""Names the X modules share: the streams a source reads and its setup guide."""

from __future__ import annotations

from typing import Any

DOC = "docs/connectors/x.md"
MENTIONS, OWN, SEARCH = "mentions", "own_tweets", "search"
STREAMS = (MENTIONS, OWN, SEARCH)  # most needed first, should the budget run short mid-poll
MIN_PAGE = {MENTIONS: 5, OWN: 5, SEARCH: 10}  # the smallest max_results each endpoint accepts

JSONObject = dict[str, Any]
