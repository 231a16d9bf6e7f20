"""Bluesky (AT Protocol): mentions of and replies to the school's account, and name searches."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

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

DEFAULT_BASE_URL = "https://bsky.social"
NOTIFICATIONS = "app.bsky.notification.listNotifications"
SEARCH_POSTS = "app.bsky.feed.searchPosts"
AUTHOR_FEED = "app.bsky.feed.getAuthorFeed"
PARAMS = {
    NOTIFICATIONS: models.AppBskyNotificationListNotifications.Params,
    SEARCH_POSTS: models.AppBskyFeedSearchPosts.Params,
    AUTHOR_FEED: models.AppBskyFeedGetAuthorFeed.Params,
}
NOTIFICATION_KINDS = {"mention": ItemKind.MENTION, "reply": ItemKind.REPLY}
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})
ACCOUNT_GONE = frozenset({"AccountTakedown", "AccountDeactivated", "AccountSuspended"})
POST_COLLECTION = "app.bsky.feed.post"
SEARCH = "search"
"""`Item.account` of posts found by searching for the school's names."""
MARK_URIS = 25


class BlueskyConnector(Connector):
    """Polls one Bluesky account's mentions and replies, its own posts, and name searches."""

    name = "bluesky"
    title = "Bluesky"
    default_interval_minutes = 10
    own_account = True
    search_accounts = frozenset({SEARCH})

    class Config(Connector.Config):
        """Settings of one Bluesky account."""

        handle: str
        app_password_credential: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
        search_terms: list[str] = []
        base_url: str = DEFAULT_BASE_URL
        timeout_seconds: float = Field(default=20, gt=0)
        max_pages: int = Field(default=5, ge=1, le=50)
        page_size: int = Field(default=50, ge=1, le=100)

        @field_validator("handle")
        @classmethod
        def _check_handle(cls, handle: str) -> str:
            handle = handle.strip().removeprefix("@").lower()
            if not handle or any(c.isspace() for c in handle):
                raise ValueError("must be the account's handle, e.g. stmarys.bsky.social")
            return handle

        @field_validator("search_terms")
        @classmethod
        def _check_terms(cls, terms: list[str]) -> list[str]:
            cleaned = [" ".join(term.split()) for term in terms]
            if not all(cleaned):
                raise ValueError("a search term cannot be empty")
            return list(dict.fromkeys(cleaned))

        @field_validator("base_url")
        @classmethod
        def _check_base_url(cls, url: str) -> str:
            url = url.strip().rstrip("/").removesuffix("/xrpc")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an https:// URL such as https://bsky.social")
            return url

    def __init__(self, source_id: str, config: BaseModel, secrets: Callable[[str], str]) -> None:
        super().__init__(source_id, config, secrets)
        self.settings = _as_config(config)
        self._api: BlueskyApi | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Read each stream from its newest page back to where the last poll stopped."""
        api = self._signed_in(state)
        previous = state.get("streams")
        marks = previous if isinstance(previous, Mapping) else {}
        items: dict[str, Item] = {}
        new_marks: dict[str, JSONValue] = {}
        warnings: list[SourceWarning] = []
        for stream in streams(self.settings, api.did):
            saved = StreamMark.from_state(marks.get(stream.key))
            try:
                pages, gap = self._read(api, stream, saved)
            except BadSearchTerm as error:
                warnings.append(SourceWarning(f"refused:{stream.key}", str(error), error.fix))
                continue
            for page in pages:
                for item in parse_page(stream.nsid, page, api.did):
                    items.setdefault(item.external_id, item)
            entries = [entry for page in pages for entry in page_entries(stream.nsid, page)]
            new_marks[stream.key] = (saved or StreamMark()).advanced(entries).to_state()
            if gap:
                warnings.append(gap_warning(stream, self.settings.max_pages))
        log.debug("source %s: %d Bluesky items", self.source_id, len(items))
        new_state = {"session": api.saved_session(), "streams": new_marks}
        return FetchResult(tuple(items.values()), new_state, warnings=tuple(warnings))

    def probe(self) -> str:
        """Sign in, read the latest notification, and say which account answered."""
        api = self._signed_in({})
        api.query(NOTIFICATIONS, {"reasons": list(NOTIFICATION_KINDS), "limit": 1})
        terms = len(self.settings.search_terms)
        return (
            f"signed in as @{api.handle} ({api.did}); notifications readable; "
            f"{terms} search term{'' if terms == 1 else 's'}"
        )

    def close(self) -> None:
        """Close the HTTP client (the session is lost; the saved refresh token resumes it)."""
        if self._api is not None:
            self._api.close()
            self._api = None

    def _signed_in(self, state: Mapping[str, JSONValue]) -> BlueskyApi:
        if self._api is None:
            credential = self.settings.app_password_credential
            self._api = BlueskyApi(self.settings, lambda: self.secrets(credential), self.source_id)
        self._api.sign_in(SavedSession.from_state(state.get("session")))
        return self._api

    def _read(
        self, api: BlueskyApi, stream: Stream, mark: StreamMark | None
    ) -> tuple[list[Mapping[str, Any]], bool]:
        """Pages newest first until the mark is reached; True as well when pages ran out first."""
        pages: list[Mapping[str, Any]] = []
        cursor: str | None = None
        for _ in range(self.settings.max_pages if mark is not None else 1):
            params = {**stream.params, "limit": self.settings.page_size, "cursor": cursor}
            page = api.query(stream.nsid, params)
            pages.append(page)
            entries, cursor = page_entries(stream.nsid, page), page.get("cursor")
            if not entries or not isinstance(cursor, str) or not cursor:
                return pages, False
            if mark is not None and mark.reached(entries):
                return pages, False
        if mark is not None:
            log.warning(
                "source %s: Bluesky %s: new items beyond max_pages", self.source_id, stream.key
            )
        return pages, mark is not None


def _as_config(config: BaseModel) -> BlueskyConnector.Config:
    if isinstance(config, BlueskyConnector.Config):
        return config
    return BlueskyConnector.Config.model_validate(config.model_dump())


# --- The API layer: one atproto Client whose session is kept and refreshed -----------------


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
        self, settings: BlueskyConnector.Config, password: Callable[[], str], source_id: str
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
            request = Request(timeout=httpx.Timeout(self.settings.timeout_seconds))
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


def translate(error: Exception, call: str, settings: BlueskyConnector.Config) -> ConnectorError:
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


def _refusal(
    detail: str, status: int, name: str, settings: BlueskyConnector.Config
) -> ConnectorError:
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


# --- Streams and cursors --------------------------------------------------------------------

Entry = tuple[str, datetime | None]


@dataclass(frozen=True)
class Stream:
    """One newest-first listing (an XRPC query) and the key of its mark in the state."""

    key: str
    nsid: str
    params: Mapping[str, Any]


def streams(settings: BlueskyConnector.Config, did: str) -> list[Stream]:
    """Notifications, the account's own posts, then one stream per search term."""
    return [
        Stream("notifications", NOTIFICATIONS, {"reasons": list(NOTIFICATION_KINDS)}),
        Stream("posts", AUTHOR_FEED, {"actor": did, "filter": "posts_with_replies"}),
        *(
            Stream(f"search:{term}", SEARCH_POSTS, {"q": term, "sort": "latest"})
            for term in settings.search_terms
        ),
    ]


