"""The Bluesky API layer: one atproto Client that keeps its session, and typed errors."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from atproto_client import Client, models
from atproto_client.client.session import (
    Session,
    SessionEvent,
    get_session_pds_endpoint,
)
from atproto_client.exceptions import (
    InvokeTimeoutError,
    RequestErrorBase,
)
from atproto_client.request import Request
from atproto_core.exceptions import AtProtocolError

from connectors.base import (
    AuthError,
    ConnectorError,
    JSONValue,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    network_reason,
)
from connectors.bluesky.config import BlueskyConfig
from connectors.bluesky.parse import AUTHOR_FEED, NOTIFICATIONS, SEARCH_POSTS
from connectors.transport import GuardedTransport, Limits, redirect_loop

log = logging.getLogger(__name__)

PARAMS = {
    NOTIFICATIONS: models.AppBskyNotificationListNotifications.Params,
    SEARCH_POSTS: models.AppBskyFeedSearchPosts.Params,
    AUTHOR_FEED: models.AppBskyFeedGetAuthorFeed.Params,
}
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})
ACCOUNT_GONE = frozenset({"AccountTakedown", "AccountDeactivated", "AccountSuspended"})


class BadSearchTerm(PermanentError):
    """Bluesky's search refused one search term; the other streams carry on."""


@dataclass(frozen=True)
class SavedSession:
    """The part of a session kept in the source's state so a restart need not sign in."""

    identifier: str
    did: str
    refresh_jwt: str

    @classmethod
    def from_state(cls, value: JSONValue) -> SavedSession | None:
        """The saved session, or None when the state holds none (or a malformed one)."""
        if not isinstance(value, Mapping):
            return None
        identifier, did, token = (value.get(k) for k in ("identifier", "did", "refresh_jwt"))
        if not (isinstance(identifier, str) and isinstance(did, str) and isinstance(token, str)):
            return None
        return cls(identifier, did, token) if identifier and did and token else None


