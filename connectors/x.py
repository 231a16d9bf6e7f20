"""X (Twitter) API v2 through tweepy: mentions of the school, searches for it, and its replies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import requests
import tweepy
from pydantic import BaseModel, Field, field_validator

from connectors.base import (
    AuthError,
    Author,
    Connector,
    ConnectorError,
    FetchResult,
    Item,
    ItemKind,
    JSONValue,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    SourceWarning,
    network_reason,
)

log = logging.getLogger(__name__)

DOC = "docs/connectors/x.md"
MENTIONS, OWN, SEARCH = "mentions", "own_tweets", "search"
STREAMS = (MENTIONS, OWN, SEARCH)  # most needed first, should the budget run short mid-poll
MIN_PAGE = {MENTIONS: 5, OWN: 5, SEARCH: 10}  # the smallest max_results each endpoint accepts
FIELDS: dict[str, Any] = {
    "tweet_fields": "conversation_id,in_reply_to_user_id,referenced_tweets,created_at,author_id",
    "expansions": ["author_id"],
    "user_fields": ["username", "name"],
}

SEARCH_REACH = timedelta(days=7) - timedelta(hours=1)  # recent search covers the last 7 days
SNOWFLAKE_EPOCH_MS = 1288834974657

JSONObject = dict[str, Any]
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class XConnector(Connector):
    """Polls X for mentions of the school's account, a search for its name, and its own replies."""

    name = "x"
    title = "X (Twitter) account"
    # Every post read is billed, whatever the interval: since_id polls of an unchanged timeline
    # return (and cost) nothing, so 15 minutes keeps alerts close to the 24-hour reply clock at
    # 3 requests a poll, far below the 450 requests / 15 minutes an app may make per endpoint.
    default_interval_minutes = 15
    own_account = True
    search_accounts = frozenset({SEARCH})

    class Config(Connector.Config):
        """Settings of one X account source."""

        user_id: str = Field(pattern=r"^\d{1,20}$", description="the school account's numeric id")
        username: str = Field(pattern=r"^@?\w{1,15}$")
        search_query: str | None = Field(default=None, min_length=1, max_length=512)
        bearer_token_credential: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
        page_size: int = Field(default=100, ge=10, le=100)
        max_pages: int = Field(default=3, ge=1, le=10)
        monthly_read_budget: int = Field(default=10_000, ge=0)
        cost_per_read_usd: float = Field(default=0.005, ge=0)
        timeout_seconds: float = Field(default=20, gt=0)

        @field_validator("username")
        @classmethod
        def _without_at(cls, username: str) -> str:
            return username.removeprefix("@")

    def __init__(
        self,
        source_id: str,
        config: BaseModel,
        secrets: Callable[[str], str],
        *,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(source_id, config, secrets)
        self.settings = _as_config(config)
        self.school = School(self.settings.user_id, self.settings.username)
        self.clock = clock or utcnow
        self._api: XClient | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Read each stream from its since_id, within this month's read budget."""
        budget = Budget.from_state(state, self.clock(), self.settings.monthly_read_budget)
        if budget.spent:
            return FetchResult((), dict(state), warnings=(self._spent(budget),))
        api, found = self._client(), dict[str, Item]()
        new_state: dict[str, JSONValue] = {}
        for stream in self._streams():
            cursor = self._cursor(stream, state.get(stream))
            for page in self._walk(partial(api.page, stream), cursor, budget, MIN_PAGE[stream]):
                for item in parse_page(page, school=self.school, account=stream):
                    found.setdefault(item.external_id, item)  # a post in two streams counts once
            new_state[stream] = cursor.as_state()
        new_state.update(budget.as_state())
        log.debug(
            "source %s: %d items; %d posts read this month",
            self.source_id,
            len(found),
            budget.reads,
        )
        items = tuple(sorted(found.values(), key=lambda item: int(item.external_id)))
        return FetchResult(items, new_state, warnings=self._warnings(budget))

    def probe(self) -> str:
        """One user lookup: the token works and user_id is the configured username."""
        user = self._client().user()
        handle = str(user.get("username") or "")
        if handle.casefold() != self.school.username.casefold():
            raise PermanentError(
                f"X user id {self.school.user_id} is @{handle}, not @{self.school.username}",
                fix="set user_id to the school account's numeric id (see " + DOC + ")",
            )
        query = self.settings.search_query
        watching = f"mentions, replies and search: {query}" if query else "mentions and replies"
        return f"X API reachable: user {self.school.user_id} is @{handle}; reading {watching}"

    def close(self) -> None:
        """Close the HTTP session."""
        if self._api is not None:
            self._api.close()
            self._api = None

    def _streams(self) -> tuple[str, ...]:
        return STREAMS if self.settings.search_query else (MENTIONS, OWN)

    def _cursor(self, stream: str, saved: JSONValue) -> Cursor:
        if stream != SEARCH:
            return Cursor.from_state(saved)
        cursor = Cursor.from_state(saved, query=self.settings.search_query)
        if cursor.since_id and posted_at(cursor.since_id) < self.clock() - SEARCH_REACH:
            # recent search refuses a since_id older than 7 days (HTTP 400): start afresh
            log.info(
                "source %s: search cursor older than 7 days, reading the latest page",
                self.source_id,
            )
            return Cursor(query=self.settings.search_query)
        return cursor

    def _walk(
        self, read: PageReader, cursor: Cursor, budget: Budget, minimum: int
    ) -> list[JSONObject]:
        """Pages newer than the cursor (one on a first poll), never past the budget."""
        pages: list[JSONObject] = []
        since, until, token = cursor.since_id, cursor.until_id, None
        for _ in range(1 if cursor.is_new else self.settings.max_pages):
            size = min(self.settings.page_size, budget.remaining)
            if size < minimum:
                break
            page = read(since, until, size, token)
            budget.spend(len(tweets_of(page)))
            pages.append(page)
            token = cursor.read(_mapping(page.get("meta")))
            if token is None:
                return pages
        cursor.pause()
        return pages

    def _warnings(self, budget: Budget) -> tuple[SourceWarning, ...]:
        warnings = []
        if budget.reads >= 0.8 * budget.limit:
            warnings.append(
                SourceWarning(
                    key=f"budget-80:{budget.month}",
                    message=f"X read budget 80% spent: {self._spend(budget)} this month",
                    fix="raise monthly_read_budget or narrow search_query (see " + DOC + ")",
                )
            )
        if budget.spent:
            warnings.append(self._spent(budget))
        return tuple(warnings)

    def _spent(self, budget: Budget) -> SourceWarning:
        return SourceWarning(
            key=f"budget-spent:{budget.month}",
            message=f"X read budget spent: {self._spend(budget)} in {budget.month}; polling"
            " stops until next month (UTC)",
            fix="wait for next month, or raise monthly_read_budget to resume now",
        )

    def _spend(self, budget: Budget) -> str:
        cost = budget.reads * self.settings.cost_per_read_usd
        return f"{budget.reads:,} of {budget.limit:,} posts (~${cost:,.2f})"

    def _client(self) -> XClient:
        if self._api is None:
            self._api = XClient(self._token(), self.settings)
        return self._api

    def _token(self) -> str:
        name = self.settings.bearer_token_credential
        try:
            return self.secrets(name)
        except LookupError:
            raise AuthError(
                f"the X bearer token credential {name!r} is not set",
                fix=f"store the app's Bearer Token as credential {name} (see {DOC})",
            ) from None


def _as_config(config: BaseModel) -> XConnector.Config:
    if isinstance(config, XConnector.Config):
        return config
    return XConnector.Config.model_validate(config.model_dump())


# --- Budget and cursor: what the state remembers between polls -------------------------------


@dataclass
class Budget:
    """Posts read this calendar month (UTC) against the source's monthly limit."""

    month: str
    reads: int
    limit: int

    @classmethod
    def from_state(cls, state: Mapping[str, JSONValue], now: datetime, limit: int) -> Budget:
        """This month's count from the state; zero when the state is from an earlier month."""
        month = now.astimezone(UTC).strftime("%Y-%m")
        reads = state.get("reads") if state.get("budget_month") == month else 0
        return cls(month, reads if isinstance(reads, int) and reads > 0 else 0, limit)

    @property
    def remaining(self) -> int:
        """Posts that may still be read this month."""
        return max(self.limit - self.reads, 0)

    @property
    def spent(self) -> bool:
        """True when not even the smallest page fits in what is left."""
        return self.remaining < min(MIN_PAGE.values())

    def spend(self, posts: int) -> None:
        """Count posts read."""
        self.reads += posts

    def as_state(self) -> dict[str, JSONValue]:
        """The count as JSON for the state."""
        return {"budget_month": self.month, "reads": self.reads}


@dataclass
class Cursor:
    """One stream's position: every post up to since_id has been read.

    A catch-up longer than one poll's pages goes on next poll below until_id (the oldest post
    read so far), and moves since_id up to `newest` only once it reaches since_id.
    """

    since_id: str | None = None
    until_id: str | None = None
    newest: str | None = None
    query: str | None = None
    oldest: str | None = field(default=None, compare=False)

    @classmethod
    def from_state(cls, saved: JSONValue, *, query: str | None = None) -> Cursor:
        """The saved cursor; a fresh one when the search query has changed."""
        saved = saved if isinstance(saved, Mapping) else {}
        if saved.get("query") != query:
            return cls(query=query)
        since, until, newest = (
            _post_id(saved.get(key)) for key in ("since_id", "until_id", "newest")
        )
        return cls(since_id=since, until_id=until, newest=newest, query=query)

    @property
    def is_new(self) -> bool:
        """True until a first post was read: a first poll reads one page, no backfill."""
        return self.since_id is None and self.until_id is None and self.newest is None

    def read(self, meta: Mapping[str, Any]) -> str | None:
        """Take in one page's meta; the next_token while the catch-up goes on."""
        first = self.is_new
        self.newest = max_id(self.newest, _post_id(meta.get("newest_id")))
        self.oldest = min_id(self.oldest, _post_id(meta.get("oldest_id")))
        token = _id(meta.get("next_token"))
        if token is None or first:
            self.since_id = max_id(self.since_id, self.newest)
            self.until_id = self.newest = self.oldest = None
        return None if first else token

    def pause(self) -> None:
        """Stop a catch-up part way: the next poll goes on below the oldest post read."""
        self.until_id = min_id(self.until_id, self.oldest)

    def as_state(self) -> dict[str, JSONValue]:
        """The cursor as JSON for the state."""
        state: dict[str, JSONValue] = {"since_id": self.since_id}
        if self.until_id or self.newest:
            state.update(until_id=self.until_id, newest=self.newest)
        if self.query is not None:
            state["query"] = self.query
        return state


def posted_at(post_id: str) -> datetime:
    """When a post was made, read from its id (a snowflake: its top bits count milliseconds)."""
    return datetime.fromtimestamp(((int(post_id) >> 22) + SNOWFLAKE_EPOCH_MS) / 1000, UTC)


def max_id(a: str | None, b: str | None) -> str | None:
    """The newer of two post ids (ids grow with time)."""
    return b if a is None or (b is not None and int(b) > int(a)) else a


def min_id(a: str | None, b: str | None) -> str | None:
    """The older of two post ids."""
    return b if a is None or (b is not None and int(b) < int(a)) else a


# --- The tweepy calls, with a timeout and errors mapped --------------------------------------

PageReader = Callable[[str | None, str | None, int, str | None], JSONObject]
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    MENTIONS: ("get_users_mentions", "pagination_token", {}),  # GET /2/users/:id/mentions
    OWN: ("get_users_tweets", "pagination_token", {"exclude": ["retweets"]}),  # /:id/tweets
    SEARCH: ("search_recent_tweets", "next_token", {}),  # GET /2/tweets/search/recent (7 days)
}


