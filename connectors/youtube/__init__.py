"""Comments on the school's YouTube channel (Data API v3 over httpx): threads, replies, errors."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from connectors.base import (
    Connector,
    FetchResult,
    Item,
    JSONValue,
    SourceWarning,
)
from connectors.youtube.api import (
    API_PATH,
    DISABLED_REASONS,
    ENABLE_API,
    GONE_REASONS,
    KEY_REASONS,
    PAGE_SIZE,
    QUOTA_REASONS,
    QUOTA_RESET_MARGIN,
    RATE_REASONS,
    SHORT_BACKOFF,
    CommentsGone,
    Settings,
    YouTubeClient,
    error_reasons,
    next_quota_reset,
    raise_for_error,
    scrub,
    strip_tags,
)
from connectors.youtube.cursor import ThreadCursor
from connectors.youtube.parse import (
    ParseContext,
    _dicts,
    _published,
    _text,
    comment_author,
    comment_text,
    comment_url,
    dig,
    display_text,
    page_items,
    parse_comment,
    parse_thread,
)

__all__ = [
    "API_PATH",
    "CHANNEL_ID",
    "DISABLED_REASONS",
    "ENABLE_API",
    "GONE_REASONS",
    "KEY_REASONS",
    "PAGE_SIZE",
    "QUOTA_REASONS",
    "QUOTA_RESET_MARGIN",
    "RATE_REASONS",
    "SHORT_BACKOFF",
    "CommentsGone",
    "ParseContext",
    "Settings",
    "ThreadCursor",
    "YouTubeClient",
    "YouTubeConnector",
    "comment_author",
    "comment_text",
    "comment_url",
    "dig",
    "display_text",
    "error_reasons",
    "next_quota_reset",
    "page_items",
    "parse_comment",
    "parse_thread",
    "raise_for_error",
    "scrub",
    "strip_tags",
]

log = logging.getLogger(__name__)

CHANNEL_ID = re.compile(r"^UC[0-9A-Za-z_-]{22}$")


class YouTubeConnector(Connector):
    """Polls the comment threads on one YouTube channel, newest first, stopping at the last seen."""

    name = "youtube"
    title = "YouTube channel comments"
    default_interval_minutes = 15
    own_account = True

    class Config(Connector.Config):
        """Settings of one YouTube channel source."""

        channel_id: str
        api_key_credential: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
        base_url: str = "https://www.googleapis.com"
        timeout_seconds: float = Field(default=20, gt=0)
        max_pages: int = Field(default=5, ge=1, le=50)

        @field_validator("channel_id")
        @classmethod
        def _check_channel_id(cls, value: str) -> str:
            value = value.strip()
            if not CHANNEL_ID.match(value):
                raise ValueError(
                    "must be the channel ID (24 characters starting UC, shown in YouTube Studio"
                    " > Settings > Channel > Advanced settings), not the @handle or a URL"
                )
            return value

    settings: Config
    _api: YouTubeClient | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Read new comment threads (one page on the first poll) and their replies."""
        cursor = ThreadCursor.from_state(state)
        threads, cut_short = self._recent_threads(cursor)
        items: list[Item] = []
        reply_counts: dict[str, int] = {}
        for thread in threads:
            replies = self._replies(thread, cursor, reply_counts)
            items.extend(parse_thread(thread, channel_id=self.settings.channel_id, replies=replies))
        log.debug("source %s: %d threads, %d items", self.source_id, len(threads), len(items))
        warnings = (self._page_limit_warning(cursor),) if cut_short and cursor.newest else ()
        new_state = cursor.advanced(threads, reply_counts).as_state()
        return FetchResult(items=tuple(items), new_state=new_state, warnings=warnings)

    def probe(self) -> str:
        """One commentThreads.list call: say whether the key, the API and the channel work."""
        page = self._client().comment_threads(None, max_results=1)
        threads = page_items(page)
        where = f"YouTube channel {self.settings.channel_id}: API key accepted"
        if not threads:
            return f"{where}, no public comments yet"
        newest = _published(threads[0])
        when = f"{newest:%Y-%m-%d %H:%M} UTC" if newest else "unknown time"
        return f"{where}, comment threads readable (newest {when})"

    def close(self) -> None:
        """Close the HTTP client."""
        if self._api is not None:
            self._api.close()
            self._api = None

    def _recent_threads(self, cursor: ThreadCursor) -> tuple[list[dict[str, Any]], bool]:
        """Threads newest first up to the first page that reaches one already seen."""
        limit = self.settings.max_pages if cursor.newest else 1
        threads: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(limit):
            page = self._client().comment_threads(token)
            batch = page_items(page)
            threads.extend(batch)
            token = _text(page.get("nextPageToken"))
            if not token or any(cursor.has_seen(thread) for thread in batch):
                return threads, False
        return threads, True

    def _replies(
        self, thread: Mapping[str, Any], cursor: ThreadCursor, counts: dict[str, int]
    ) -> list[dict[str, Any]]:
        """The thread's replies: those included, or all of them when its reply count changed."""
        included = _dicts(dig(thread, "replies", "comments"))
        total, thread_id = dig(thread, "snippet", "totalReplyCount"), _text(thread.get("id"))
        if not isinstance(total, int) or total <= len(included) or not thread_id:
            return included
        counts[thread_id] = total
        if cursor.reply_counts.get(thread_id) == total:
            return included
        parent = _text(dig(thread, "snippet", "topLevelComment", "id")) or thread_id
        every = {_text(c.get("id")): c for c in [*included, *self._all_replies(parent)]}
        return [comment for comment_id, comment in every.items() if comment_id]

    def _all_replies(self, parent_id: str) -> list[dict[str, Any]]:
        """Every reply to a top-level comment (comments.list), up to `max_pages` pages."""
        replies: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(self.settings.max_pages):
            try:
                page = self._client().replies(parent_id, token)
            except CommentsGone as gone:
                log.debug(
                    "source %s: replies to %s unavailable: %s", self.source_id, parent_id, gone
                )
                break
            replies.extend(page_items(page))
            token = _text(page.get("nextPageToken"))
            if not token:
                break
        return replies

    def _page_limit_warning(self, cursor: ThreadCursor) -> SourceWarning:
        pages = self.settings.max_pages
        return SourceWarning(
            key=f"youtube-page-limit:{cursor.as_state()['newest_published_at']}",
            message=(
                f"more than {pages * PAGE_SIZE} new comment threads on YouTube channel "
                f"{self.settings.channel_id} since the last poll: older new ones were not read"
            ),
            fix="raise max_pages for this source (each page costs 1 quota unit) or poll more often",
        )

    def _client(self) -> YouTubeClient:
        if self._api is None:
            self._api = YouTubeClient(self.settings, self._api_key, self.clock)
        return self._api

    def _api_key(self) -> str:
        return self.credential(
            self.settings.api_key_credential, "YouTube API key", "docs/connectors/youtube.md"
        )
