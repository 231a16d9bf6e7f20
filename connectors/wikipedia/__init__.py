"""Edits to the school's Wikipedia article (MediaWiki Action API over httpx): revisions, diffs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from connectors.base import (
    Connector,
    FetchResult,
    Item,
    JSONValue,
    RateLimited,
    parse_utc_time,
)
from connectors.wikipedia.api import (
    COMPARE_PROPS,
    MAXLAG_SECONDS,
    MAXLAG_WAIT,
    PAGE_SIZE,
    RATE_LIMIT_WAIT,
    REVISION_PROPS,
    USER_AGENT_FIX,
    ApiError,
    MediaWikiClient,
    api_error,
    index_url,
    read_response,
    retry_at_from_header,
    user_agent_header,
)
from connectors.wikipedia.config import (
    CONTACT,
    DEFAULT_API_URL,
    DEFAULT_USER_AGENT,
    MISSING_ARTICLE_FIX,
    WikipediaConfig,
)
from connectors.wikipedia.cursor import RevisionCursor
from connectors.wikipedia.diff import (
    DIFF_TEXT_LIMIT,
    DIFF_UNAVAILABLE,
    diff_changes,
    diff_section,
    diff_summary,
)
from connectors.wikipedia.parse import (
    EditContext,
    continue_params,
    edit_text,
    edit_url,
    has_ints,
    is_unregistered,
    page_revisions,
    parent_size,
    parse_edit,
    query_page,
    redirect_warnings,
    text_hidden,
    worth_a_look,
)

__all__ = [
    "COMPARE_PROPS",
    "CONTACT",
    "DEFAULT_API_URL",
    "DEFAULT_USER_AGENT",
    "DIFF_TEXT_LIMIT",
    "DIFF_UNAVAILABLE",
    "MAXLAG_SECONDS",
    "MAXLAG_WAIT",
    "MISSING_ARTICLE_FIX",
    "PAGE_SIZE",
    "RATE_LIMIT_WAIT",
    "REVISION_PROPS",
    "USER_AGENT_FIX",
    "ApiError",
    "EditContext",
    "MediaWikiClient",
    "RevisionCursor",
    "WikipediaConfig",
    "WikipediaConnector",
    "api_error",
    "continue_params",
    "diff_changes",
    "diff_section",
    "diff_summary",
    "edit_text",
    "edit_url",
    "index_url",
    "is_unregistered",
    "page_revisions",
    "parent_size",
    "parse_edit",
    "query_page",
    "read_response",
    "redirect_warnings",
    "retry_at_from_header",
    "text_hidden",
    "user_agent_header",
    "worth_a_look",
]

log = logging.getLogger(__name__)


class WikipediaConnector(Connector):
    """Watches one Wikipedia article: each new revision becomes an edit item with its diff."""

    name = "wikipedia"
    title = "Wikipedia article edits"
    default_interval_minutes = 60
    own_account = False  # nobody replies to a Wikipedia edit: no reply window opens

    class Config(WikipediaConfig):
        """Settings of one watched article."""

    settings: Config
    _api: MediaWikiClient | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """New revisions since the saved one; the first poll only saves the latest revision."""
        cursor = RevisionCursor.from_state(state)
        if cursor.last_revid is None:
            body = self._client().latest_revision(self.settings.title)
            baseline = cursor.advanced(page_revisions(query_page(body, self.settings.title)))
            log.info("source %s: watching from revision %s", self.source_id, baseline.last_revid)
            return FetchResult((), baseline.as_state(), warnings=tuple(redirect_warnings(body)))
        body, page, revisions = self._revisions_since(cursor)
        sizes = {r["revid"]: r["size"] for r in revisions if has_ints(r, "revid", "size")}
        context = EditContext(
            page_title=str(page.get("title") or self.settings.title),
            index_url=index_url(self.settings.api_url),
            large_removal_bytes=self.settings.large_removal_bytes,
        )
        items = self._edits([r for r in revisions if cursor.is_new(r)], context, sizes)
        log.debug("source %s: %d new edits", self.source_id, len(items))
        done = {item.external_id for item in items}
        new_cursor = cursor.advanced(r for r in revisions if str(r["revid"]) in done)
        return FetchResult(items, new_cursor.as_state(), warnings=tuple(redirect_warnings(body)))

    def probe(self) -> str:
        """One query for the latest revision: say whether the article can be read."""
        page = query_page(self._client().latest_revision(self.settings.title), self.settings.title)
        latest = next(iter(page_revisions(page)), {})
        when = parse_utc_time(latest.get("timestamp"))
        stamp = f"{when:%Y-%m-%d %H:%M} UTC" if when else "unknown time"
        who = latest.get("user") or "a hidden user"
        return (
            f"Wikipedia article '{page.get('title')}' readable: latest edit {stamp} by {who}"
            f" (revision {latest.get('revid')})"
        )

    def close(self) -> None:
        """Close the HTTP client."""
        if self._api is not None:
            self._api.close()
            self._api = None

    def _revisions_since(
        self, cursor: RevisionCursor
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """Revisions from the saved one on, oldest first, up to `max_pages` pages."""
        try:
            return self._read_pages({"rvstartid": str(cursor.last_revid)})
        except ApiError as error:
            if error.code != "badid_rvstartid" or not cursor.last_timestamp:
                raise
        log.warning(
            "source %s: revision %s no longer exists; reading edits since %s instead",
            self.source_id,
            cursor.last_revid,
            cursor.last_timestamp,
        )
        return self._read_pages({"rvstart": cursor.last_timestamp})

    def _read_pages(
        self, start: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        first: dict[str, Any] | None = None
        page: dict[str, Any] = {}
        revisions: list[dict[str, Any]] = []
        follow: dict[str, str] = {}
        for _ in range(self.settings.max_pages):
            body = self._client().revisions(self.settings.title, start, follow)
            first = first or body
            page = query_page(body, self.settings.title)
            revisions.extend(page_revisions(page))
            follow = continue_params(body)
            if not follow:
                break
        else:
            log.debug("source %s: more edits pending; next poll goes on", self.source_id)
        return first or {}, page, revisions

    def _edits(
        self, revisions: list[dict[str, Any]], context: EditContext, sizes: dict[int, int]
    ) -> tuple[Item, ...]:
        """Edit items oldest first; a rate limit after some diffs keeps those for this poll."""
        items: list[Item] = []
        for revision in revisions:
            try:
                items.append(self._edit(revision, context, sizes))
            except RateLimited:
                if not items:
                    raise
                log.warning(
                    "source %s: rate limited after %d diffs; the rest follow next poll",
                    self.source_id,
                    len(items),
                )
                break
        return tuple(items)

    def _edit(self, revision: dict[str, Any], context: EditContext, sizes: dict[int, int]) -> Item:
        compare = None if text_hidden(revision) else self._compare(revision)
        before = parent_size(revision, compare, sizes)
        return parse_edit(revision, compare, context=context, parent_size=before)

    def _compare(self, revision: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self._client().compare(int(revision.get("parentid") or 0), revision["revid"])
        except ApiError as error:
            if error.code not in DIFF_UNAVAILABLE:
                raise
            log.debug("source %s: no diff for %s: %s", self.source_id, revision["revid"], error)
            return error.payload

    def _client(self) -> MediaWikiClient:
        if self._api is None:
            self._api = MediaWikiClient(self.settings, self.clock)
        return self._api
