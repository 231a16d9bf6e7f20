"""Edits to the school's Wikipedia article (MediaWiki Action API over httpx): revisions, diffs."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from bs4 import BeautifulSoup, Tag
from pydantic import BaseModel, Field, field_validator

from connectors.base import (
    Author,
    Connector,
    FetchResult,
    Item,
    ItemKind,
    JSONValue,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    SourceWarning,
)

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://en.wikipedia.org/w/api.php"
DEFAULT_USER_AGENT = "orm-monitor/0.1 (https://github.com/orm-monitor/orm-monitor)"
MAXLAG_SECONDS = 5
PAGE_SIZE = 50
DIFF_TEXT_LIMIT = 3000
REVISION_PROPS = "ids|timestamp|user|userid|comment|size|flags|tags|sha1"
COMPARE_PROPS = "diff|ids|size|user|comment"
MAXLAG_WAIT = timedelta(seconds=MAXLAG_SECONDS)
RATE_LIMIT_WAIT = timedelta(minutes=1)
DIFF_UNAVAILABLE = {
    "missingcontent": "the text of this edit or of the one before it is hidden",
    "nosuchrevid": "the revision has been deleted",
    "baddiff": "Wikipedia could not produce the diff",
}
MISSING_ARTICLE_FIX = (
    "check the source's title: copy it from the article's address, the part after /wiki/"
)
USER_AGENT_FIX = (
    "Wikimedia refused the request: make `contact` a working email address of the IT lead"
    " and keep user_agent as 'name/version (URL)' (see docs/connectors/wikipedia.md)"
)
CONTACT = r"^([^\s@();<>]+@[^\s@();<>]+\.[^\s@();<>]+|https?://[^\s();<>]+)$"


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class WikipediaConnector(Connector):
    """Watches one Wikipedia article: each new revision becomes an edit item with its diff."""

    name = "wikipedia"
    title = "Wikipedia article edits"
    default_interval_minutes = 60
    own_account = False  # nobody replies to a Wikipedia edit: no reply window opens

    class Config(Connector.Config):
        """Settings of one watched article."""

        title: str
        api_url: str = Field(
            default=DEFAULT_API_URL, pattern=r"^https?://[^/\s]+(/[^\s]*)?/api\.php$"
        )
        user_agent: str = Field(default=DEFAULT_USER_AGENT, pattern=r"^[\x21-\x7e][\x20-\x7e]*$")
        contact: str = Field(pattern=CONTACT)
        large_removal_bytes: int = Field(default=2000, ge=1)
        timeout_seconds: float = Field(default=20, gt=0)
        max_pages: int = Field(default=2, ge=1, le=20)

        @field_validator("title")
        @classmethod
        def _check_title(cls, value: str) -> str:
            value = value.strip()
            if not value or "|" in value or value.lower().startswith(("http:", "https:")):
                raise ValueError("must be one article's title (the part after /wiki/), not a URL")
            return value

    def __init__(
        self,
        source_id: str,
        config: BaseModel,
        secrets: Callable[[str], str],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(source_id, config, secrets)
        self.settings = _as_config(config)
        self.clock = clock
        self._api: MediaWikiClient | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """New revisions since the saved one; the first poll only saves the latest revision."""
        cursor = RevisionCursor.from_state(state)
        if cursor.last_revid is None:
            body = self._client().latest_revision(self.settings.title)
            baseline = cursor.advanced(page_revisions(query_page(body, self.settings.title)))
            log.info("source %s: watching from revision %s", self.source_id, baseline.last_revid)
            return FetchResult((), baseline.as_state(), warnings=tuple(redirect_warnings(body)))
        body, page, revisions = self._revisions_since(cursor)
        sizes = {r["revid"]: r["size"] for r in revisions if _ints(r, "revid", "size")}
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
        when = parse_time(latest.get("timestamp"))
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


def _as_config(config: BaseModel) -> WikipediaConnector.Config:
    if isinstance(config, WikipediaConnector.Config):
        return config
    return WikipediaConnector.Config.model_validate(config.model_dump())


# --- Cursor: the last revision id seen (its timestamp only as a fallback) ------------------


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


# --- HTTP: query and compare, with maxlag and typed errors ---------------------------------


class ApiError(PermanentError):
    """An Action API error body (`{"error": {"code": ..., "info": ...}}`)."""

    def __init__(self, message: str, *, code: str, payload: dict[str, Any]) -> None:
        super().__init__(message, fix="check the source's title and api_url")
        self.code = code
        self.payload = payload


class MediaWikiClient:
    """The two Action API calls a poll makes, one at a time, with a descriptive User-Agent."""

    def __init__(self, settings: WikipediaConnector.Config, clock: Callable[[], datetime]) -> None:
        self.settings, self.clock = settings, clock
        agent = user_agent_header(settings.user_agent, settings.contact)
        self._http = httpx.Client(
            timeout=httpx.Timeout(settings.timeout_seconds),
            headers={"User-Agent": agent, "Accept": "application/json"},
        )

    def latest_revision(self, title: str) -> dict[str, Any]:
        """The article's newest revision (one row)."""
        return self._get({**_revision_query(title), "rvlimit": "1"}, f"revisions of {title!r}")

    def revisions(
        self, title: str, start: Mapping[str, str], follow: Mapping[str, str]
    ) -> dict[str, Any]:
        """One page of revisions, oldest first, from `start` (rvstartid or rvstart)."""
        params = {**_revision_query(title), "rvdir": "newer", "rvlimit": str(PAGE_SIZE)}
        return self._get({**params, **start, **follow}, f"revisions of {title!r}")

    def compare(self, parent_id: int, revid: int) -> dict[str, Any]:
        """The HTML diff table of one edit (from the empty page for a page creation)."""
        params = {"action": "compare", "prop": COMPARE_PROPS}
        if parent_id:
            params.update(fromrev=str(parent_id), torev=str(revid))
        else:
            params.update(fromrev=str(revid), torelative="prev")
        return self._get(params, f"diff of revision {revid}")

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _get(self, params: dict[str, str], what: str) -> dict[str, Any]:
        query = {**params, "format": "json", "formatversion": "2", "maxlag": str(MAXLAG_SECONDS)}
        where = f"Wikipedia API {what}"
        try:
            response = self._http.get(self.settings.api_url, params=query)
        except httpx.TimeoutException:
            seconds = self.settings.timeout_seconds
            raise SourceUnavailable(f"{where} timed out after {seconds:g}s") from None
        except httpx.HTTPError as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            raise SourceUnavailable(f"{where} could not be reached: {reason}") from None
        return read_response(response, where, now=self.clock())


