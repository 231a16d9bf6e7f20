"""The Wikipedia cursor: the last revision id seen (its timestamp only as a fallback)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import JSONValue


@dataclass(frozen=True)
class RevisionCursor:
    """The newest revision already turned into an item (or the baseline of the first poll)."""

    last_revid: int | None = None
    last_timestamp: str | None = None

    @classmethod
    def from_state(cls, state: Mapping[str, JSONValue]) -> RevisionCursor:
        """The cursor saved by `as_state`; anything unreadable starts afresh."""
        revid, stamp = state.get("last_revid"), state.get("last_timestamp")
        if not isinstance(revid, int) or isinstance(revid, bool) or revid <= 0:
            return cls()
        return cls(revid, stamp if isinstance(stamp, str) else None)

    def is_new(self, revision: Mapping[str, Any]) -> bool:
        """True for a revision after the saved one (the query repeats the saved one first)."""
        revid = revision.get("revid")
        return isinstance(revid, int) and (self.last_revid is None or revid > self.last_revid)

    def advanced(self, revisions: Iterable[Mapping[str, Any]]) -> RevisionCursor:
        """The cursor after reading `revisions` (it never moves back)."""
        cursor = self
        for revision in revisions:
            if cursor.is_new(revision):
                stamp = revision.get("timestamp")
                cursor = RevisionCursor(
                    revision["revid"], stamp if isinstance(stamp, str) else None
                )
        return cursor

    def as_state(self) -> dict[str, JSONValue]:
        """JSON for the database."""
        return {"last_revid": self.last_revid, "last_timestamp": self.last_timestamp}
