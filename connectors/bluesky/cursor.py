"""Bluesky streams (newest-first listings) and the marks that say where each was read up to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import JSONValue, SourceWarning, parse_utc_time
from connectors.bluesky.config import BlueskyConfig
from connectors.bluesky.parse import (
    AUTHOR_FEED,
    NOTIFICATION_KINDS,
    NOTIFICATIONS,
    SEARCH_POSTS,
    Entry,
)

MARK_URIS = 25


@dataclass(frozen=True)
class Stream:
    """One newest-first listing (an XRPC query) and the key of its mark in the state."""

    key: str
    nsid: str
    params: Mapping[str, Any]


def streams(settings: BlueskyConfig, did: str) -> list[Stream]:
    """Notifications, the account's own posts, then one stream per search term."""
    return [
        Stream("notifications", NOTIFICATIONS, {"reasons": list(NOTIFICATION_KINDS)}),
        Stream("posts", AUTHOR_FEED, {"actor": did, "filter": "posts_with_replies"}),
        *(
            Stream(f"search:{term}", SEARCH_POSTS, {"q": term, "sort": "latest"})
            for term in settings.search_terms
        ),
    ]


def gap_warning(stream: Stream, max_pages: int) -> SourceWarning:
    """Said once: more new items arrived between two polls than max_pages pages hold."""
    return SourceWarning(
        key=f"gap:{stream.key}",
        message=f"Bluesky {stream.key}: more than {max_pages} pages arrived between two polls; "
        "older items of that stretch were not read",
        fix="raise max_pages or poll this source more often",
    )


@dataclass(frozen=True)
class StreamMark:
    """Where a stream was read up to: the newest indexedAt seen and the newest URIs."""

    newest: datetime | None = None
    uris: tuple[str, ...] = ()

    @classmethod
    def from_state(cls, value: JSONValue) -> StreamMark | None:
        """The mark saved after the previous poll; None when the stream was never read."""
        if not isinstance(value, Mapping):
            return None
        uris = value.get("uris")
        kept = tuple(u for u in uris if isinstance(u, str)) if isinstance(uris, list) else ()
        return cls(parse_utc_time(value.get("newest")), kept)

    def to_state(self) -> dict[str, JSONValue]:
        """The mark as JSON."""
        newest = self.newest.isoformat().replace("+00:00", "Z") if self.newest else None
        return {"newest": newest, "uris": list(self.uris)}

    def reached(self, entries: Sequence[Entry]) -> bool:
        """Whether a page holds an item already seen, or one older than the newest seen."""
        newest = self.newest
        return any(
            uri in self.uris or (newest is not None and when is not None and when < newest)
            for uri, when in entries
        )

    def advanced(self, entries: Sequence[Entry]) -> StreamMark:
        """The mark moved on by the entries of one poll, newest URIs first."""
        times = [when for _, when in entries if when is not None]
        newest = max([*times, *([self.newest] if self.newest else [])], default=None)
        oldest = datetime.min.replace(tzinfo=UTC)
        fresh = [uri for uri, _ in sorted(entries, key=lambda e: e[1] or oldest, reverse=True)]
        return StreamMark(newest, tuple(dict.fromkeys([*fresh, *self.uris]))[:MARK_URIS])
