"""The X state between polls: the monthly read budget and each stream's since_id cursor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import JSONValue
from connectors.x.parse import _id, _post_id
from connectors.x.streams import MIN_PAGE

SEARCH_REACH = timedelta(days=7) - timedelta(hours=1)  # recent search covers the last 7 days
SNOWFLAKE_EPOCH_MS = 1288834974657


@dataclass
class Budget:
    """Posts read this calendar month (UTC) against the source's monthly limit."""

    month: str
    reads: int
    limit: int

    @classmethod
    def from_state(cls, state: Mapping[str, JSONValue], now: datetime, limit: int) -> Budget:
        """This month's count from the state; zero when the state is from an earlier month."""
        month = now.astimezone(UTC).strftime("%Y-%m")
        reads = state.get("reads") if state.get("budget_month") == month else 0
        return cls(month, reads if isinstance(reads, int) and reads > 0 else 0, limit)

    @property
    def remaining(self) -> int:
        """Posts that may still be read this month."""
        return max(self.limit - self.reads, 0)

    @property
    def spent(self) -> bool:
        """True when not even the smallest page fits in what is left."""
        return self.remaining < min(MIN_PAGE.values())

    def spend(self, posts: int) -> None:
        """Count posts read."""
        self.reads += posts

    def as_state(self) -> dict[str, JSONValue]:
        """The count as JSON for the state."""
        return {"budget_month": self.month, "reads": self.reads}


@dataclass
class Cursor:
    """One stream's position: every post up to since_id has been read.

    A catch-up longer than one poll's pages goes on next poll below until_id (the oldest post
    read so far), and moves since_id up to `newest` only once it reaches since_id.
    """

    since_id: str | None = None
    until_id: str | None = None
    newest: str | None = None
    query: str | None = None
    oldest: str | None = field(default=None, compare=False)

    @classmethod
    def from_state(cls, saved: JSONValue, *, query: str | None = None) -> Cursor:
        """The saved cursor; a fresh one when the search query has changed."""
        saved = saved if isinstance(saved, Mapping) else {}
        if saved.get("query") != query:
            return cls(query=query)
        since, until, newest = (
            _post_id(saved.get(key)) for key in ("since_id", "until_id", "newest")
        )
        return cls(since_id=since, until_id=until, newest=newest, query=query)

    @property
    def is_new(self) -> bool:
        """True until a first post was read: a first poll reads one page, no backfill."""
        return self.since_id is None and self.until_id is None and self.newest is None

    def read(self, meta: Mapping[str, Any]) -> str | None:
        """Take in one page's meta; the next_token while the catch-up goes on."""
        first = self.is_new
        self.newest = max_id(self.newest, _post_id(meta.get("newest_id")))
        self.oldest = min_id(self.oldest, _post_id(meta.get("oldest_id")))
        token = _id(meta.get("next_token"))
        if token is None or first:
            self.since_id = max_id(self.since_id, self.newest)
            self.until_id = self.newest = self.oldest = None
        return None if first else token

    def pause(self) -> None:
        """Stop a catch-up part way: the next poll goes on below the oldest post read."""
        self.until_id = min_id(self.until_id, self.oldest)

    def as_state(self) -> dict[str, JSONValue]:
        """The cursor as JSON for the state."""
        state: dict[str, JSONValue] = {"since_id": self.since_id}
        if self.until_id or self.newest:
            state.update(until_id=self.until_id, newest=self.newest)
        if self.query is not None:
            state["query"] = self.query
        return state


def posted_at(post_id: str) -> datetime:
    """When a post was made, read from its id (a snowflake: its top bits count milliseconds)."""
    return datetime.fromtimestamp(((int(post_id) >> 22) + SNOWFLAKE_EPOCH_MS) / 1000, UTC)


def max_id(a: str | None, b: str | None) -> str | None:
    """The newer of two post ids (ids grow with time)."""
    return b if a is None or (b is not None and int(b) > int(a)) else a


def min_id(a: str | None, b: str | None) -> str | None:
    """The older of two post ids."""
    return b if a is None or (b is not None and int(b) < int(a)) else a