def _revision_query(title: str) -> dict[str, str]:
    query = {"action": "query", "prop": "revisions", "titles": title}
    return {**query, "rvprop": REVISION_PROPS, "redirects": "1"}


def read_response(response: httpx.Response, where: str, *, now: datetime) -> dict[str, Any]:
    """The JSON body of a 2xx answer; typed errors for everything else."""
    status = response.status_code
    retry_at = retry_at_from_header(response.headers.get("retry-after"), now=now)
    if status == 429:
        raise RateLimited(
            f"{where}: HTTP 429 too many requests", retry_at=retry_at or now + RATE_LIMIT_WAIT
        )
    body = _json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("code") in ("maxlag", "ratelimited"):
        raise api_error(body, where, retry_at=retry_at, now=now)
    if status >= 500:
        raise SourceUnavailable(f"{where}: HTTP {status} server error", retry_at=retry_at)
    if status == 403:
        raise PermanentError(f"{where}: HTTP 403 forbidden", fix=USER_AGENT_FIX)
    if status >= 400:
        raise PermanentError(f"{where}: HTTP {status}", fix="check the source's api_url")
    if not isinstance(body, dict):
        raise PermanentError(f"{where} returned a body that is not JSON", fix="check api_url")
    if isinstance(error, dict):
        raise api_error(body, where, retry_at=retry_at, now=now)
    return body


def api_error(
    body: dict[str, Any], where: str, *, retry_at: datetime | None, now: datetime
) -> PermanentError | RateLimited:
    """The typed error for an Action API error body."""
    error = body["error"]
    code, info = str(error.get("code") or "unknown"), " ".join(str(error.get("info", "")).split())
    said = f"{where}: {code}: {info}" if info else f"{where}: {code}"
    if code == "maxlag":
        lag = error.get("lag")
        waited = timedelta(seconds=max(float(lag), MAXLAG_SECONDS)) if _number(lag) else MAXLAG_WAIT
        return RateLimited(said, retry_at=retry_at or now + waited)
    if code == "ratelimited":
        return RateLimited(said, retry_at=retry_at or now + RATE_LIMIT_WAIT)
    if code in ("missingtitle", "invalidtitle"):
        return PermanentError(f"{said} (no article with that title)", fix=MISSING_ARTICLE_FIX)
    return ApiError(said, code=code, payload=body)


