"""The Mastodon.py calls the connector makes, with Mastodon's errors mapped to typed ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from connectors.base import (
    AuthError,
    ConnectorError,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    network_reason,
    parse_utc_time,
)
from connectors.mastodon.config import MastodonSettings
from connectors.transport import GuardedSession, Limits

PAGE_SIZE = 40  # the most Mastodon returns per page of statuses or notifications
USER_AGENT = "orm-monitor/0.1 (+https://github.com/orm-monitor/orm-monitor)"
SCOPES = "read:statuses, read:notifications and read:accounts"

Entries = list[dict[str, Any]]


class MastodonClient:
    """Mastodon.py configured never to sleep, with a timeout, and the raw JSON of each response."""

    def __init__(self, settings: MastodonSettings, token: str) -> None:
        self.settings = settings
        self.host = urlsplit(settings.api_base_url).hostname or settings.api_base_url
        self._last: requests.Response | None = None
        self._session = GuardedSession(Limits.of(settings), where=self.host)
        self._session.hooks["response"].append(self._keep)
        self._api = Mastodon(
            access_token=token,
            api_base_url=settings.api_base_url,
            ratelimit_method="throw",  # the default "wait" sleeps inside the job
            request_timeout=settings.timeout_seconds,
            version_check_mode="none",  # no /api/v1/instance request on construction
            session=self._session,
            user_agent=USER_AGENT,
        )

    def mentions(self, since: str | None) -> Entries:
        """Mention notifications newer than notification id `since` (newest first)."""
        return self._page(
            "mentions",
            lambda: self._api.notifications(types=["mention"], min_id=since, limit=PAGE_SIZE),
        )

    def hashtag(self, tag: str, since: str | None = None) -> Entries:
        """Statuses tagged #tag newer than status id `since`; none when the tag is unknown."""
        try:
            return self._page(
                f"#{tag}", lambda: self._api.timeline_hashtag(tag, min_id=since, limit=PAGE_SIZE)
            )
        except HashtagUnknown:
            return []

    def own_statuses(self, since: str | None) -> Entries:
        """The school account's statuses newer than `since`, boosts left out."""
        account = self.settings.account_id
        return self._page(
            "own statuses",
            lambda: self._api.account_statuses(
                account, exclude_reblogs=True, min_id=since, limit=PAGE_SIZE
            ),
        )

    def me(self) -> dict[str, Any]:
        """The account the token belongs to (verify_credentials)."""
        payload = self._call("verify_credentials", self._api.account_verify_credentials)
        if not isinstance(payload, dict):
            raise PermanentError(f"{self.host} answered verify_credentials with no account")
        return payload

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def _keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last = response

    def _page(self, what: str, request: Callable[[], object]) -> Entries:
        payload = self._call(what, request)
        if not isinstance(payload, list):
            raise PermanentError(f"{self.host} answered {what} with something other than a list")
        return [entry for entry in payload if isinstance(entry, dict)]

    def _call(self, what: str, request: Callable[[], object]) -> Any:
        """Run one Mastodon.py call; return the JSON body exactly as the server sent it."""
        self._last = None
        try:
            request()
        except MastodonError as error:
            raise self._mapped(what, error) from None
        try:
            return self._last.json() if self._last is not None else None
        except ValueError:
            raise PermanentError(f"{self.host} answered {what} with invalid JSON") from None

    def _mapped(self, what: str, error: MastodonError) -> ConnectorError:
        status = self._last.status_code if self._last is not None else None
        where = f"{self.host} ({what})"
        if isinstance(error.__context__, ConnectorError):  # the transport's cap or deadline
            return error.__context__
        if isinstance(error, MastodonRatelimitError) or status == 429:
            reset = self._last.headers.get("X-RateLimit-Reset") if self._last is not None else None
            return RateLimited(f"{where}: rate limit reached", retry_at=reset_time(reset))
        if isinstance(error, MastodonNetworkError):
            return SourceUnavailable(f"{where} could not be reached: {_network_reason(error)}")
        if isinstance(error, MastodonServerError) or (status or 0) >= 500:
            return SourceUnavailable(f"{where} answered HTTP {status}: a server error")
        if isinstance(error, MastodonUnauthorizedError) or status in (401, 403):
            return self._refused(where, status, _server_says(self._last))
        if status is not None and status < 300:
            return PermanentError(
                f"{where} did not answer with Mastodon's JSON",
                fix="check api_base_url is the address of the school's Mastodon instance",
            )
        if isinstance(error, MastodonNotFoundError):
            if what.startswith("#"):
                return HashtagUnknown(where)
            return PermanentError(f"{where} answered HTTP 404", fix=self._not_found_fix())
        return PermanentError(f"{where} failed: HTTP {status} {_server_says(self._last)}".rstrip())

    def _refused(self, where: str, status: int | None, says: str) -> AuthError:
        message = f"{where} answered HTTP {status}"
        store = f"store it as credential {self.settings.access_token_credential} and restart"
        if status == 403:
            fix = f"create a token with the scopes {SCOPES}, {store}"
            return AuthError(f"{message}: {says or 'the token lacks a scope'}", fix=fix)
        fix = (
            "the token was revoked or is for another instance: create a new one under"
            f" Preferences > Development on {self.host}, {store}"
        )
        return AuthError(f"{message}: {says or 'the access token is invalid'}", fix=fix)

    def _not_found_fix(self) -> str:
        return (
            f"check account_id ({self.settings.account_id}) is the school account's id on"
            f" {self.host} and api_base_url is the school's Mastodon instance"
        )


class HashtagUnknown(PermanentError):
    """The instance has never seen the hashtag: an empty timeline, not a failure."""


def reset_time(value: str | None) -> datetime | None:
    """When X-RateLimit-Reset (ISO 8601 on Mastodon, Unix seconds elsewhere) says to try again."""
    value = (value or "").strip()
    if not value.isdigit():
        return parse_utc_time(value)
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _network_reason(error: MastodonNetworkError) -> str:
    return "timed out" if isinstance(error.__context__, requests.Timeout) else network_reason(error)


def _server_says(response: requests.Response | None) -> str:
    """The `error` text of Mastodon's JSON error body, on one line."""
    try:
        body = response.json() if response is not None else None
    except ValueError:
        return ""
    says = body.get("error") if isinstance(body, dict) else None
    return " ".join(str(says).split())[:200] if says else ""