class BlueskyApi:
    """The three XRPC queries the connector makes, on one Client that keeps its session."""

    def __init__(
        self, settings: BlueskyConfig, password: Callable[[], str], source_id: str
    ) -> None:
        self.settings = settings
        self.source_id = source_id
        self._password = password
        self._client: Any = None
        self._session: Any = None
        self._signed_in_this_poll = False

    @property
    def did(self) -> str:
        """The account's DID (its posts are the school's own)."""
        return str(self._session.did)

    @property
    def handle(self) -> str:
        """The account's handle as Bluesky reports it."""
        return str(self._session.handle)

    def sign_in(self, saved: SavedSession | None) -> None:
        """Keep the session we hold, else resume a saved one, else sign in with the password."""
        self._signed_in_this_poll = False
        if self._session is not None:
            return
        if saved is not None and saved.identifier == self.settings.handle and self._resume(saved):
            return
        self._login()

    def saved_session(self) -> dict[str, JSONValue]:
        """What to keep in the state: the refresh token (never the access token)."""
        session = self._session
        return {
            "identifier": self.settings.handle,
            "did": session.did,
            "refresh_jwt": session.refresh_jwt,
        }

    def query(self, nsid: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One XRPC query; a refused session is replaced once by a fresh sign-in."""
        try:
            return self._query(nsid, params)
        except AuthError as error:
            if self._signed_in_this_poll:
                raise
            log.info(
                "source %s: Bluesky refused the session (%s); signing in again",
                self.source_id,
                error,
            )
        self._forget()
        self._login()
        return self._query(nsid, params)

    def close(self) -> None:
        """Close the HTTP client and forget the session."""
        self._forget()

    def _query(self, nsid: str, params: Mapping[str, Any]) -> dict[str, Any]:
        client, model = self._http(), PARAMS[nsid]
        response = self._guarded(nsid, lambda: client.invoke_query(nsid, params=model(**params)))
        if not isinstance(response.content, dict):
            raise PermanentError(
                f"Bluesky {nsid} did not answer with JSON",
                fix="base_url must be https://bsky.social or the account's PDS",
            )
        return response.content

    def _resume(self, saved: SavedSession) -> bool:
        """Exchange the saved refresh token for a new session; False when it is refused."""
        headers = {"Authorization": f"Bearer {saved.refresh_jwt}"}
        server = self._http().com.atproto.server
        try:
            answer = self._guarded(
                "refreshSession",
                lambda: server.refresh_session(headers=headers, ignore_session_check=True),
            )
        except AuthError as error:
            log.info("source %s: saved Bluesky session refused (%s)", self.source_id, error)
            return False
        pds = get_session_pds_endpoint(answer) or self.settings.base_url
        session = Session(answer.handle, answer.did, answer.access_jwt, answer.refresh_jwt, pds)
        self._client.login(session_string=session.export(), fetch_bsky_profile=False)
        log.info("source %s: Bluesky session resumed for %s", self.source_id, answer.handle)
        return True

    def _login(self) -> None:
        try:
            password = self._password()
        except LookupError as error:
            raise AuthError(
                f"Bluesky app password not available: {error}",
                fix=f"store the app password as credential {self.settings.app_password_credential}",
            ) from None
        handle = self.settings.handle
        client = self._http()
        self._guarded(
            "createSession", lambda: client.login(handle, password, fetch_bsky_profile=False)
        )
        self._signed_in_this_poll = True

    def _forget(self) -> None:
        if self._client is not None:
            self._client.request.close()
        self._client = self._session = None

    def _http(self) -> Any:
        if self._client is None:
            limits = Limits.of(self.settings)
            request = Request(
                timeout=httpx.Timeout(self.settings.timeout_seconds),
                transport=GuardedTransport(limits, where="Bluesky"),
                max_redirects=limits.max_redirects,
            )
            self._client = Client(base_url=self.settings.base_url, request=request)
            self._client.on_session_change(self._session_changed)
        return self._client

    def _session_changed(self, event: Any, session: Any) -> None:
        self._session = session
        if event == SessionEvent.CREATE:
            log.info("source %s: signed in to Bluesky as %s", self.source_id, session.handle)
        elif event == SessionEvent.REFRESH:
            log.debug("source %s: Bluesky session refreshed", self.source_id)

    def _guarded(self, call: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except (AtProtocolError, ValueError) as error:
            raise translate(error, call, self.settings) from None
        except httpx.TooManyRedirects:
            raise redirect_loop("Bluesky", Limits.of(self.settings)) from None


def translate(error: Exception, call: str, settings: BlueskyConfig) -> ConnectorError:
    """The typed error for an atproto exception raised by `call`."""
    where = f"Bluesky {call}"
    if isinstance(error, InvokeTimeoutError):
        return SourceUnavailable(f"{where} timed out after {settings.timeout_seconds:g}s")
    if not isinstance(error, RequestErrorBase):
        return PermanentError(f"{where} failed: {type(error).__name__}: {error}")
    if error.response is None:
        return SourceUnavailable(f"{where} could not be reached: {network_reason(error)}")
    status, name, message = _error_details(error.response)
    detail = f"{where} answered HTTP {status}" + (f" {name}" if name else "")
    detail += f": {message}" if message else ""
    if status == 429:
        headers = error.response.headers or {}
        return RateLimited(detail, retry_at=rate_limit_reset(headers, now=datetime.now(UTC)))
    if status >= 500:
        return SourceUnavailable(detail)
    return _refusal(detail, status, name, settings)


def _refusal(detail: str, status: int, name: str, settings: BlueskyConfig) -> ConnectorError:
    if name == "AuthFactorTokenRequired":
        return AuthError(detail, fix="use an app password, not the account's main password")
    if name in ACCOUNT_GONE:
        return AuthError(detail, fix="sign in at bsky.app to see why the account is unavailable")
    if status == 401 or name in TOKEN_ERRORS:
        return AuthError(
            detail,
            fix=f"create a new app password for {settings.handle} (Bluesky: Settings > Privacy "
            f"and security > App passwords), store it as credential "
            f"{settings.app_password_credential} and restart",
        )
    if name == "BadQueryString":
        return BadSearchTerm(detail, fix="simplify this search term (Lucene-like query syntax)")
    if status in (403, 404):
        return PermanentError(
            detail, fix="base_url must be https://bsky.social or the account's own PDS"
        )
    return PermanentError(detail, fix="check the source's handle and search_terms")


def _error_details(response: Any) -> tuple[int, str, str]:
    content = response.content
    name = getattr(content, "error", None) or ""
    message = " ".join(str(getattr(content, "message", None) or "").split())[:200]
    return int(response.status_code), str(name), message


def rate_limit_reset(headers: Mapping[str, str], *, now: datetime) -> datetime | None:
    """When to try again: `ratelimit-reset` (Unix seconds), else `retry-after` (seconds)."""
    for key, base in (("ratelimit-reset", 0.0), ("retry-after", now.timestamp())):
        try:
            seconds = float(headers.get(key) or "")
        except ValueError:
            continue
        if seconds >= 0:
            return datetime.fromtimestamp(base + seconds, tz=UTC)
    return None
