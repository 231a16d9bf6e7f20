"""Comments on the school's YouTube channel (Data API v3 over httpx): threads, replies, errors."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from bs4 import BeautifulSoup
from pydantic import BaseModel, Field, field_validator

from connectors.base import (
    AuthError,
    Author,
    Connector,
    FetchResult,
    Item,
    ItemKind,
    JSONValue,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    SourceWarning,
)

log = logging.getLogger(__name__)

API_PATH = "/youtube/v3"
PAGE_SIZE = 100
CHANNEL_ID = re.compile(r"^UC[0-9A-Za-z_-]{22}$")
QUOTA_RESET_MARGIN = timedelta(minutes=5)
SHORT_BACKOFF = timedelta(minutes=1)
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
KEY_REASONS = frozenset({"keyInvalid", "keyExpired", "API_KEY_INVALID", "API_KEY_EXPIRED"})
DISABLED_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})
GONE_REASONS = frozenset({"commentsDisabled", "commentNotFound", "videoNotFound"})
ENABLE_API = "enable 'YouTube Data API v3' in the Google Cloud project that owns the API key"


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class YouTubeConnector(Connector):
    """Polls the comment threads on one YouTube channel, newest first, stopping at the last seen."""

    name = "youtube"
    title = "YouTube channel comments"
    default_interval_minutes = 15
    own_account = True

    class Config(Connector.Config):
        """Settings of one YouTube channel source."""

        channel_id: str
        api_key_credential: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")
        base_url: str = "https://www.googleapis.com"
        timeout_seconds: float = Field(default=20, gt=0)
        max_pages: int = Field(default=5, ge=1, le=50)

        @field_validator("channel_id")
        @classmethod
        def _check_channel_id(cls, value: str) -> str:
            value = value.strip()
            if not CHANNEL_ID.match(value):
                raise ValueError(
                    "must be the channel ID (24 characters starting UC, shown in YouTube Studio"
                    " > Settings > Channel > Advanced settings), not the @handle or a URL"
                )
            return value

    def __init__(
        self,
        source_id: str,
        config: BaseModel,
        secrets: Callable[[str], str],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(source_id, config, secrets)
        self.settings = _as_config(config)
        self.clock = clock
        self._api: YouTubeClient | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Read new comment threads (one page on the first poll) and their replies."""
        cursor = ThreadCursor.from_state(state)
        threads, cut_short = self._recent_threads(cursor)
        items: list[Item] = []
        reply_counts: dict[str, int] = {}
        for thread in threads:
            replies = self._replies(thread, cursor, reply_counts)
            items.extend(parse_thread(thread, channel_id=self.settings.channel_id, replies=replies))
        log.debug("source %s: %d threads, %d items", self.source_id, len(threads), len(items))
        warnings = (self._page_limit_warning(cursor),) if cut_short and cursor.newest else ()
        new_state = cursor.advanced(threads, reply_counts).as_state()
        return FetchResult(items=tuple(items), new_state=new_state, warnings=warnings)

    def probe(self) -> str:
        """One commentThreads.list call: say whether the key, the API and the channel work."""
        page = self._client().comment_threads(None, max_results=1)
        threads = page_items(page)
        where = f"YouTube channel {self.settings.channel_id}: API key accepted"
        if not threads:
            return f"{where}, no public comments yet"
        newest = _published(threads[0])
        when = f"{newest:%Y-%m-%d %H:%M} UTC" if newest else "unknown time"
        return f"{where}, comment threads readable (newest {when})"

    def close(self) -> None:
        """Close the HTTP client."""
        if self._api is not None:
            self._api.close()
            self._api = None

    def _recent_threads(self, cursor: ThreadCursor) -> tuple[list[dict[str, Any]], bool]:
        """Threads newest first up to the first page that reaches one already seen."""
        limit = self.settings.max_pages if cursor.newest else 1
        threads: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(limit):
            page = self._client().comment_threads(token)
            batch = page_items(page)
            threads.extend(batch)
            token = _text(page.get("nextPageToken"))
            if not token or any(cursor.has_seen(thread) for thread in batch):
                return threads, False
        return threads, True

    def _replies(
        self, thread: Mapping[str, Any], cursor: ThreadCursor, counts: dict[str, int]
    ) -> list[dict[str, Any]]:
        """The thread's replies: those included, or all of them when its reply count changed."""
        included = _dicts(dig(thread, "replies", "comments"))
        total, thread_id = dig(thread, "snippet", "totalReplyCount"), _text(thread.get("id"))
        if not isinstance(total, int) or total <= len(included) or not thread_id:
            return included
        counts[thread_id] = total
        if cursor.reply_counts.get(thread_id) == total:
            return included
        parent = _text(dig(thread, "snippet", "topLevelComment", "id")) or thread_id
        every = {_text(c.get("id")): c for c in [*included, *self._all_replies(parent)]}
        return [comment for comment_id, comment in every.items() if comment_id]

    def _all_replies(self, parent_id: str) -> list[dict[str, Any]]:
        """Every reply to a top-level comment (comments.list), up to `max_pages` pages."""
        replies: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(self.settings.max_pages):
            try:
                page = self._client().replies(parent_id, token)
            except CommentsGone as gone:
                log.debug(
                    "source %s: replies to %s unavailable: %s", self.source_id, parent_id, gone
                )
                break
            replies.extend(page_items(page))
            token = _text(page.get("nextPageToken"))
            if not token:
                break
        return replies

    def _page_limit_warning(self, cursor: ThreadCursor) -> SourceWarning:
        pages = self.settings.max_pages
        return SourceWarning(
            key=f"youtube-page-limit:{cursor.as_state()['newest_published_at']}",
            message=(
                f"more than {pages * PAGE_SIZE} new comment threads on YouTube channel "
                f"{self.settings.channel_id} since the last poll: older new ones were not read"
            ),
            fix="raise max_pages for this source (each page costs 1 quota unit) or poll more often",
        )

    def _client(self) -> YouTubeClient:
        if self._api is None:
            self._api = YouTubeClient(self.settings, self._api_key, self.clock)
        return self._api

    def _api_key(self) -> str:
        name = self.settings.api_key_credential
        try:
            return self.secrets(name)
        except LookupError:
            raise AuthError(
                f"the YouTube API key credential {name!r} is not set",
                fix=f"store the API key as credential {name} (see docs/connectors/youtube.md)",
            ) from None