def page_entries(nsid: str, page: Mapping[str, Any]) -> list[Entry]:
    """(URI, indexedAt) of the posts or notifications on a page, newest first."""
    if nsid == AUTHOR_FEED:
        views = _own_feed_posts(page)
    else:
        views = _listed(page, "notifications" if nsid == NOTIFICATIONS else "posts")
    return [(str(v["uri"]), parse_timestamp(v.get("indexedAt"))) for v in views if v.get("uri")]


def parse_page(nsid: str, page: Mapping[str, Any], school_did: str) -> tuple[Item, ...]:
    """The items on one page of any stream."""
    if nsid == NOTIFICATIONS:
        return parse_notifications(page, school_did)
    if nsid == AUTHOR_FEED:
        return parse_author_feed(page, school_did)
    return parse_search(page, school_did)


def gap_warning(stream: Stream, max_pages: int) -> SourceWarning:
    """Said once: more new items arrived between two polls than max_pages pages hold."""
    return SourceWarning(
        key=f"gap:{stream.key}",
        message=f"Bluesky {stream.key}: more than {max_pages} pages arrived between two polls; "
        "older items of that stretch were not read",
        fix="raise max_pages or poll this source more often",
    )


@dataclass(frozen=True)
class StreamMark:
    """Where a stream was read up to: the newest indexedAt seen and the newest URIs."""

    newest: datetime | None = None
    uris: tuple[str, ...] = ()

    @classmethod
    def from_state(cls, value: JSONValue) -> StreamMark | None:
        """The mark saved after the previous poll; None when the stream was never read."""
        if not isinstance(value, Mapping):
            return None
        uris = value.get("uris")
        kept = tuple(u for u in uris if isinstance(u, str)) if isinstance(uris, list) else ()
        return cls(parse_timestamp(value.get("newest")), kept)

    def to_state(self) -> dict[str, JSONValue]:
        """The mark as JSON."""
        newest = self.newest.isoformat().replace("+00:00", "Z") if self.newest else None
        return {"newest": newest, "uris": list(self.uris)}

    def reached(self, entries: Sequence[Entry]) -> bool:
        """Whether a page holds an item already seen, or one older than the newest seen."""
        newest = self.newest
        return any(
            uri in self.uris or (newest is not None and when is not None and when < newest)
            for uri, when in entries
        )

    def advanced(self, entries: Sequence[Entry]) -> StreamMark:
        """The mark moved on by the entries of one poll, newest URIs first."""
        times = [when for _, when in entries if when is not None]
        newest = max([*times, *([self.newest] if self.newest else [])], default=None)
        oldest = datetime.min.replace(tzinfo=UTC)
        fresh = [uri for uri, _ in sorted(entries, key=lambda e: e[1] or oldest, reverse=True)]
        return StreamMark(newest, tuple(dict.fromkeys([*fresh, *self.uris]))[:MARK_URIS])


