"""The one small Graph API client shared by the Facebook Page and Instagram connectors.

Built on facebook-sdk's `GraphAPI` (its last release, 3.1.0, accepts Graph versions only up to
3.1 in its constructor, so the version is pinned afterwards), with a timeout on every call and
cursor paging. `graph_errors` maps Graph error codes to the connectors' typed errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import facebook
import requests
from pydantic import Field

from connectors.base import (
    Clock,
    Connector,
    ConnectorError,
    Item,
    ItemKind,
    SourceUnavailable,
    network_reason,
    parse_utc_time,
    utcnow,
)
from connectors.graph_errors import Advice, graph_error
from connectors.transport import GuardedSession, Limits

FACEBOOK_HOST = "graph.facebook.com"
INSTAGRAM_HOST = "graph.instagram.com"
DEFAULT_VERSION = "v25.0"
VERSION_PATTERN = r"^v\d+\.\d+$"
MAX_PAGE_SIZE = 100

JSONObject = dict[str, Any]


class _HostSession(GuardedSession):
    """facebook-sdk hard-codes https://graph.facebook.com/: send its requests to `host` instead,
    and keep the last response so that errors can be mapped with their status and headers.
    Every response is read within the source's byte cap and poll deadline."""

    def __init__(self, host: str, limits: Limits) -> None:
        super().__init__(limits, where=host)
        self.host = host
        self.last: requests.Response | None = None

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        """Send one request (to this session's host) and remember its response."""
        base = facebook.FACEBOOK_GRAPH_URL
        if self.host != FACEBOOK_HOST and isinstance(url, str) and url.startswith(base):
            url = f"https://{self.host}/{url[len(base) :]}"
        self.last = None
        self.last = super().request(method, url, *args, **kwargs)
        return self.last


class GraphSettings(Connector.Config):
    """What every Graph API source is configured with: its token, the API version pinned,
    how many days of posts to watch, and the request timeout."""

    access_token_credential: str = Field(min_length=1)
    graph_version: str = Field(default=DEFAULT_VERSION, pattern=VERSION_PATTERN)
    lookback_days: int = Field(default=7, ge=1, le=90)
    timeout_seconds: float = Field(default=20, gt=0)


class GraphClient:
    """GET requests to one Graph host and version, with a timeout, paging and typed errors."""

    def __init__(
        self,
        access_token: str,
        *,
        advice: Advice,
        version: str = DEFAULT_VERSION,
        host: str = FACEBOOK_HOST,
        timeout: float = 20,
        clock: Clock = utcnow,
        limits: Limits | None = None,
    ) -> None:
        self.advice, self.host, self.timeout, self.clock = advice, host, timeout, clock
        self._session = _HostSession(host, limits or Limits())
        self._api = facebook.GraphAPI(
            access_token=access_token, timeout=timeout, session=self._session
        )
        # facebook-sdk 3.1.0 rejects versions above 3.1 in its constructor (falling back to
        # v2.8 when none is given): pin the current version on the client after construction.
        self._api.version = version
        self.calls = 0

    @property
    def access_token(self) -> str:
        """The token sent with every request."""
        return str(self._api.access_token)

    @access_token.setter
    def access_token(self, value: str) -> None:
        self._api.access_token = value

    def get(self, path: str, **params: Any) -> JSONObject:
        """GET /{version}/{path}: the JSON object, or a typed ConnectorError."""
        return self._request(f"{self.version}/{path.lstrip('/')}", params)

    @property
    def version(self) -> str:
        """The Graph API version every versioned path starts with (e.g. "v25.0")."""
        return str(self._api.version)

    def get_unversioned(self, path: str, **params: Any) -> JSONObject:
        """GET /{path} without a version prefix (e.g. Instagram's /refresh_access_token)."""
        return self._request(path.lstrip("/"), params)

    def pages(self, path: str, *, max_pages: int, **params: Any) -> Iterator[list[JSONObject]]:
        """The `data` of each page of an edge, following its cursors, at most `max_pages`."""
        for _ in range(max_pages):
            page = self.get(path, **params)
            yield page_data(page)
            following = next_page_params(page)
            if following is None:
                return
            params = {**params, **following}

    def recent(
        self,
        path: str,
        known: Mapping[str, Any],
        cutoff: datetime,
        time_key: str,
        *,
        max_pages: int,
        **params: Any,
    ) -> list[JSONObject]:
        """Newest objects of an edge; past the first page only until a known or old one shows.

        With nothing `known` (a first poll) only the first page is read.
        """
        pages = self.pages(path, max_pages=max_pages if known else 1, **params)
        return collect_until(
            pages, lambda page: any(seen_or_old(e, known, cutoff, time_key) for e in page)
        )

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def _request(self, path: str, params: Mapping[str, Any]) -> JSONObject:
        self.calls += 1
        try:
            result = self._api.request(path, dict(params))
        except facebook.GraphAPIError as error:
            raise self._mapped(error.result) from None
        except requests.Timeout:
            raise SourceUnavailable(f"{self.host} timed out after {self.timeout:g}s") from None
        except requests.JSONDecodeError:
            raise self._mapped(None) from None
        except requests.RequestException as error:
            reason = network_reason(error)
            raise SourceUnavailable(f"{self.host} could not be reached: {reason}") from None
        except (KeyError, ValueError):  # no Content-Type, or a body that is not what it claims
            raise self._mapped(None) from None
        status = self._session.last.status_code if self._session.last is not None else 200
        if not isinstance(result, dict) or status >= 400:
            raise self._mapped(result if isinstance(result, dict) else None)
        return result

    def _mapped(self, body: Any) -> ConnectorError:
        last = self._session.last
        return graph_error(
            body,
            status=last.status_code if last is not None else None,
            headers=dict(last.headers) if last is not None else {},
            advice=self.advice,
            host=self.host,
            now=self.clock(),
        )


