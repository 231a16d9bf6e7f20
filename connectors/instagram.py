"""A school's Instagram professional account: its media, their comments and replies, and tags."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from connectors.base import (
    Author,
    Connector,
    ConnectorError,
    FetchResult,
    Item,
    ItemKind,
    JSONValue,
    PermanentError,
    SourceWarning,
)
from connectors.graph import (
    DEFAULT_VERSION,
    INSTAGRAM_HOST,
    MAX_PAGE_SIZE,
    VERSION_PATTERN,
    Advice,
    Clock,
    GraphClient,
    JSONObject,
    UnknownObject,
    clean_text,
    collect_until,
    deleted_post,
    https_url,
    newest_since,
    parse_graph_time,
    read_token,
    remembered,
    seen_or_old,
    unique,
    utcnow,
    with_ids,
)

log = logging.getLogger(__name__)

DOC = "docs/connectors/instagram.md"
FACEBOOK_LOGIN_PERMISSIONS = (
    "instagram_basic",
    "instagram_manage_comments",
    "pages_read_engagement",
)
INSTAGRAM_LOGIN_PERMISSIONS = ("instagram_business_basic", "instagram_business_manage_comments")
MEDIA_FIELDS = "id,caption,timestamp,permalink,username,comments_count"
REPLY_FIELDS = "id,text,timestamp,username,from,parent_id"
COMMENT_FIELDS = f"id,text,timestamp,username,from,replies{{{REPLY_FIELDS}}}"
TAG_FIELDS = "id,caption,timestamp,permalink,username"
PAGE_SIZE = 50
MEDIA_PAGES, COMMENT_PAGES, REPLY_PAGES, TAG_PAGES = 3, 4, 2, 2
REFRESH_RETRY = timedelta(hours=6)
WARN_WITHIN = timedelta(days=7)


class InstagramConnector(Connector):
    """Polls one Instagram professional account: recent media, comments, replies and tags."""

    name = "instagram"
    title = "Instagram (professional account)"
    # Fifteen minutes: comments on school media are owed a reply within 24 hours, and Instagram
    # comments arrive more slowly than Page comments; one poll costs 1 + media with comments.
    default_interval_minutes = 15
    own_account = True

    class Config(Connector.Config):
        """Settings of one Instagram account source."""

        ig_user_id: str = Field(pattern=r"^\d+$", description="the account's numeric id")
        username: str = Field(min_length=1)
        access_token_credential: str = Field(min_length=1)
        graph_version: str = Field(default=DEFAULT_VERSION, pattern=VERSION_PATTERN)
        host: Literal["graph.facebook.com", "graph.instagram.com"] = "graph.facebook.com"
        lookback_days: int = Field(default=7, ge=1, le=90)
        max_media: int = Field(default=25, ge=1, le=MAX_PAGE_SIZE)
        refresh_within_days: int = Field(default=10, ge=1, le=59)
        include_tags: bool = True
        timeout_seconds: float = Field(default=20, gt=0)

        @field_validator("username")
        @classmethod
        def _plain_username(cls, username: str) -> str:
            return username.strip().removeprefix("@")

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
        self.clock = clock or utcnow
        self._client: GraphClient | None = None
        self._held: Token | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Refresh the token if due, then read media, their comments and replies, and tags."""
        now = self.clock()
        token, warnings = self._token(state, now)
        graph = self._graph(token.value)
        known = remembered(state, "media")
        cutoff = now - timedelta(days=self.settings.lookback_days)
        media = self._read_media(graph, known, cutoff)
        watched = watch_list(known, media, cutoff, self.settings.max_media)
        items = [parse_media(m, self.settings.ig_user_id, self.settings.username) for m in media]
        for media_id, entry in list(watched.items()):
            found = self._media_comments(graph, media_id, entry)
            if found is None:
                items.append(deleted_post(media_id, watched.pop(media_id).get("created"), "media"))
            items.extend(found or ())
        tags, tag_warnings = self._read_tags(graph, state)
        items.extend(parse_tag(tag) for tag in tags if not self._own(tag))
        new_state: dict[str, JSONValue] = {
            "media": {
                m: {k: e.get(k) for k in ("created", "permalink")} for m, e in watched.items()
            },
            "tags": [str(tag["id"]) for tag in tags],
        }
        if self.settings.host == INSTAGRAM_HOST:
            new_state["token"] = token.as_state()  # the refreshed token lives in the database
        return FetchResult(unique(items), new_state, warnings=warnings + tag_warnings)

    def probe(self) -> str:
        """One request: the account's username and media count, checked against the config."""
        token = self._held or Token.seeded(self._credential())
        account = self._graph(token.value).get(
            self.settings.ig_user_id, fields="id,username,media_count"
        )
        username = str(account.get("username") or "")
        if username.casefold() != self.settings.username.casefold():
            raise PermanentError(
                f"account {self.settings.ig_user_id} is @{username}, not "
                f"@{self.settings.username}: the school's replies would not be recognised",
                fix=f"set username = {username!r} (or correct ig_user_id)",
            )
        return f"Instagram account @{username} reachable, {account.get('media_count', 0)} media"

    def close(self) -> None:
        """Close the Graph API session."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _credential(self) -> str:
        return read_token(self.secrets, self.settings.access_token_credential)

    def _graph(self, token: str) -> GraphClient:
        if self._client is None:
            self._client = GraphClient(
                token,
                advice=advice_for(self.settings),
                version=self.settings.graph_version,
                host=self.settings.host,
                timeout=self.settings.timeout_seconds,
                clock=self.clock,
            )
        self._client.access_token = token
        return self._client

    # --- token lifetime (Instagram Login tokens last 60 days and are refreshed here) -------

    def _token(
        self, state: Mapping[str, JSONValue], now: datetime
    ) -> tuple[Token, tuple[SourceWarning, ...]]:
        credential = self._credential()
        saved = self._held or Token.from_state(state.get("token"))
        token = saved if saved and saved.matches(credential) else Token.seeded(credential)
        if self.settings.host != INSTAGRAM_HOST:
            return token, ()  # Facebook Login: a Page-derived token does not expire
        if not token.refresh_due(now, timedelta(days=self.settings.refresh_within_days)):
            return token, ()
        return self._refreshed(token, now)

    def _refreshed(self, token: Token, now: datetime) -> tuple[Token, tuple[SourceWarning, ...]]:
        try:
            answer = self._graph(token.value).get_unversioned(
                "refresh_access_token", grant_type="ig_refresh_token", access_token=token.value
            )
            fresh = replace(
                token,
                value=str(answer["access_token"]),
                expires_at=now + timedelta(seconds=int(answer["expires_in"])),
                retry_refresh_at=None,
            )
        except (ConnectorError, KeyError, TypeError, ValueError) as error:
            failed = replace(token, retry_refresh_at=now + REFRESH_RETRY)
            self._held = failed
            reason = error.one_line() if isinstance(error, ConnectorError) else "odd answer"
            log.warning("source %s: token refresh failed: %s", self.source_id, reason)
            return failed, expiry_warnings(failed, now, reason)
        self._held = fresh
        log.info("source %s: token refreshed, now expires %s", self.source_id, fresh.expiry_day)
        return fresh, ()

    # --- reading ---------------------------------------------------------------------------

    def _read_media(
        self, graph: GraphClient, known: Mapping[str, JSONObject], cutoff: datetime
    ) -> list[JSONObject]:
        """The account's media, newest first; past the first page until a known or old one."""
        pages = graph.pages(
            f"{self.settings.ig_user_id}/media",
            max_pages=MEDIA_PAGES if known else 1,
            fields=MEDIA_FIELDS,
            limit=self.settings.max_media,
        )
        return collect_until(
            pages, lambda page: any(seen_or_old(m, known, cutoff, "timestamp") for m in page)
        )

    def _media_comments(
        self, graph: GraphClient, media_id: str, entry: JSONObject
    ) -> list[Item] | None:
        """Every comment and reply on one media (bounded pages); None if the media is gone."""
        if entry.get("comments_count") == 0:
            return []
        pages = graph.pages(
            f"{media_id}/comments", max_pages=COMMENT_PAGES, fields=COMMENT_FIELDS, limit=PAGE_SIZE
        )
        try:
            comments = [comment for page in pages for comment in with_ids(page)]
        except UnknownObject:
            log.info("source %s: media %s is gone (deleted or archived)", self.source_id, media_id)
            return None
        url, school = entry.get("permalink"), (self.settings.ig_user_id, self.settings.username)
        items = []
        for comment in comments:
            items.append(parse_comment(comment, media_id, url, school))
            replies = self._replies(graph, comment)
            items.extend(parse_reply(r, comment, media_id, url, school) for r in replies)
        return items

    def _replies(self, graph: GraphClient, comment: JSONObject) -> list[JSONObject]:
        """The replies nested in a comment, or all of them when Graph paged the nested list."""
        nested = comment.get("replies")
        if not isinstance(nested, dict):
            return []
        paging = nested.get("paging")
        if not (isinstance(paging, dict) and paging.get("next")):
            return with_ids(nested.get("data") or [])
        pages = graph.pages(
            f"{comment['id']}/replies", max_pages=REPLY_PAGES, fields=REPLY_FIELDS, limit=PAGE_SIZE
        )
        try:
            return [reply for page in pages for reply in with_ids(page)]
        except UnknownObject:  # the comment went while we read: keep what was nested
            return with_ids(nested.get("data") or [])

    def _read_tags(
        self, graph: GraphClient, state: Mapping[str, JSONValue]
    ) -> tuple[list[JSONObject], tuple[SourceWarning, ...]]:
        """Media the account is tagged in; a warning if the API refuses to list them."""
        if not self.settings.include_tags:
            return [], ()
        known = {str(i) for i in state.get("tags") or [] if isinstance(i, str | int)}
        pages = graph.pages(
            f"{self.settings.ig_user_id}/tags",
            max_pages=TAG_PAGES if known else 1,
            fields=TAG_FIELDS,
            limit=PAGE_SIZE,
        )
        try:
            tags = collect_until(pages, lambda page: any(str(t["id"]) in known for t in page))
        except PermanentError as error:
            refused = SourceWarning(
                key="tags-unavailable",
                message=f"media the account is tagged in cannot be read: {error}",
                fix=f"{error.fix}; or set include_tags = false to stop asking",
            )
            return [], (refused,)
        return tags, ()

    def _own(self, media: JSONObject) -> bool:
        return str(media.get("username") or "").casefold() == self.settings.username.casefold()


