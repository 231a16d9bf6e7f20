"""The MediaWiki Action API over httpx: query and compare, with maxlag and typed errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors.base import PermanentError, RateLimited, SourceUnavailable
from connectors.transport import Limits, guarded_client
from connectors.wikipedia.config import MISSING_ARTICLE_FIX, WikipediaConfig

MAXLAG_SECONDS = 5
PAGE_SIZE = 50
REVISION_PROPS = "ids|timestamp|user|userid|comment|size|flags|tags|sha1"
COMPARE_PROPS = "diff|ids|size|user|comment"
MAXLAG_WAIT = timedelta(seconds=MAXLAG_SECONDS)
RATE_LIMIT_WAIT = timedelta(minutes=1)
USER_AGENT_FIX = (
    "Wikimedia refused the request: make `contact` a working email address of the IT lead"
    " and keep user_agent as 'name/version (URL)' (see docs/connectors/wikipedia.md)"
)


class ApiError(PermanentError):
    """An Action API error body (`{"error": {"code": ..., "info": ...}}`)."""

    def __init__(self, message: str, *, code: str, payload: dict[str, Any]) -> None:
        super().__init__(message, fix="check the source's title and api_url")
        self.code = code
        self.payload = payload


class MediaWikiClient:
    """The two Action API calls a poll makes, one at a time, with a descriptive User-Agent."""

    def __init__(self, settings: WikipediaConfig, clock: Callable[[], datetime]) -> None:
        self.settings, self.clock = settings, clock
        agent = user_agent_header(settings.user_agent, settings.contact)
        self._http = guarded_client(
            Limits.of(settings),
            where="Wikipedia API",
            follow_redirects=False,
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


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
