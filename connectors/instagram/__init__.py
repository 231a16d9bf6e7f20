"""A school's Instagram professional account: its media, their comments and replies, and tags."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, field_validator

from connectors.base import (
    Connector,
    ConnectorError,
    FetchResult,
    Item,
    JSONValue,
    PermanentError,
    SourceWarning,
)
from connectors.graph import (
    INSTAGRAM_HOST,
    MAX_PAGE_SIZE,
    GraphClient,
    GraphSettings,
    JSONObject,
    collect_until,
    deleted_post,
    remembered,
    unique,
    with_ids,
)
from connectors.graph_errors import Advice, UnknownObject
from connectors.instagram.cursor import watch_list
from connectors.instagram.parse import School, parse_comment, parse_media, parse_reply, parse_tag
from connectors.instagram.token import (
    DOC,
    REFRESH_RETRY,
    WARN_WITHIN,
    Token,
    expiry_warnings,
    fingerprint,
)

__all__ = [
    "COMMENT_FIELDS",
    "DOC",
    "FACEBOOK_LOGIN_PERMISSIONS",
    "INSTAGRAM_LOGIN_PERMISSIONS",
    "MEDIA_FIELDS",
    "REFRESH_RETRY",
    "REPLY_FIELDS",
    "TAG_FIELDS",
    "WARN_WITHIN",
    "InstagramConnector",
    "School",
    "Token",
    "advice_for",
    "expiry_warnings",
    "fingerprint",
    "parse_comment",
    "parse_media",
    "parse_reply",
    "parse_tag",
    "watch_list",
]

log = logging.getLogger(__name__)

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


class InstagramConnector(Connector):
    """Polls one Instagram professional account: recent media, comments, replies and tags."""

    name = "instagram"
    title = "Instagram (professional account)"
    # Fifteen minutes: comments on school media are owed a reply within 24 hours, and Instagram
    # comments arrive more slowly than Page comments; one poll costs 1 + media with comments.
    default_interval_minutes = 15
    own_account = True

    class Config(GraphSettings):
        """Settings of one Instagram account source."""

        ig_user_id: str = Field(pattern=r"^\d+$", description="the account's numeric id")
        username: str = Field(min_length=1)
        host: Literal["graph.facebook.com", "graph.instagram.com"] = "graph.facebook.com"
        max_media: int = Field(default=25, ge=1, le=MAX_PAGE_SIZE)
        refresh_within_days: int = Field(default=10, ge=1, le=59)
        include_tags: bool = True

        @field_validator("username")
        @classmethod
        def _plain_username(cls, username: str) -> str:
            return username.strip().removeprefix("@")

    settings: Config
    _client: GraphClient | None = None
    _held: Token | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Refresh the token if due, then read media, their comments and replies, and tags."""
        now = self.clock()
        token, warnings = self._token(state, now)
        graph = self._graph(token.value)
        known = remembered(state, "media")
        cutoff = now - timedelta(days=self.settings.lookback_days)
        media = graph.recent(
            f"{self.settings.ig_user_id}/media",
            known,
            cutoff,
            "timestamp",
            max_pages=MEDIA_PAGES,
            fields=MEDIA_FIELDS,
            limit=self.settings.max_media,
        )
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
        return self.credential(self.settings.access_token_credential, "Instagram token", DOC)

    def _graph(self, token: str) -> GraphClient:
        if self._client is None:
            self._client = GraphClient(
                token,
                advice=advice_for(self.settings),
                version=self.settings.graph_version,
                host=self.settings.host,
                timeout=self.settings.timeout_seconds,
                clock=self.clock,
                limits=self.limits,
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
