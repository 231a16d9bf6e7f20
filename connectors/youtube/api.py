"""The YouTube HTTP calls: the two list calls, with the API key and typed errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from connectors.base import (
    AuthError,
    JSONValue,
    PermanentError,
    RateLimited,
    SourceUnavailable,
)
from connectors.transport import Limits, guarded_client
from connectors.youtube.parse import _dicts, _text, dig

API_PATH = "/youtube/v3"
PAGE_SIZE = 100
QUOTA_RESET_MARGIN = timedelta(minutes=5)
SHORT_BACKOFF = timedelta(minutes=1)
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
KEY_REASONS = frozenset({"keyInvalid", "keyExpired", "API_KEY_INVALID", "API_KEY_EXPIRED"})
DISABLED_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})
GONE_REASONS = frozenset({"commentsDisabled", "commentNotFound", "videoNotFound"})
ENABLE_API = "enable 'YouTube Data API v3' in the Google Cloud project that owns the API key"


class Settings(Protocol):
    """What the client reads from a source's settings (a YouTubeConnector.Config)."""

    @property
    def channel_id(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def timeout_seconds(self) -> float: ...


class CommentsGone(PermanentError):
    """Comments are turned off, or the comment or video has gone."""


class YouTubeClient:
    """commentThreads.list and comments.list for one channel; the key never leaves this class."""

    def __init__(
        self,
        settings: Settings,
        api_key: Callable[[], str],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings, self._read_key, self.clock = settings, api_key, clock
        self._http = guarded_client(
            Limits.of(settings),
            where="YouTube API",
            follow_redirects=False,
            timeout=httpx.Timeout(settings.timeout_seconds),
            headers={"Accept": "application/json"},
        )

    def comment_threads(self, page_token: str | None, max_results: int = PAGE_SIZE) -> JSONValue:
        """One page of the channel's comment threads, newest first."""
        params = {
            "part": "snippet,replies",
            "allThreadsRelatedToChannelId": self.settings.channel_id,
            "order": "time",
            "maxResults": str(max_results),
        }
        return self._get("commentThreads", params, page_token)

    def replies(self, parent_id: str, page_token: str | None) -> JSONValue:
        """One page of the replies to a top-level comment."""
        params = {"part": "snippet", "parentId": parent_id, "maxResults": str(PAGE_SIZE)}
        return self._get("comments", params, page_token)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _get(self, resource: str, params: dict[str, str], page_token: str | None) -> JSONValue:
        what = f"YouTube {resource}.list for channel {self.settings.channel_id}"
        key = self._read_key()  # read per request: a renewed key is picked up
        if page_token:
            params["pageToken"] = page_token
        url = f"{self.settings.base_url.rstrip('/')}{API_PATH}/{resource}"
        try:
            response = self._http.get(url, params={**params, "key": key})
        except httpx.TimeoutException:
            seconds = self.settings.timeout_seconds
            raise SourceUnavailable(f"{what} timed out after {seconds:g}s") from None
        except httpx.HTTPError as error:
            reason = scrub(str(error) or type(error).__name__, key)
            raise SourceUnavailable(f"{what} could not be reached: {reason}") from None
        raise_for_error(response, what, key=key, now=self.clock())
        try:
            return response.json()
        except ValueError:
            raise PermanentError(f"{what} returned a body that is not JSON") from None


def raise_for_error(response: httpx.Response, what: str, *, key: str, now: datetime) -> None:
    """Map a YouTube error response (reason in error.errors[0].reason) to a typed error."""
    status = response.status_code
    if 200 <= status < 300:
        return
    reasons, message = error_reasons(response)
    said = f"{what}: HTTP {status} {' '.join(sorted(reasons)) or 'error'}"
    if message:
        said = f"{said}: {scrub(message, key)}"
    if reasons & QUOTA_REASONS:
        raise RateLimited(said, retry_at=next_quota_reset(now))
    if status == 429 or reasons & RATE_REASONS:
        raise RateLimited(said, retry_at=now + SHORT_BACKOFF)
    if status >= 500:
        raise SourceUnavailable(said)
    if reasons & KEY_REASONS or "API key not valid" in message:
        raise AuthError(said, fix="the API key is wrong or deleted: create a new one and store it")
    if reasons & DISABLED_REASONS:
        raise AuthError(said, fix=ENABLE_API)
    if "channelNotFound" in reasons:
        raise PermanentError(said, fix="wrong channel id: copy it from YouTube Studio again")
    if reasons & GONE_REASONS:
        raise CommentsGone(said, fix="turn comments on in YouTube Studio, or disable this source")
    if status in (401, 403):
        raise AuthError(said, fix=_forbidden_fix(reasons))
    raise PermanentError(said, fix="check the source's channel_id and base_url")


def _forbidden_fix(reasons: frozenset[str]) -> str:
    if any(reason.startswith("API_KEY_") for reason in reasons):
        return (
            "the API key's restrictions refuse this request: allow 'YouTube Data API v3' "
            "(and this server's IP address) in the key's restrictions"
        )
    return "the API key cannot read these comments: check the key, or OAuth may be needed"


def error_reasons(response: httpx.Response) -> tuple[frozenset[str], str]:
    """The reasons (errors[].reason and details[].reason) and message of a Google error body."""
    try:
        body = response.json()
    except ValueError:
        return frozenset(), ""
    entries = [*_dicts(dig(body, "error", "errors")), *_dicts(dig(body, "error", "details"))]
    reasons = frozenset(_text(entry.get("reason")) for entry in entries) - {""}
    return reasons, strip_tags(_text(dig(body, "error", "message")))


def next_quota_reset(now: datetime) -> datetime:
    """When the daily quota resets (midnight Pacific Time) plus a margin, in UTC."""
    try:
        pacific: timezone | ZoneInfo = ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:
        pacific = timezone(timedelta(hours=-8))  # PST: never early, an hour late in summer
    today = now.astimezone(pacific).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=pacific) + timedelta(days=1)
    return midnight.astimezone(UTC) + QUOTA_RESET_MARGIN


def scrub(text: str, key: str) -> str:
    """The text without the API key, or any key= query parameter, on one line."""
    if key:
        text = text.replace(key, "***")
    return " ".join(re.sub(r"([?&]key=)[^&\s'\"]*", r"\1***", text).split())


def strip_tags(text: str) -> str:
    """Google's error messages carry HTML links: keep their words only."""
    return " ".join(re.sub(r"<[^>]*>", "", text).split())