def _as_config(config: BaseModel) -> YouTubeConnector.Config:
    if isinstance(config, YouTubeConnector.Config):
        return config
    return YouTubeConnector.Config.model_validate(config.model_dump())


# --- Cursor: the newest top-level comment seen, and the ids seen at that instant ----------


@dataclass(frozen=True)
class ThreadCursor:
    """Where the last poll stopped; threads are ordered by their top-level comment's time."""

    newest: datetime | None = None
    ids_at_newest: frozenset[str] = frozenset()
    reply_counts: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: Mapping[str, JSONValue]) -> ThreadCursor:
        """The cursor saved by `as_state`; anything unreadable starts afresh."""
        ids, counts = state.get("ids_at_newest"), state.get("reply_counts")
        ids = ids if isinstance(ids, list) else []
        counts = counts if isinstance(counts, Mapping) else {}
        return cls(
            newest=parse_time(state.get("newest_published_at")),
            ids_at_newest=frozenset(i for i in ids if isinstance(i, str)),
            reply_counts={str(k): v for k, v in counts.items() if isinstance(v, int)},
        )

    def has_seen(self, thread: Mapping[str, Any]) -> bool:
        """True when the thread is at or before where the last poll stopped."""
        published = _published(thread)
        if self.newest is None or published is None:
            return False
        if published == self.newest:
            return _text(thread.get("id")) in self.ids_at_newest
        return published < self.newest

    def advanced(
        self, threads: Sequence[Mapping[str, Any]], reply_counts: Mapping[str, int]
    ) -> ThreadCursor:
        """The cursor after reading `threads` (it never moves back)."""
        newest, ids = self.newest, set(self.ids_at_newest)
        for thread in threads:
            published, thread_id = _published(thread), _text(thread.get("id"))
            if published is None or not thread_id:
                continue
            if newest is None or published > newest:
                newest, ids = published, {thread_id}
            elif published == newest:
                ids.add(thread_id)
        return ThreadCursor(newest, frozenset(ids), dict(reply_counts))

    def as_state(self) -> dict[str, JSONValue]:
        """JSON for the database."""
        when = self.newest.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if self.newest else None
        return {
            "newest_published_at": when,
            "ids_at_newest": sorted(self.ids_at_newest),
            "reply_counts": dict(sorted(self.reply_counts.items())),
        }


# --- HTTP: the two list calls, with the key and typed errors ------------------------------


class CommentsGone(PermanentError):
    """Comments are turned off, or the comment or video has gone."""


