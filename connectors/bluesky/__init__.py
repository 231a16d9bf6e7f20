"""Bluesky (AT Protocol): mentions of and replies to the school's account, and name searches."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from connectors.base import (
    Connector,
    FetchResult,
    Item,
    JSONValue,
    SourceWarning,
)
from connectors.bluesky.api import (
    ACCOUNT_GONE,
    PARAMS,
    TOKEN_ERRORS,
    BadSearchTerm,
    BlueskyApi,
    SavedSession,
    rate_limit_reset,
    translate,
)
from connectors.bluesky.config import DEFAULT_BASE_URL, BlueskyConfig
from connectors.bluesky.cursor import MARK_URIS, Stream, StreamMark, gap_warning, streams
from connectors.bluesky.parse import (
    AUTHOR_FEED,
    NOTIFICATION_KINDS,
    NOTIFICATIONS,
    POST_COLLECTION,
    SEARCH,
    SEARCH_POSTS,
    Entry,
    page_entries,
    parse_author_feed,
    parse_notifications,
    parse_page,
    parse_search,
    post_item,
    post_url,
)

__all__ = [
    "ACCOUNT_GONE",
    "AUTHOR_FEED",
    "DEFAULT_BASE_URL",
    "MARK_URIS",
    "NOTIFICATIONS",
    "NOTIFICATION_KINDS",
    "PARAMS",
    "POST_COLLECTION",
    "SEARCH",
    "SEARCH_POSTS",
    "TOKEN_ERRORS",
    "BadSearchTerm",
    "BlueskyApi",
    "BlueskyConfig",
    "BlueskyConnector",
    "Entry",
    "SavedSession",
    "Stream",
    "StreamMark",
    "gap_warning",
    "page_entries",
    "parse_author_feed",
    "parse_notifications",
    "parse_page",
    "parse_search",
    "post_item",
    "post_url",
    "rate_limit_reset",
    "streams",
    "translate",
]

log = logging.getLogger(__name__)


class BlueskyConnector(Connector):
    """Polls one Bluesky account's mentions and replies, its own posts, and name searches."""

    name = "bluesky"
    title = "Bluesky"
    default_interval_minutes = 10
    own_account = True
    search_accounts = frozenset({SEARCH})

    class Config(BlueskyConfig):
        """Settings of one Bluesky account."""

    settings: Config
    _api: BlueskyApi | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Read each stream from its newest page back to where the last poll stopped."""
        api = self._signed_in(state)
        previous = state.get("streams")
        marks = previous if isinstance(previous, Mapping) else {}
        items: dict[str, Item] = {}
        new_marks: dict[str, JSONValue] = {}
        warnings: list[SourceWarning] = []
        for stream in streams(self.settings, api.did):
            saved = StreamMark.from_state(marks.get(stream.key))
            try:
                pages, gap = self._read(api, stream, saved)
            except BadSearchTerm as error:
                warnings.append(SourceWarning(f"refused:{stream.key}", str(error), error.fix))
                continue
            for page in pages:
                for item in parse_page(stream.nsid, page, api.did):
                    items.setdefault(item.external_id, item)
            entries = [entry for page in pages for entry in page_entries(stream.nsid, page)]
            new_marks[stream.key] = (saved or StreamMark()).advanced(entries).to_state()
            if gap:
                warnings.append(gap_warning(stream, self.settings.max_pages))
        log.debug("source %s: %d Bluesky items", self.source_id, len(items))
        new_state = {"session": api.saved_session(), "streams": new_marks}
        return FetchResult(tuple(items.values()), new_state, warnings=tuple(warnings))

    def probe(self) -> str:
        """Sign in, read the latest notification, and say which account answered."""
        api = self._signed_in({})
        api.query(NOTIFICATIONS, {"reasons": list(NOTIFICATION_KINDS), "limit": 1})
        terms = len(self.settings.search_terms)
        return (
            f"signed in as @{api.handle} ({api.did}); notifications readable; "
            f"{terms} search term{'' if terms == 1 else 's'}"
        )

    def close(self) -> None:
        """Close the HTTP client (the session is lost; the saved refresh token resumes it)."""
        if self._api is not None:
            self._api.close()
            self._api = None

    def _signed_in(self, state: Mapping[str, JSONValue]) -> BlueskyApi:
        if self._api is None:
            credential = self.settings.app_password_credential
            self._api = BlueskyApi(self.settings, lambda: self.secrets(credential), self.source_id)
        self._api.sign_in(SavedSession.from_state(state.get("session")))
        return self._api

    def _read(
        self, api: BlueskyApi, stream: Stream, mark: StreamMark | None
    ) -> tuple[list[Mapping[str, Any]], bool]:
        """Pages newest first until the mark is reached; True as well when pages ran out first."""
        pages: list[Mapping[str, Any]] = []
        cursor: str | None = None
        for _ in range(self.settings.max_pages if mark is not None else 1):
            params = {**stream.params, "limit": self.settings.page_size, "cursor": cursor}
            page = api.query(stream.nsid, params)
            pages.append(page)
            entries, cursor = page_entries(stream.nsid, page), page.get("cursor")
            if not entries or not isinstance(cursor, str) or not cursor:
                return pages, False
            if mark is not None and mark.reached(entries):
                return pages, False
        if mark is not None:
            log.warning(
                "source %s: Bluesky %s: new items beyond max_pages", self.source_id, stream.key
            )
        return pages, mark is not None