def retry_at_from_header(value: str | None, *, now: datetime) -> datetime | None:
    """When a Retry-After header (delay in seconds or an HTTP-date) says to try again."""
    value = (value or "").strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def user_agent_header(user_agent: str, contact: str) -> str:
    """`name/version (info; contact) httpx/version`, the format Wikimedia's policy asks for."""
    agent = user_agent.strip()
    agent = f"{agent[:-1]}; {contact})" if agent.endswith(")") else f"{agent} ({contact})"
    return f"{agent} httpx/{httpx.__version__}"


def index_url(api_url: str) -> str:
    """The wiki's index.php next to its api.php (where diffs are shown)."""
    return api_url[: -len("api.php")] + "index.php"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


# --- Parsing: pure functions from payloads to items ----------------------------------------


@dataclass(frozen=True)
class EditContext:
    """What every edit item of one poll shares."""

    page_title: str
    index_url: str
    large_removal_bytes: int


def query_page(body: Mapping[str, Any], title: str) -> dict[str, Any]:
    """The one page of a query answer; PermanentError when the article does not exist."""
    pages = body.get("query", {}).get("pages") if isinstance(body.get("query"), dict) else None
    page = pages[0] if isinstance(pages, list) and pages and isinstance(pages[0], dict) else None
    if page is None:
        raise PermanentError(f"Wikipedia answered without the page {title!r}", fix="check api_url")
    if page.get("missing") or page.get("invalid"):
        reason = " ".join(str(page.get("invalidreason") or "").split())
        raise PermanentError(
            f"Wikipedia has no article with that title: {title!r}"
            + (f" ({reason})" if reason else ""),
            fix=MISSING_ARTICLE_FIX,
        )
    return page


