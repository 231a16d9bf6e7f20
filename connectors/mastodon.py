"""Mastodon (Mastodon.py 2.x): mentions of the school's account, its hashtags and its replies."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import requests
from bs4 import BeautifulSoup
from mastodon import Mastodon
from mastodon.errors import (
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)
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
    network_reason,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 40  # the most Mastodon returns per page of statuses or notifications
USER_AGENT = "orm-monitor/0.1 (+https://github.com/orm-monitor/orm-monitor)"
SCOPES = "read:statuses, read:notifications and read:accounts"
HASHTAG = re.compile(r"^\w+$")
BLOCK_TAGS = ("p", "blockquote", "pre", "li", "h1", "h2", "h3", "h4", "h5", "h6")
MENTIONS, HASHTAGS, OWN = "mentions", "hashtag", "own"

Entries = list[dict[str, Any]]


class MastodonConnector(Connector):
    """Polls a school's Mastodon account: mentions, chosen hashtags and the school's own replies."""

    name = "mastodon"
    title = "Mastodon account"
    default_interval_minutes = 10
    own_account = True
    search_accounts = frozenset({HASHTAGS})

    class Config(Connector.Config):
        """Settings of one Mastodon account source."""

        api_base_url: str
        account_id: str = Field(pattern=r"^[0-9A-Za-z]{1,64}$")
        acct: str | None = Field(default=None, pattern=r"^@?[\w.-]+(@[\w.-]+)?$")
        hashtags: list[str] = []
        access_token_credential: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
        timeout_seconds: float = Field(default=20, gt=0)
        max_pages: int = Field(default=5, ge=1, le=50)

        @field_validator("api_base_url")
        @classmethod
        def _check_base_url(cls, url: str) -> str:
            parts = urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be the instance's address, e.g. https://mastodon.social")
            if parts.query or parts.fragment or parts.username:
                raise ValueError("must be the bare address, without ?query, #fragment or user")
            return url.strip().rstrip("/")

        @field_validator("hashtags")
        @classmethod
        def _check_hashtags(cls, tags: list[str]) -> list[str]:
            cleaned: dict[str, str] = {}
            for tag in tags:
                name = tag.strip().removeprefix("#")
                if not HASHTAG.match(name):
                    raise ValueError(f"{tag!r} is not a hashtag (letters, digits and _ only)")
                cleaned.setdefault(name.casefold(), name)
            return list(cleaned.values())

    def __init__(self, source_id: str, config: BaseModel, secrets: Callable[[str], str]) -> None:
        super().__init__(source_id, config, secrets)
        self.settings = _as_config(config)
        self.school = SchoolAccount.of(self.settings)
        self._api: MastodonClient | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Read new mentions, hashtag posts and the school's replies since the saved ids."""
        api, cursor = self._client(), Cursor.from_state(state, self.settings.hashtags)
        found: dict[str, Item] = {}
        notifications, cursor.mentions = self._walk(api.mentions, cursor.mentions)
        _add(found, (parse_notification(n, school=self.school) for n in notifications))
        for tag in self.settings.hashtags:
            key = tag.casefold()
            statuses, cursor.hashtags[key] = self._walk(
                partial(api.hashtag, tag), cursor.hashtags.get(key)
            )
            _add(found, (parse_status(s, school=self.school, account=HASHTAGS) for s in statuses))
        own, cursor.own = self._walk(api.own_statuses, cursor.own)
        _add(found, (parse_own_status(s, school=self.school) for s in own))
        log.debug("source %s: %d items", self.source_id, len(found))
        return FetchResult(items=tuple(found.values()), new_state=cursor.as_state())

    def probe(self) -> str:
        """One verify_credentials call: whose token it is, and that it is the configured account."""
        me = self._client().me()
        account_id, acct = _id(me.get("id")), _text(me.get("acct"))
        host = urlsplit(self.settings.api_base_url).hostname
        if account_id != self.settings.account_id:
            raise PermanentError(
                f"the token on {host} belongs to @{acct} (account id {account_id}),"
                f" not to account id {self.settings.account_id}",
                fix=f'set account_id = "{account_id}" or store the school account\'s own token',
            )
        tags = ", ".join(f"#{tag}" for tag in self.settings.hashtags) or "no hashtags"
        return f"signed in to {host} as @{acct} (account id {account_id}); watching {tags}"

    def close(self) -> None:
        """Close the HTTP session."""
        if self._api is not None:
            self._api.close()
            self._api = None

    def _walk(
        self, read: Callable[[str | None], Entries], since: str | None
    ) -> tuple[Entries, str | None]:
        """Entries newer than `since`, walking forward with min_id; the latest page when None."""
        entries: Entries = []
        newest = since
        for _ in range(self.settings.max_pages if since else 1):
            page = read(newest)
            entries.extend(page)
            before, newest = newest, newest_id(page, newest)
            if len(page) < PAGE_SIZE or newest == before:
                break
        return entries, newest

    def _client(self) -> MastodonClient:
        if self._api is None:
            self._api = MastodonClient(self.settings, self._token())
        return self._api

    def _token(self) -> str:
        name = self.settings.access_token_credential
        try:
            return self.secrets(name)
        except LookupError:
            raise AuthError(
                f"the Mastodon access token credential {name!r} is not set",
                fix=f"store the token as credential {name} (see docs/connectors/mastodon.md)",
            ) from None


