"""Names the X modules share: the streams a source reads and its setup guide."""

from __future__ import annotations

import re
from typing import Any, Literal

DOC = "docs/connectors/x.md"
MENTIONS, OWN, SEARCH = "mentions", "own_tweets", "search"
STREAMS = (MENTIONS, OWN, SEARCH)  # most needed first, should the budget run short mid-poll
MIN_PAGE = {MENTIONS: 5, OWN: 5, SEARCH: 10}  # the smallest max_results each endpoint accepts

JSONObject = dict[str, Any]

Reposts = Literal["skip", "keep"]
"""What a source does with reposts: leave them out, or keep each as an item of kind `repost`."""
KEEP = "keep"
WITHOUT_REPOSTS = "-is:retweet"
_QUOTED = re.compile(r'"[^"]*"')
_IS_RETWEET = re.compile(r"(?<![\w:])-?is:retweet(?![\w:])", re.IGNORECASE)


def search_terms(query: str, *, without_reposts: bool) -> str:
    """The recent-search query sent: the school's as written, or with `-is:retweet` added.

    X applies AND before OR, so the school's query goes in parentheses first; a query that
    already says `is:retweet` or `-is:retweet` (outside quotes) is left as written.
    """
    if not without_reposts or _IS_RETWEET.search(_QUOTED.sub(" ", query)):
        return query
    return f"({query}) {WITHOUT_REPOSTS}"