def advice_for(settings: InstagramConnector.Config) -> Advice:
    """The permissions and settings named in error fixes: they depend on the login type."""
    login = settings.host == INSTAGRAM_HOST
    permissions = INSTAGRAM_LOGIN_PERMISSIONS if login else FACEBOOK_LOGIN_PERMISSIONS
    credential = settings.access_token_credential
    return Advice(DOC, credential, permissions, "ig_user_id", "Instagram account id")


def _as_config(config: BaseModel) -> InstagramConnector.Config:
    if isinstance(config, InstagramConnector.Config):
        return config
    return InstagramConnector.Config.model_validate(config.model_dump())


# --- The token kept in the source's state --------------------------------------------------


@dataclass(frozen=True)
class Token:
    """The current access token, when it expires, and the credential it descends from."""

    value: str
    expires_at: datetime | None
    credential: str
    retry_refresh_at: datetime | None = None

    @classmethod
    def seeded(cls, credential: str) -> Token:
        """The credential itself, its expiry not yet known."""
        return cls(credential, None, fingerprint(credential))

    @classmethod
    def from_state(cls, raw: JSONValue) -> Token | None:
        """The token saved by the previous poll; None when absent or unreadable."""
        if not isinstance(raw, dict) or not isinstance(raw.get("value"), str):
            return None
        return cls(
            raw["value"],
            parse_graph_time(raw.get("expires_at")),
            str(raw.get("credential") or ""),
            parse_graph_time(raw.get("retry_refresh_at")),
        )

    def as_state(self) -> JSONObject:
        """The token as JSON for the source's state (kept in the database)."""
        retry = self.retry_refresh_at
        return {
            "value": self.value,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "credential": self.credential,
            "retry_refresh_at": retry.isoformat() if retry else None,
        }

    def matches(self, credential: str) -> bool:
        """Whether this token descends from `credential` (a new credential replaces it)."""
        return self.credential == fingerprint(credential)

    def refresh_due(self, now: datetime, within: timedelta) -> bool:
        """Unknown expiry or fewer than `within` left, and no failed attempt in the last hours."""
        if self.retry_refresh_at is not None and now < self.retry_refresh_at:
            return False
        return self.expires_at is None or self.expires_at - now < within

    @property
    def expiry_day(self) -> str:
        """The expiry date (ISO), or "unknown"."""
        return self.expires_at.date().isoformat() if self.expires_at else "unknown"