def _as_config(config: BaseModel) -> MastodonConnector.Config:
    if isinstance(config, MastodonConnector.Config):
        return config
    return MastodonConnector.Config.model_validate(config.model_dump())


def _add(found: dict[str, Item], items: Iterable[Item | None]) -> None:
    for item in items:
        if item is not None:
            found.setdefault(item.external_id, item)  # a status seen in two streams counts once


# --- Cursor: the newest id seen in each stream ------------------------------------------------


@dataclass
class Cursor:
    """The newest notification id, status id per hashtag and own status id already read."""

    mentions: str | None
    hashtags: dict[str, str | None]
    own: str | None

    @classmethod
    def from_state(cls, state: Mapping[str, JSONValue], hashtags: list[str]) -> Cursor:
        """The cursor saved after the previous poll; hashtags no longer configured are dropped."""
        saved = state.get("hashtags")
        saved = saved if isinstance(saved, Mapping) else {}
        tags = {tag.casefold(): _id(saved.get(tag.casefold())) for tag in hashtags}
        return cls(_id(state.get("mentions")), tags, _id(state.get("own")))

    def as_state(self) -> dict[str, JSONValue]:
        """The cursor as JSON for the database."""
        return {"mentions": self.mentions, "hashtags": dict(self.hashtags), "own": self.own}


def id_order(value: str) -> tuple[int, str]:
    """Sort key of a Mastodon id: numbers as strings (Mastodon) or fixed-width base62 (Pleroma)."""
    return len(value), value


def newest_id(entries: Entries, current: str | None) -> str | None:
    """The largest id among `entries` and `current`: a cursor never moves backwards."""
    ids = [i for i in (_id(entry.get("id")) for entry in entries) if i]
    if current:
        ids.append(current)
    return max(ids, key=id_order, default=None)


# --- The Mastodon.py calls, with errors mapped ------------------------------------------------


class MastodonClient:
    """Mastodon.py configured never to sleep, with a timeout, and the raw JSON of each response."""

    def __init__(self, settings: MastodonConnector.Config, token: str) -> None:
        self.settings = settings
        self.host = urlsplit(settings.api_base_url).hostname or settings.api_base_url
        self._last: requests.Response | None = None
        self._session = requests.Session()
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
        return parse_time(value)
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


# --- Parsing: pure functions from documented payloads to items --------------------------------


