"""The tweepy calls of the X connector, with a timeout and errors mapped to typed ones."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import requests
import tweepy

from connectors.base import (
    AuthError,
    ConnectorError,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    network_reason,
    utcnow,
)
from connectors.transport import GuardedSession, Limits
from connectors.x.parse import _id, _list, _mapping
from connectors.x.streams import DOC, KEEP, MENTIONS, OWN, SEARCH, JSONObject

log = logging.getLogger(__name__)

FIELDS: dict[str, Any] = {
    "tweet_fields": "conversation_id,in_reply_to_user_id,referenced_tweets,created_at,author_id",
    "expansions": ["author_id"],
    "user_fields": ["username", "name"],
}
REPOST_FIELDS: dict[str, Any] = FIELDS | {
    "expansions": [*FIELDS["expansions"], "referenced_tweets.id", "referenced_tweets.id.author_id"]
}  # reposts kept: the reposted post (its full text) and its author come in `includes`

PageReader = Callable[[str | None, str | None, int, str | None], JSONObject]
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    MENTIONS: ("get_users_mentions", "pagination_token", {}),  # GET /2/users/:id/mentions
    OWN: ("get_users_tweets", "pagination_token", {"exclude": ["retweets"]}),  # /:id/tweets
    SEARCH: ("search_recent_tweets", "next_token", {}),  # GET /2/tweets/search/recent (7 days)
}


class Settings(Protocol):
    """What the client reads from a source's settings (an XConnector.Config)."""

    @property
    def user_id(self) -> str: ...
    @property
    def search_query(self) -> str | None: ...
    @property
    def sent_query(self) -> str | None: ...
    @property
    def reposts(self) -> str: ...
    @property
    def bearer_token_credential(self) -> str: ...
    @property
    def timeout_seconds(self) -> float: ...


class TimeoutSession(GuardedSession):
    """A guarded requests session (byte cap, poll deadline) that gives every request a timeout
    (tweepy.Client sets none)."""

    def __init__(self, timeout: float, limits: Limits | None = None) -> None:
        super().__init__(limits or Limits(), where="X")
        self.timeout = timeout

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        """Send a request, with the session's timeout unless the caller gave one."""
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class _NoRequestHeaders(logging.Filter):
    """Drops tweepy's DEBUG line that prints each request's headers, bearer token included."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Making API request")


logging.getLogger("tweepy.client").addFilter(_NoRequestHeaders())


class XClient:
    """tweepy.Client with app-only auth, raw JSON answers, a timeout and typed errors."""

    def __init__(self, token: str, settings: Settings) -> None:
        self.settings = settings
        self._api = tweepy.Client(bearer_token=token, return_type=dict, wait_on_rate_limit=False)
        self._api.session.close()
        self._api.session = TimeoutSession(settings.timeout_seconds, Limits.of(settings))

    def page(
        self, stream: str, since: str | None, until: str | None, size: int, token: str | None
    ) -> JSONObject:
        """One page of mentions, of the school's own posts, or of search results."""
        method, token_name, extra = ENDPOINTS[stream]
        subject = self.settings.sent_query if stream == SEARCH else self.settings.user_id
        params = {"since_id": since, "until_id": until, "max_results": size, token_name: token}
        fields = REPOST_FIELDS if self.settings.reposts == KEEP else FIELDS
        return self._call(
            stream, lambda: getattr(self._api, method)(subject, **params, **extra, **fields)
        )

    def user(self) -> JSONObject:
        """The school account's user object (GET /2/users/:id)."""
        payload = self._call(
            "user lookup",
            lambda: self._api.get_user(id=self.settings.user_id, user_fields=["username", "name"]),
        )
        data = payload.get("data")
        return data if isinstance(data, dict) else {}

    def close(self) -> None:
        """Close the HTTP session."""
        self._api.session.close()

    def _call(self, what: str, request: Callable[[], Any]) -> JSONObject:
        """Run one tweepy call; its JSON body, or a ConnectorError."""
        try:
            payload = request()
        except requests.JSONDecodeError:
            raise PermanentError(f"X ({what}) answered with invalid JSON") from None
        except tweepy.HTTPException as error:
            raise mapped_error(what, error, self.settings) from None
        except requests.Timeout:
            seconds = self.settings.timeout_seconds
            raise SourceUnavailable(f"X ({what}) timed out after {seconds:g}s") from None
        except requests.RequestException as error:
            reason = network_reason(error)
            raise SourceUnavailable(f"X ({what}) could not be reached: {reason}") from None
        if not isinstance(payload, dict):
            raise PermanentError(f"X ({what}) answered with something other than a JSON object")
        check_user_found(what, payload, self.settings.user_id)
        for problem in _list(payload.get("errors")):
            log.debug("X (%s) partial error: %s", what, _mapping(problem).get("detail"))
        return payload


def check_user_found(what: str, payload: Mapping[str, Any], user_id: str) -> None:
    """A 200 answer without data whose errors say the school's user id does not exist."""
    if "data" in payload:
        return
    for problem in _list(payload.get("errors")):
        problem = _mapping(problem)
        if problem.get("resource_type") == "user" and _id(problem.get("resource_id")) == user_id:
            raise PermanentError(
                f"X ({what}): {problem.get('detail') or 'no such user'}",
                fix=f"set user_id to the school account's numeric id (see {DOC})",
            )


def mapped_error(what: str, error: Any, settings: Settings) -> ConnectorError:
    """The typed error for a tweepy HTTPException."""
    status, body = error.response.status_code, _body(error.response)
    says = f"X ({what}) answered HTTP {status}: {describe(body)}"
    if isinstance(error, tweepy.TooManyRequests):
        if "usage-capped" in str(body.get("type")):
            fix = "raise the app's monthly cap or spending limit in the X Developer Console"
            return RateLimited(says, retry_at=next_month(utcnow()), fix=fix)
        reset = error.reset_time
        return RateLimited(says, retry_at=datetime.fromtimestamp(reset, UTC) if reset else None)
    if isinstance(error, tweepy.TwitterServerError):
        return SourceUnavailable(says)
    if isinstance(error, tweepy.Unauthorized):
        fix = (
            "regenerate the app's Bearer Token in the X Developer Console (Keys and tokens),"
            f" store it as credential {settings.bearer_token_credential} and restart"
        )
        return AuthError(says, fix=fix)
    return PermanentError(says, fix=_fix(status, body, settings))


def _fix(status: int, body: Mapping[str, Any], settings: Settings) -> str:
    kind = str(body.get("type") or "")
    if status == 402 or "credits" in kind:
        return "buy X API credits (or raise the auto top-up) in the X Developer Console"
    if status == 403 and body.get("reason") == "client-not-enrolled":
        return "attach the app to a Project on a pay-per-use plan in the X Developer Console"
    if status == 403:
        return f"check the app's access level in the X Developer Console (see {DOC})"
    if status == 400 and settings.search_query:
        return "check search_query against X's search operators (and user_id is digits)"
    if status == 404:
        return "check user_id is the school account's numeric id"
    return f"check the source's settings (see {DOC})"


def describe(body: Mapping[str, Any]) -> str:
    """X's own words for an error, on one line."""
    parts = [str(body.get(key)) for key in ("title", "detail") if body.get(key)]
    for problem in _list(body.get("errors")):
        message = _mapping(problem).get("message")
        if message:
            parts.append(str(message))
    return " ".join(" - ".join(dict.fromkeys(parts)).split())[:300] or "no details"


def next_month(now: datetime) -> datetime:
    """Midnight UTC on the first day of the month after `now`."""
    now = now.astimezone(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def _body(response: Any) -> JSONObject:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