def page_revisions(page: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The page's revision rows that carry a revision id."""
    rows = page.get("revisions")
    rows = rows if isinstance(rows, list) else []
    return [r for r in rows if isinstance(r, dict) and _ints(r, "revid")]


def continue_params(body: Mapping[str, Any]) -> dict[str, str]:
    """The `continue` values to send with the next request; empty when done."""
    follow = body.get("continue")
    return {str(k): str(v) for k, v in follow.items()} if isinstance(follow, dict) else {}


def redirect_warnings(body: Mapping[str, Any]) -> Iterable[SourceWarning]:
    """One warning per redirect the query followed (the article was moved or merged)."""
    query = body.get("query")
    redirects = query.get("redirects") if isinstance(query, dict) else None
    for hop in redirects if isinstance(redirects, list) else []:
        old, new = hop.get("from"), hop.get("to")
        yield SourceWarning(
            key=f"wikipedia-redirect:{old}->{new}",
            message=f"the Wikipedia article {old!r} now redirects to {new!r}: watching {new!r}",
            fix=f"set title = {new!r} for this source",
        )


def parse_edit(
    revision: Mapping[str, Any],
    compare: Mapping[str, Any] | None,
    *,
    context: EditContext,
    parent_size: int | None,
) -> Item:
    """One revision (and its compare answer) as an edit item."""
    revid, parentid = revision["revid"], int(revision.get("parentid") or 0)
    size = revision.get("size")
    change = size - parent_size if isinstance(size, int) and parent_size is not None else None
    flags = worth_a_look(revision, change, context.large_removal_bytes)
    details = {k: v for k, v in (compare or {}).get("compare", {}).items() if k != "body"}
    userid = revision.get("userid")
    user = revision.get("user") if not revision.get("userhidden") else None
    return Item(
        external_id=str(revid),
        kind=ItemKind.EDIT,
        text=edit_text(revision, compare, change, flags),
        created_at=parse_time(revision.get("timestamp")),
        url=edit_url(context.index_url, revid, parentid),
        author=Author(
            id=str(userid) if isinstance(userid, int) and userid > 0 else None,
            handle=user,
            display_name=user,
        ),
        title=context.page_title,
        thread_id=context.page_title,
        deleted=text_hidden(revision),
        raw={
            "revision": dict(revision),
            "compare": details or None,
            "diff_error": (compare or {}).get("error"),
            "size_change": change,
            "worth_a_look": flags,
        },
    )


def worth_a_look(revision: Mapping[str, Any], change: int | None, threshold: int) -> list[str]:
    """Why staff should look: "large_removal" and/or "unregistered"."""
    flags = []
    if change is not None and change <= -threshold:
        flags.append("large_removal")
    if is_unregistered(revision):
        flags.append("unregistered")
    return flags


def is_unregistered(revision: Mapping[str, Any]) -> bool:
    """An IP editor or a temporary account (a hidden user is not known to be either)."""
    if revision.get("userhidden"):
        return False
    userid = revision.get("userid")
    return bool(revision.get("anon") or revision.get("temp")) or not userid


def text_hidden(revision: Mapping[str, Any]) -> bool:
    """True when Wikipedia has hidden the revision's text (revision deletion)."""
    return bool(revision.get("texthidden") or revision.get("sha1hidden"))


def parent_size(
    revision: Mapping[str, Any], compare: Mapping[str, Any] | None, sizes: Mapping[int, int]
) -> int | None:
    """The size of the revision before this one: from the diff, the list, or 0 for a new page."""
    from_size = (compare or {}).get("compare", {}).get("fromsize")
    if isinstance(from_size, int):
        return from_size
    parentid = revision.get("parentid")
    return 0 if not parentid else sizes.get(parentid)


def edit_text(
    revision: Mapping[str, Any],
    compare: Mapping[str, Any] | None,
    change: int | None,
    flags: list[str],
) -> str:
    """Flags first ("[large removal: -5,320 bytes]"), then summary, tags and the diff."""
    lines = []
    if "large_removal" in flags:
        lines.append(f"[large removal: {change:,} bytes]")
    if "unregistered" in flags:
        kind = " (temporary account)" if revision.get("temp") else ""
        lines.append(f"[edit by an unregistered user{kind}]")
    if revision.get("userhidden"):
        lines.append("[the editor's username is hidden]")
    if text_hidden(revision):
        by = (
            "Wikipedia's oversighters" if revision.get("suppressed") else "Wikipedia administrators"
        )
        lines.append(f"[content hidden: {by} removed this revision's text from public view]")
    summary = "(hidden)" if revision.get("commenthidden") else revision.get("comment") or "(none)"
    lines.append(f"Edit summary: {summary}")
    tags = revision.get("tags")
    if isinstance(tags, list) and tags:
        lines.append("Tags: " + ", ".join(str(tag) for tag in tags))
    if compare is not None:
        lines.append(diff_section(compare))
    return "\n".join(lines)


def diff_section(compare: Mapping[str, Any]) -> str:
    """The added and removed text of a compare answer, or why there is none."""
    error = compare.get("error")
    if isinstance(error, dict):
        code = str(error.get("code"))
        return f"[diff unavailable: {DIFF_UNAVAILABLE.get(code, code)}]"
    body = compare.get("compare", {}).get("body")
    return diff_summary(*diff_changes(body if isinstance(body, str) else ""))


def diff_changes(body: str) -> tuple[list[str], list[str]]:
    """Added and removed fragments of a diff table: changed words, else whole lines."""
    soup = BeautifulSoup(body, "html.parser")
    added = [_changed(cell, "ins") for cell in soup.select("td.diff-addedline")]
    removed = [_changed(cell, "del") for cell in soup.select("td.diff-deletedline")]
    return [text for text in added if text], [text for text in removed if text]


def _changed(cell: Tag, mark: str) -> str:
    marked = [_squash(tag.get_text()) for tag in cell.find_all(mark)]
    row = cell.find_parent("tr")
    paired = row is not None and bool(
        row.select("td.diff-deletedline") and row.select("td.diff-addedline")
    )
    if marked or paired:  # a changed line: only its marked words were added or removed
        return " … ".join(text for text in marked if text)
    marker = cell.find_previous_sibling("td", class_="diff-marker")
    if marker is not None and marker.find("a", class_=re.compile("^mw-diff-movedpara")):
        return ""  # a paragraph moved unchanged: neither added nor removed
    return _squash(cell.get_text())


def diff_summary(added: list[str], removed: list[str], limit: int = DIFF_TEXT_LIMIT) -> str:
    """An "Added: …" and a "Removed: …" line, each capped at half of `limit` characters."""
    if not added and not removed:
        return "No text added or removed (formatting or a moved paragraph)"
    lines = []
    for label, parts in (("Added", added), ("Removed", removed)):
        if parts:
            lines.append(f"{label}: {_capped(' | '.join(parts), limit // 2)}")
    return "\n".join(lines)


def edit_url(index: str, revid: int, parentid: int) -> str:
    """The diff page of an edit (the revision itself for a page creation)."""
    return f"{index}?diff={revid}&oldid={parentid}" if parentid else f"{index}?oldid={revid}"


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp ("2026-06-01T08:12:44Z") as an aware UTC datetime."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _squash(text: str) -> str:
    return " ".join(text.split())


def _ints(row: Mapping[str, Any], *keys: str) -> bool:
    return all(isinstance(row.get(k), int) and not isinstance(row.get(k), bool) for k in keys)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