@dataclass(frozen=True)
class SchoolAccount:
    """Who the school is on its instance: its account id, and its handle as a fallback."""

    account_id: str
    acct: str | None = None
    instance: str = ""

    @classmethod
    def of(cls, settings: MastodonConnector.Config) -> SchoolAccount:
        """The school's account from a source's settings."""
        host = urlsplit(settings.api_base_url).hostname or ""
        return cls(settings.account_id, settings.acct, host)

    def wrote(self, account: Mapping[str, Any]) -> bool:
        """Whether an Account entity is the school's (same id, or the same handle)."""
        if _id(account.get("id")) == self.account_id:
            return True
        acct = _text(account.get("acct"))
        return bool(self.acct and acct) and self._full(acct) == self._full(self.acct or "")

    def _full(self, acct: str) -> str:
        acct = acct.removeprefix("@").casefold()
        return acct if "@" in acct else f"{acct}@{self.instance.casefold()}"


def parse_notification(notification: Mapping[str, Any], *, school: SchoolAccount) -> Item | None:
    """The status of a mention notification; None for other types or a status since deleted."""
    status = notification.get("status")
    if notification.get("type") != "mention" or not isinstance(status, Mapping):
        return None
    return parse_status(status, school=school, account=MENTIONS, raw=notification)


def parse_own_status(status: Mapping[str, Any], *, school: SchoolAccount) -> Item | None:
    """One of the school's own statuses, kept only when it replies to someone else."""
    if not _id(status.get("in_reply_to_id")) or status.get("reblog"):
        return None
    if _id(status.get("in_reply_to_account_id")) == school.account_id:
        return None  # the school continuing its own thread answers nobody
    return parse_status(status, school=school, account=OWN)


def parse_status(
    status: Mapping[str, Any], *, school: SchoolAccount, account: str, raw: Any = None
) -> Item:
    """A Status entity as an item: a mention, a reply to the school, or the school's own reply."""
    status_id = _id(status.get("id"))
    if not status_id:
        raise PermanentError("Mastodon sent a status without an id", fix="report this payload")
    author = _mapping(status.get("account"))
    by_school = school.wrote(author)
    parent = _id(status.get("in_reply_to_id"))
    to_school = _id(status.get("in_reply_to_account_id")) == school.account_id
    if by_school and to_school:
        parent = None  # a thread of the school's own posts is not a reply to anyone
    return Item(
        external_id=status_id,
        kind=_kind(by_school=by_school, parent=parent, to_school=to_school),
        text=status_text(status),
        created_at=parse_time(status.get("created_at")),
        url=_text(status.get("url")) or _text(status.get("uri")) or None,
        author=Author(
            id=_id(author.get("id")),
            handle=_text(author.get("acct")) or None,
            display_name=_text(author.get("display_name")) or _text(author.get("username")) or None,
        ),
        by_school=by_school,
        account=account,
        parent_id=parent,
        thread_id=parent or status_id,
        raw=dict(status) if raw is None else raw,
    )


def _kind(*, by_school: bool, parent: str | None, to_school: bool) -> ItemKind:
    if by_school:
        return ItemKind.REPLY if parent else ItemKind.POST
    return ItemKind.REPLY if parent and to_school else ItemKind.MENTION


def status_text(status: Mapping[str, Any]) -> str:
    """The status's text, after its content warning (`spoiler_text`) as a "CW:" line."""
    body = html_to_text(_text(status.get("content")))
    warning = " ".join(_text(status.get("spoiler_text")).split())
    return f"CW: {warning}\n\n{body}".strip() if warning else body


def html_to_text(html: str) -> str:
    """Mastodon's status HTML as plain text: paragraphs and line breaks kept, links in full.

    Mastodon shortens a link's text with `invisible` spans (the scheme, the tail) around an
    `ellipsis` span; joining the three without spaces gives the full address back.
    """
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(("script", "style")):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(BLOCK_TAGS):
        block.insert_after("\n\n")
    lines = (" ".join(line.split()) for line in soup.get_text().split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime; None when missing or unparseable."""
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


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
