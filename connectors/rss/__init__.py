"""RSS, Atom and JSON feeds (Google Alerts, WordPress comments, local news): fetch → parse → items.

`download` fetches, `parse` reads RSS and Atom (`jsonfeed` JSON Feed) into items, `text` turns
feed markup into plain text; `entries` holds what the formats share.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator

from connectors.base import (
    Connector,
    FetchResult,
    JSONValue,
    SourceUnavailable,
)
from connectors.rss.download import (
    Download,
    cache_state,
    conditional_headers,
    describe,
    raise_for_status,
    read_file_url,
    response_headers,
    retry_at_from_header,
)
from connectors.rss.entries import EntryProblem, FeedReading, public_url, unwrap_google_redirect
from connectors.rss.parse import parse_feed, read_feed
from connectors.rss.text import html_to_text
from connectors.transport import guarded_client

__all__ = [
    "RssConnector",
    "html_to_text",
    "parse_feed",
    "public_url",
    "read_feed",
    "retry_at_from_header",
    "unwrap_google_redirect",
]

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "orm-monitor/0.1 (+https://github.com/orm-monitor/orm-monitor)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
URL_SCHEMES = ("http", "https", "file")
PROBLEM_LINES = 5
"""Newly unreadable entries logged one by one per poll; any more are counted in one line."""

Kind = Literal["article", "mention", "comment", "post", "review"]


class RssConnector(Connector):
    """Polls one RSS, Atom or JSON Feed with conditional GETs (ETag / Last-Modified)."""

    name = "rss"
    title = "RSS / Atom feed"
    default_interval_minutes = 15

    class Config(Connector.Config):
        """Settings of one feed source."""

        url: str
        user_agent: str = DEFAULT_USER_AGENT
        timeout_seconds: float = Field(default=20, gt=0)
        kind: Kind | None = None
        by_school_authors: list[str] = []

        @field_validator("url")
        @classmethod
        def _check_url(cls, url: str) -> str:
            url = url.strip()
            parts = urlsplit(url)
            if parts.scheme.lower() not in URL_SCHEMES:
                raise ValueError("must be an http://, https:// or file:// URL")
            if parts.scheme.lower() != "file" and not parts.hostname:
                raise ValueError("an http(s) URL needs a host name")
            if parts.scheme.lower() == "file" and not parts.path:
                raise ValueError("a file:// URL needs a path")
            return url

    settings: Config
    _client: httpx.Client | None = None
    _known_problems: frozenset[EntryProblem] = frozenset()

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Poll the feed once; a 304 Not Modified returns no items and the same state."""
        download = self._download(state)
        if download.content is None:
            return FetchResult(items=(), new_state=download.state, not_modified=True)
        reading = self._read(download)
        log.debug(
            "source %s: %d entries from %s",
            self.source_id,
            len(reading.items),
            public_url(self.settings.url),
        )
        return FetchResult(items=reading.items, new_state=download.state)

    def probe(self) -> str:
        """Fetch the feed once and say its title and how many entries it has."""
        reading = self._read(self._download({}))
        count = len(reading.items)
        title = reading.title or "(untitled)"
        return f"feed '{title}' reachable, {count} {'entry' if count == 1 else 'entries'}"

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _read(self, download: Download) -> FeedReading:
        reading = read_feed(
            download.content or b"",
            source_url=download.url,
            config=self.settings,
            headers=download.headers,
        )
        self._report_problems(reading.problems)
        return reading

    def _report_problems(self, problems: tuple[EntryProblem, ...]) -> None:
        """Log each unreadable field once: when it first appears, not on every poll."""
        new = [problem for problem in problems if problem not in self._known_problems]
        self._known_problems = frozenset(problems)
        for problem in new[:PROBLEM_LINES]:
            log.warning(
                "source %s: %s; the rest of the feed is read", self.source_id, problem.describe()
            )
        if len(new) > PROBLEM_LINES:
            log.warning(
                "source %s: %d more entries had unreadable fields (blanked or left out)",
                self.source_id,
                len(new) - PROBLEM_LINES,
            )

    def _download(self, state: Mapping[str, JSONValue]) -> Download:
        """The feed's bytes (None when unchanged since `state`), headers and the state to save."""
        if urlsplit(self.settings.url).scheme.lower() == "file":
            content = read_file_url(self.settings.url)
            return Download(content, {}, self.settings.url, dict(state))
        response = self._get(conditional_headers(state))
        if response.status_code == 304:
            return Download(None, {}, self.settings.url, dict(state))
        raise_for_status(response, self.settings.url)
        url = str(response.url)
        return Download(response.content, response_headers(response), url, cache_state(response))

    def _get(self, headers: dict[str, str]) -> httpx.Response:
        where = public_url(self.settings.url)
        try:
            return self._http().get(self.settings.url, headers=headers)
        except httpx.TimeoutException:
            seconds = self.settings.timeout_seconds
            raise SourceUnavailable(f"{where} timed out after {seconds:g}s") from None
        except httpx.HTTPError as error:
            raise SourceUnavailable(f"{where} could not be reached: {describe(error)}") from None

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = guarded_client(
                self.limits,
                where=public_url(self.settings.url),
                timeout=httpx.Timeout(self.settings.timeout_seconds),
                headers={"User-Agent": self.settings.user_agent, "Accept": ACCEPT},
            )
        return self._client
