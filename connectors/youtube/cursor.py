"""The YouTube cursor: the newest top-level comment seen, and the ids seen at that instant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.base import JSONValue, parse_utc_time
from connectors.youtube.parse import _published, _text


@dataclass(frozen=True)
class ThreadCursor:
    """Where the last poll stopped; threads are ordered by their top-level comment's time."""

    newest: datetime | None = None
    ids_at_newest: frozenset[str] = frozenset()
    reply_counts: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: Mapping[str, JSONValue]) -> ThreadCursor:
        """The cursor saved by `as_state`; anything unreadable starts afresh."""
        ids, counts = state.get("ids_at_newest"), state.get("reply_counts")
        ids = ids if isinstance(ids, list) else []
        counts = counts if isinstance(counts, Mapping) else {}
        return cls(
            newest=parse_utc_time(state.get("newest_published_at")),
            ids_at_newest=frozenset(i for i in ids if isinstance(i, str)),
            reply_counts={str(k): v for k, v in counts.items() if isinstance(v, int)},
        )

    def has_seen(self, thread: Mapping[str, Any]) -> bool:
        """True when the thread is at or before where the last poll stopped."""
        published = _published(thread)
        if self.newest is None or published is None:
            return False
        if published == self.newest:
            return _text(thread.get("id")) in self.ids_at_newest
        return published < self.newest

    def advanced(
        self, threads: Sequence[Mapping[str, Any]], reply_counts: Mapping[str, int]
    ) -> ThreadCursor:
        """The cursor after reading `threads` (it never moves back)."""
        newest, ids = self.newest, set(self.ids_at_newest)
        for thread in threads:
            published, thread_id = _published(thread), _text(thread.get("id"))
            if published is None or not thread_id:
                continue
            if newest is None or published > newest:
                newest, ids = published, {thread_id}
            elif published == newest:
                ids.add(thread_id)
        return ThreadCursor(newest, frozenset(ids), dict(reply_counts))

    def as_state(self) -> dict[str, JSONValue]:
        """JSON for the database."""
        when = self.newest.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if self.newest else None
        return {
            "newest_published_at": when,
            "ids_at_newest": sorted(self.ids_at_newest),
            "reply_counts": dict(sorted(self.reply_counts.items())),
        }