def fingerprint(credential: str) -> str:
    """A short hash of a credential: tells a replaced credential without storing it twice."""
    return hashlib.sha256(credential.encode("utf-8")).hexdigest()[:16]


def expiry_warnings(token: Token, now: datetime, reason: str) -> tuple[SourceWarning, ...]:
    """A warning for the IT lead when the token expires within 7 days and cannot be refreshed."""
    if token.expires_at is None or token.expires_at - now >= WARN_WITHIN:
        return ()
    return (
        SourceWarning(
            key=f"token-expiry:{token.expiry_day}",
            message=(
                f"the Instagram access token expires on {token.expiry_day} and could not be "
                f"refreshed ({reason}); polling stops when it expires"
            ),
            fix=f"make a new long-lived token as {DOC} describes and store it as the credential",
        ),
    )


# --- Cursor --------------------------------------------------------------------------------


def watch_list(
    known: Mapping[str, JSONObject], media: Iterable[JSONObject], cutoff: datetime, limit: int
) -> dict[str, JSONObject]:
    """Media whose comments are read this poll: posted since `cutoff`, newest first."""
    watched = dict(known)
    for entry in media:
        watched[str(entry["id"])] = {
            "created": entry.get("timestamp"),
            "permalink": entry.get("permalink"),
            "comments_count": entry.get("comments_count"),
        }
    return newest_since(watched, cutoff, limit)