# --- Paging, times and usage headers: pure functions ---------------------------------------


def with_ids(page: Iterable[JSONObject]) -> list[JSONObject]:
    """The objects of a page that have an id (nothing else can be stored or followed)."""
    return [entry for entry in page if entry.get("id")]


def collect_until(
    pages: Iterable[list[JSONObject]], stop: Callable[[list[JSONObject]], bool]
) -> list[JSONObject]:
    """The objects of successive pages, up to and including an empty page or one `stop` likes."""
    found: list[JSONObject] = []
    for page in map(with_ids, pages):
        found.extend(page)
        if not page or stop(page):
            break
    return found


def remembered(state: Mapping[str, Any], key: str) -> dict[str, JSONObject]:
    """The objects the previous poll kept under `key`, by id (an odd state reads as empty)."""
    kept = state.get(key)
    if not isinstance(kept, dict):
        return {}
    return {str(k): v for k, v in kept.items() if isinstance(v, dict)}


def newest_since(
    watched: Mapping[str, JSONObject], cutoff: datetime, limit: int
) -> dict[str, JSONObject]:
    """The entries whose "created" time is at or after `cutoff`, newest first, at most `limit`."""
    recent = [
        (created, key, entry)
        for key, entry in watched.items()
        if (created := parse_utc_time(entry.get("created"))) is not None and created >= cutoff
    ]
    recent.sort(key=lambda row: row[0], reverse=True)
    return {key: entry for _, key, entry in recent[:limit]}


def seen_or_old(
    entry: JSONObject, known: Mapping[str, Any], cutoff: datetime, time_key: str
) -> bool:
    """Whether a listed object was seen by the previous poll or predates `cutoff`."""
    created = parse_utc_time(entry.get(time_key))
    return str(entry.get("id")) in known or (created is not None and created < cutoff)


def clean_text(value: Any) -> str:
    """A text field stripped; removed or attachment-only content has none: empty, not an error."""
    return value.strip() if isinstance(value, str) else ""


def https_url(value: Any) -> str | None:
    """A permalink if it is an https URL, else None."""
    return value if isinstance(value, str) and value.startswith("https://") else None


def deleted_post(post_id: str, created: Any, account: str) -> Item:
    """A remembered post or media that Graph no longer has: marks the stored copy deleted."""
    return Item(
        external_id=post_id,
        kind=ItemKind.POST,
        text="",
        created_at=parse_utc_time(created),
        account=account,
        thread_id=post_id,
        deleted=True,
        raw={"id": post_id, "deleted": True},
    )


def unique(items: Iterable[Item]) -> tuple[Item, ...]:
    """Items with repeated external ids (overlapping pages) dropped, the first kept."""
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item.external_id, item)
    return tuple(seen.values())


def page_data(page: Mapping[str, Any]) -> list[JSONObject]:
    """The objects in a page's `data` list (anything else in it is ignored)."""
    data = page.get("data")
    return [entry for entry in data if isinstance(entry, dict)] if isinstance(data, list) else []


def next_page_params(page: Mapping[str, Any]) -> dict[str, str] | None:
    """The parameters that fetch the next page: `after` from the cursors, else those of `next`."""
    paging = page.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    if isinstance(cursors, dict) and cursors.get("after"):
        return {"after": str(cursors["after"])}
    query = parse_qs(urlsplit(str(paging["next"])).query)
    query.pop("access_token", None)
    return {key: values[-1] for key, values in query.items()} or None