# --- Parsing: pure functions from XRPC payloads to items ------------------------------------


def parse_notifications(page: Mapping[str, Any], school_did: str) -> tuple[Item, ...]:
    """Items for the mention and reply notifications of a listNotifications page."""
    found = []
    for notification in _listed(page, "notifications"):
        kind = NOTIFICATION_KINDS.get(str(notification.get("reason")))
        if kind is not None:
            found.append(post_item(notification, kind, "notifications", school_did))
    return _present(found)


def parse_search(page: Mapping[str, Any], school_did: str) -> tuple[Item, ...]:
    """Items for the posts of a searchPosts page: mentions found by search."""
    posts = _listed(page, "posts")
    return _present(post_item(post, ItemKind.MENTION, SEARCH, school_did) for post in posts)


def parse_author_feed(page: Mapping[str, Any], school_did: str) -> tuple[Item, ...]:
    """The school's own posts and replies in a getAuthorFeed page (reposts and pins skipped)."""
    return _present(
        post_item(post, _post_kind(post), "posts", school_did)
        for post in _own_feed_posts(page)
        if _author(post).get("did") == school_did
    )


def post_item(
    view: Mapping[str, Any], kind: ItemKind, account: str, school_did: str
) -> Item | None:
    """An item for a postView or a notification; None when it is not a post."""
    uri, record = view.get("uri"), view.get("record")
    if not isinstance(uri, str) or not isinstance(record, Mapping):
        return None
    if record.get("$type", POST_COLLECTION) != POST_COLLECTION:
        return None
    author = _author(view)
    reply: Mapping[str, Any] = record["reply"] if isinstance(record.get("reply"), Mapping) else {}
    did = str(author.get("did") or uri.removeprefix("at://").split("/")[0])
    return Item(
        external_id=uri,
        kind=kind,
        text=" ".join(str(record.get("text") or "").split()),
        created_at=_earliest(record.get("createdAt"), view.get("indexedAt")),
        url=post_url(uri, str(author.get("handle") or "")),
        author=Author(id=did, handle=author.get("handle"), display_name=author.get("displayName")),
        by_school=did == school_did,
        account=account,
        parent_id=_ref_uri(reply, "parent"),
        thread_id=_ref_uri(reply, "root") or uri,
        raw=dict(view),
    )


def post_url(uri: str, handle: str) -> str:
    """The bsky.app link of a post: its author's handle (or DID) and record key."""
    authority, _, rest = uri.removeprefix("at://").partition("/")
    profile = handle if handle and handle != "handle.invalid" else authority
    return f"https://bsky.app/profile/{profile}/post/{rest.rsplit('/', 1)[-1]}"


def parse_timestamp(value: object) -> datetime | None:
    """An atproto datetime as aware UTC; a zone-less one is read as UTC; None if unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _earliest(created: object, indexed: object) -> datetime | None:
    # Like Bluesky's own sortAt: a post cannot be newer than when the AppView first saw it.
    times = [t for t in (parse_timestamp(created), parse_timestamp(indexed)) if t is not None]
    return min(times, default=None)


def _post_kind(post: Mapping[str, Any]) -> ItemKind:
    record = post.get("record")
    return ItemKind.REPLY if isinstance(record, Mapping) and record.get("reply") else ItemKind.POST


def _own_feed_posts(page: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        entry["post"]
        for entry in _listed(page, "feed")
        if not entry.get("reason") and isinstance(entry.get("post"), Mapping)
    ]


def _listed(page: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    values = page.get(key)
    if not isinstance(values, list):
        raise PermanentError(
            f"Bluesky answered without a {key!r} list",
            fix="base_url must be https://bsky.social or the account's own PDS",
        )
    return [value for value in values if isinstance(value, Mapping)]


def _author(view: Mapping[str, Any]) -> Mapping[str, Any]:
    author = view.get("author")
    return author if isinstance(author, Mapping) else {}


def _ref_uri(reply: Mapping[str, Any], key: str) -> str | None:
    ref = reply.get(key)
    uri = ref.get("uri") if isinstance(ref, Mapping) else None
    return uri if isinstance(uri, str) and uri else None


def _present(items: Any) -> tuple[Item, ...]:
    return tuple(item for item in items if item is not None)