class YouTubeClient:
    """commentThreads.list and comments.list for one channel; the key never leaves this class."""

    def __init__(
        self,
        settings: YouTubeConnector.Config,
        api_key: Callable[[], str],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings, self._read_key, self.clock = settings, api_key, clock
        self._http = httpx.Client(
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


# --- Parsing: pure functions from payloads to items ---------------------------------------


def page_items(page: JSONValue) -> list[dict[str, Any]]:
    """The `items` of a list response; PermanentError when the body is not one."""
    if not isinstance(page, Mapping) or not isinstance(page.get("items", []), list):
        raise PermanentError("YouTube returned a response without an items list")
    return _dicts(page.get("items", []))


@dataclass(frozen=True)
class ParseContext:
    """What a comment's items need from its thread."""

    channel_id: str
    thread_id: str
    video_id: str | None


def parse_thread(
    thread: Mapping[str, Any],
    *,
    channel_id: str,
    replies: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[Item, ...]:
    """The top-level comment and its replies (default: the five at most included) as items."""
    thread_id, top = _text(thread.get("id")), dig(thread, "snippet", "topLevelComment")
    top_id = _text(dig(top, "id"))
    if not thread_id or not top_id:
        return ()
    video = _text(dig(thread, "snippet", "videoId")) or _text(dig(top, "snippet", "videoId"))
    answers = _dicts(dig(thread, "replies", "comments")) if replies is None else replies
    context = ParseContext(channel_id, thread_id, video or None)
    return (
        parse_comment(top, context),
        *(parse_comment(reply, context, reply_to=top_id) for reply in answers if dig(reply, "id")),
    )


def parse_comment(
    comment: Mapping[str, Any], context: ParseContext, *, reply_to: str | None = None
) -> Item:
    """One comment resource; a reply when `reply_to` (its top-level comment's id) is given."""
    snippet, comment_id = dig(comment, "snippet"), _text(comment.get("id"))
    snippet = snippet if isinstance(snippet, Mapping) else {}
    author = comment_author(snippet)
    parent = context.video_id if reply_to is None else _text(snippet.get("parentId")) or reply_to
    channel = _text(snippet.get("channelId")) or context.channel_id
    return Item(
        external_id=comment_id,
        kind=ItemKind.COMMENT if reply_to is None else ItemKind.REPLY,
        text=comment_text(snippet),
        created_at=parse_time(snippet.get("publishedAt")),
        url=comment_url(context.video_id, comment_id, channel),
        author=author,
        by_school=author.id == context.channel_id,
        account="comments",
        parent_id=parent,
        thread_id=context.thread_id,
        raw=dict(comment),
    )


def comment_author(snippet: Mapping[str, Any]) -> Author:
    """Channel id, @handle and display name of a comment's author."""
    name = _text(snippet.get("authorDisplayName"))
    path = urlsplit(_text(snippet.get("authorChannelUrl"))).path.rstrip("/")
    handle = path.rsplit("/", 1)[-1] if "/@" in path else (name if name.startswith("@") else "")
    channel = _text(dig(snippet, "authorChannelId", "value"))
    return Author(id=channel or None, handle=handle or None, display_name=name or None)


def comment_text(snippet: Mapping[str, Any]) -> str:
    """textOriginal, else textDisplay reduced to plain text (line breaks kept)."""
    original = snippet.get("textOriginal")
    if isinstance(original, str) and original.strip():
        return original.strip()
    return display_text(_text(snippet.get("textDisplay")))


def display_text(html: str) -> str:
    """Plain text of YouTube's textDisplay HTML: <br> becomes a line break, entities decoded."""
    if "<" not in html and "&" not in html:
        return html.strip()
    soup = BeautifulSoup(html, "html.parser")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().split("\n"))
    return "\n".join(lines).strip()


def comment_url(video_id: str | None, comment_id: str, channel_id: str) -> str:
    """The comment highlighted under its video (or the channel for channel comments)."""
    if video_id:
        return f"https://www.youtube.com/watch?v={video_id}&lc={comment_id}"
    return f"https://www.youtube.com/channel/{channel_id}"


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime; None when missing or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def dig(value: object, *keys: str) -> Any:
    """`value[k1][k2]...`, or None where a level is missing or not an object."""
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _dicts(value: object) -> list[dict[str, Any]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _published(thread: Mapping[str, Any]) -> datetime | None:
    return parse_time(dig(thread, "snippet", "topLevelComment", "snippet", "publishedAt"))
