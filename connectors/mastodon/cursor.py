"""The Mastodon cursor: the newest id seen in each stream, which never moves backwards."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connectors.base import JSONValue
from connectors.mastodon.api import Entries
from connectors.mastodon.parse import _id


@dataclass
class Cursor:
    """The newest notification id, status id per hashtag and own status id already read."""

    mentions: str | None
    hashtags: dict[str, str | None]
    own: str | None

    @classmethod
    def from_state(cls, state: Mapping[str, JSONValue], hashtags: list[str]) -> Cursor:
        """The cursor saved after the previous poll; hashtags no longer configured are dropped."""
        saved = state.get("hashtags")
        saved = saved if isinstance(saved, Mapping) else {}
        tags = {tag.casefold(): _id(saved.get(tag.casefold())) for tag in hashtags}
        return cls(_id(state.get("mentions")), tags, _id(state.get("own")))

    def as_state(self) -> dict[str, JSONValue]:
        """The cursor as JSON for the database."""
        return {"mentions": self.mentions, "hashtags": dict(self.hashtags), "own": self.own}


def id_order(value: str) -> tuple[int, str]:
    """Sort key of a Mastodon id: numbers as strings (Mastodon) or fixed-width base62 (Pleroma)."""
    return len(value), value


def newest_id(entries: Entries, current: str | None) -> str | None:
    """The largest id among `entries` and `current`: a cursor never moves backwards."""
    ids = [i for i in (_id(entry.get("id")) for entry in entries) if i]
    if current:
        ids.append(current)
    return max(ids, key=id_order, default=None)