# --- Parsing: pure functions from Graph payloads to items ----------------------------------

School = tuple[str, str]
"""The school's account as (ig_user_id, username)."""


def parse_media(media: JSONObject, ig_user_id: str, username: str) -> Item:
    """One of the account's own media: by the school, the thread its comments belong to."""
    media_id = str(media["id"])
    return Item(
        external_id=media_id,
        kind=ItemKind.POST,
        text=clean_text(media.get("caption")),
        created_at=parse_graph_time(media.get("timestamp")),
        url=https_url(media.get("permalink")),
        author=Author(id=ig_user_id, handle=media.get("username") or username),
        by_school=True,
        account="media",
        thread_id=media_id,
        raw=media,
    )


def parse_comment(comment: JSONObject, media_id: str, url: Any, school: School) -> Item:
    """A comment on the account's media (its replies are separate items)."""
    raw = {key: value for key, value in comment.items() if key != "replies"}
    return _comment_item(raw, ItemKind.COMMENT, media_id, media_id, url, school)


def parse_reply(
    reply: JSONObject, comment: JSONObject, media_id: str, url: Any, school: School
) -> Item:
    """A reply to a comment; the school's own replies are by_school."""
    parent = str(reply.get("parent_id") or comment["id"])
    return _comment_item(reply, ItemKind.REPLY, parent, media_id, url, school)


def parse_tag(media: JSONObject) -> Item:
    """Someone else's media that tags the school: a mention of it, in its own thread."""
    media_id, username = str(media["id"]), media.get("username") or None
    return Item(
        external_id=media_id,
        kind=ItemKind.MENTION,
        text=clean_text(media.get("caption")),
        created_at=parse_graph_time(media.get("timestamp")),
        url=https_url(media.get("permalink")),
        author=Author(handle=username),
        account="tags",
        thread_id=media_id,
        raw=media,
    )


def _comment_item(
    payload: JSONObject, kind: ItemKind, parent_id: str, media_id: str, url: Any, school: School
) -> Item:
    given = payload.get("from")
    sender: JSONObject = given if isinstance(given, dict) else {}
    username = payload.get("username") or sender.get("username") or None
    author_id = str(sender["id"]) if sender.get("id") else None
    by_school = author_id == school[0] or (
        username is not None and str(username).casefold() == school[1].casefold()
    )
    return Item(
        external_id=str(payload["id"]),
        kind=kind,
        text=clean_text(payload.get("text")),
        created_at=parse_graph_time(payload.get("timestamp")),
        url=https_url(url),
        author=Author(id=author_id, handle=username),
        by_school=by_school,
        account="comments",
        parent_id=parent_id,
        thread_id=media_id,
        raw=payload,
    )