class TimeoutSession(requests.Session):
    """A requests session that gives every request a timeout (tweepy.Client sets none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
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

    def __init__(self, token: str, settings: XConnector.Config) -> None:
        self.settings = settings
        self._api = tweepy.Client(bearer_token=token, return_type=dict, wait_on_rate_limit=False)
        self._api.session.close()
        self._api.session = TimeoutSession(settings.timeout_seconds)

    def page(
        self, stream: str, since: str | None, until: str | None, size: int, token: str | None
    ) -> JSONObject:
        """One page of mentions, of the school's own posts, or of search results."""
        method, token_name, extra = ENDPOINTS[stream]
        subject = self.settings.search_query if stream == SEARCH else self.settings.user_id
        params = {"since_id": since, "until_id": until, "max_results": size, token_name: token}
        return self._call(
            stream, lambda: getattr(self._api, method)(subject, **params, **extra, **FIELDS)
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


def mapped_error(what: str, error: Any, settings: XConnector.Config) -> ConnectorError:
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


def _fix(status: int, body: Mapping[str, Any], settings: XConnector.Config) -> str:
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


# --- Parsing: pure functions from documented payloads to items --------------------------------


@dataclass(frozen=True)
class School:
    """The school's X account: its numeric id and its username."""

    user_id: str
    username: str


def tweets_of(page: Mapping[str, Any]) -> list[JSONObject]:
    """The posts in one page's `data` (none when the page is empty)."""
    return [tweet for tweet in _list(page.get("data")) if isinstance(tweet, dict)]


def parse_page(page: Mapping[str, Any], *, school: School, account: str) -> list[Item]:
    """The items of one page; the school's own posts only when they reply to someone else."""
    users = {
        user["id"]: user
        for user in _list(_mapping(page.get("includes")).get("users"))
        if isinstance(user, dict) and isinstance(user.get("id"), str)
    }
    parse = parse_own_tweet if account == OWN else parse_tweet
    found = (parse(tweet, users=users, school=school, account=account) for tweet in tweets_of(page))
    return [item for item in found if item is not None]


def parse_own_tweet(
    tweet: Mapping[str, Any], *, users: Mapping[str, Any], school: School, account: str = OWN
) -> Item | None:
    """One of the school's own posts, kept only when it replies to someone else's post."""
    if replied_to(tweet) is None or _id(tweet.get("in_reply_to_user_id")) == school.user_id:
        return None  # an original post, or the school continuing its own thread
    return parse_tweet(tweet, users=users, school=school, account=account)


def parse_tweet(
    tweet: Mapping[str, Any], *, users: Mapping[str, Any], school: School, account: str
) -> Item:
    """A post as an item: a mention, a reply to the school, or the school's own reply."""
    tweet_id = _id(tweet.get("id"))
    if tweet_id is None or not tweet_id.isdigit():
        raise PermanentError("X sent a post without a numeric id", fix="report this payload")
    author_id = _id(tweet.get("author_id"))
    user = _mapping(users.get(author_id or ""))
    handle = _id(user.get("username"))
    by_school = author_id == school.user_id
    parent = replied_to(tweet)
    to_school = _id(tweet.get("in_reply_to_user_id")) == school.user_id
    if by_school and to_school:
        parent = None  # a thread of the school's own posts answers nobody
    return Item(
        external_id=tweet_id,
        kind=_kind(by_school=by_school, parent=parent, to_school=to_school),
        text=str(tweet.get("text") or ""),
        created_at=parse_time(tweet.get("created_at")),
        url=f"https://x.com/{handle or 'i/web'}/status/{tweet_id}",
        author=Author(id=author_id, handle=handle, display_name=_id(user.get("name"))),
        by_school=by_school,
        account=account,
        parent_id=parent,
        thread_id=_id(tweet.get("conversation_id")) or tweet_id,
        raw={"tweet": dict(tweet), "author": dict(user) or None},
    )


def _kind(*, by_school: bool, parent: str | None, to_school: bool) -> ItemKind:
    if by_school:
        return ItemKind.REPLY if parent else ItemKind.POST
    return ItemKind.REPLY if parent and to_school else ItemKind.MENTION


def replied_to(tweet: Mapping[str, Any]) -> str | None:
    """The id of the post this one replies to (referenced_tweets of type replied_to)."""
    for reference in _list(tweet.get("referenced_tweets")):
        reference = _mapping(reference)
        if reference.get("type") == "replied_to":
            return _id(reference.get("id"))
    return None


def parse_time(value: Any) -> datetime | None:
    """X's created_at (ISO 8601, e.g. 2026-11-10T09:15:03.000Z) as aware UTC; None if bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _id(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def _post_id(value: Any) -> str | None:
    text = _id(value)
    return text if text and text.isdigit() else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> Iterable[Any]:
    return value if isinstance(value, list) else ()
