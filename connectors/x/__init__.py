"""X (Twitter) API v2 through tweepy: mentions of the school, searches for it, and its replies."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cached_property, partial

from pydantic import Field, field_validator, model_validator

from connectors.base import (
    Connector,
    FetchResult,
    Item,
    JSONValue,
    PermanentError,
    SourceWarning,
)
from connectors.x.api import (
    ENDPOINTS,
    FIELDS,
    PageReader,
    Settings,
    TimeoutSession,
    XClient,
    check_user_found,
    describe,
    mapped_error,
    next_month,
)
from connectors.x.cursor import (
    SEARCH_REACH,
    SNOWFLAKE_EPOCH_MS,
    Budget,
    Cursor,
    max_id,
    min_id,
    posted_at,
)
from connectors.x.parse import (
    School,
    _mapping,
    parse_own_tweet,
    parse_page,
    parse_repost,
    parse_tweet,
    posts_read,
    replied_to,
    reposted,
    tweets_of,
    unescape,
)
from connectors.x.streams import (
    DOC,
    MENTIONS,
    MIN_PAGE,
    OWN,
    SEARCH,
    STREAMS,
    JSONObject,
    Reposts,
    search_terms,
)

__all__ = [
    "DOC",
    "ENDPOINTS",
    "FIELDS",
    "MENTIONS",
    "MIN_PAGE",
    "OWN",
    "SEARCH",
    "SEARCH_REACH",
    "SNOWFLAKE_EPOCH_MS",
    "STREAMS",
    "Budget",
    "Cursor",
    "JSONObject",
    "PageReader",
    "School",
    "Settings",
    "TimeoutSession",
    "XClient",
    "XConnector",
    "check_user_found",
    "describe",
    "mapped_error",
    "max_id",
    "min_id",
    "next_month",
    "parse_own_tweet",
    "parse_page",
    "parse_repost",
    "parse_tweet",
    "posted_at",
    "posts_read",
    "replied_to",
    "reposted",
    "search_terms",
    "tweets_of",
    "unescape",
]

log = logging.getLogger(__name__)


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
        search_without_reposts: bool = False
        """True: `-is:retweet` is added to search_query unless it names is:retweet already."""
        reposts: Reposts = "skip"
        """What reposts become: "skip", not items; "keep", items of kind `repost`."""
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

        @model_validator(mode="after")
        def _query_fits(self) -> XConnector.Config:
            if self.search_query and len(self.sent_query or "") > 512:
                raise ValueError("search_query with -is:retweet added is over X's 512 characters")
            return self

        @property
        def sent_query(self) -> str | None:
            """The recent-search query as sent to X (None: no search)."""
            if not self.search_query:
                return None
            return search_terms(self.search_query, without_reposts=self.search_without_reposts)

    settings: Config
    _api: XClient | None = None

    @cached_property
    def school(self) -> School:
        """The school's own account, to recognise its posts and replies."""
        return School(self.settings.user_id, self.settings.username)

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
                reposts = self.settings.reposts
                for item in parse_page(page, school=self.school, account=stream, reposts=reposts):
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
        query = self.settings.sent_query
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
            budget.spend(posts_read(page))
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
            blind=True,
        )

    def _spend(self, budget: Budget) -> str:
        cost = budget.reads * self.settings.cost_per_read_usd
        return f"{budget.reads:,} of {budget.limit:,} posts (~${cost:,.2f})"

    def _client(self) -> XClient:
        if self._api is None:
            token = self.credential(self.settings.bearer_token_credential, "X bearer token", DOC)
            self._api = XClient(token, self.settings)
        return self._api
