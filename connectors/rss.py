"""RSS and Atom feeds (Google Alerts, WordPress comments, local news): fetch → parse → items."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit
from urllib.request import url2pathname

import feedparser
import httpx
from bs4 import BeautifulSoup
from pydantic import Field, field_validator

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
)

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "orm-monitor/0.1 (+https://github.com/orm-monitor/orm-monitor)"
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
URL_SCHEMES = ("http", "https", "file")
WORDPRESS_COMMENT_FEED_TITLES = ("comments on:", "comments for ")
INLINE_TAGS = ("a", "abbr", "b", "cite", "em", "i", "mark", "q", "small", "span", "strong", "u")
DROPPED_TAGS = ("script", "style", "noscript", "template")

Kind = Literal["article", "mention", "comment", "post", "review"]


class RssConnector(Connector):
    """Polls one RSS or Atom feed with conditional GETs (ETag / Last-Modified)."""

    name = "rss"
    title = "RSS / Atom feed"
    default_interval_minutes = 15

    class Config(Connector.Config):
        """Settings of one feed source."""

        url: str
        user_agent: str = DEFAULT_USER_AGENT
        timeout_seconds: float = Field(default=20, gt=0)
        kind: Kind | None = None
        by_school_authors: list[str] = []

        @field_validator("url")
        @classmethod
        def _check_url(cls, url: str) -> str:
            url = url.strip()
            parts = urlsplit(url)
            if parts.scheme.lower() not in URL_SCHEMES:
                raise ValueError("must be an http://, https:// or file:// URL")
            if parts.scheme.lower() != "file" and not parts.hostname:
                raise ValueError("an http(s) URL needs a host name")
            if parts.scheme.lower() == "file" and not parts.path:
                raise ValueError("a file:// URL needs a path")
            return url

    settings: Config
    _client: httpx.Client | None = None

    def fetch(self, state: Mapping[str, JSONValue]) -> FetchResult:
        """Poll the feed once; a 304 Not Modified returns no items and the same state."""
        content, new_state = self._download(state)
        if content is None:
            return FetchResult(items=(), new_state=new_state, not_modified=True)
        items = parse_feed(content, source_url=self.settings.url, config=self.settings)
        log.debug(
            "source %s: %d entries from %s",
            self.source_id,
            len(items),
            public_url(self.settings.url),
        )
        return FetchResult(items=items, new_state=new_state)

    def probe(self) -> str:
        """Fetch the feed once and say its title and how many entries it has."""
        content, _ = self._download({})
        document = _parse_document(content or b"", public_url(self.settings.url))
        title = _detail_text(document.feed, "title") or "(untitled)"
        count = len(_document_items(document, self.settings))
        return f"feed '{title}' reachable, {count} {'entry' if count == 1 else 'entries'}"

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _download(
        self, state: Mapping[str, JSONValue]
    ) -> tuple[bytes | None, dict[str, JSONValue]]:
        """The feed's bytes (None when unchanged since `state`) and the state to save."""
        if urlsplit(self.settings.url).scheme.lower() == "file":
            return read_file_url(self.settings.url), dict(state)
        response = self._get(conditional_headers(state))
        if response.status_code == 304:
            return None, dict(state)
        raise_for_status(response, self.settings.url)
        return response.content, cache_state(response)

    def _get(self, headers: dict[str, str]) -> httpx.Response:
        where = public_url(self.settings.url)
        try:
            return self._http().get(self.settings.url, headers=headers)
        except httpx.TimeoutException:
            seconds = self.settings.timeout_seconds
            raise SourceUnavailable(f"{where} timed out after {seconds:g}s") from None
        except httpx.TooManyRedirects:
            raise PermanentError(
                f"{where} redirects too many times",
                fix="open the feed URL in a browser and use the address it ends up at",
            ) from None
        except httpx.HTTPError as error:
            raise SourceUnavailable(f"{where} could not be reached: {_describe(error)}") from None

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                follow_redirects=True,
                timeout=httpx.Timeout(self.settings.timeout_seconds),
                headers={"User-Agent": self.settings.user_agent, "Accept": ACCEPT},
            )
        return self._client


# --- HTTP: conditional requests, caching state and error mapping ---------------------------


def public_url(url: str) -> str:
    """The URL as scheme://host[:port]/path: no credentials, query string or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def conditional_headers(state: Mapping[str, JSONValue]) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the validators saved after the previous poll."""
    headers = {}
    if isinstance(state.get("etag"), str):
        headers["If-None-Match"] = state["etag"]
    if isinstance(state.get("modified"), str):
        headers["If-Modified-Since"] = state["modified"]
    return headers


def cache_state(response: httpx.Response) -> dict[str, JSONValue]:
    """The response's ETag and Last-Modified, verbatim, to send back next time."""
    return {"etag": response.headers.get("etag"), "modified": response.headers.get("last-modified")}


def retry_at_from_header(value: str | None, *, now: datetime) -> datetime | None:
    """When a Retry-After header (delay in seconds or an HTTP-date) says to try again."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def raise_for_status(response: httpx.Response, url: str) -> None:
    """Map a non-2xx response to the connector's typed errors."""
    status, where = response.status_code, public_url(url)
    if 200 <= status < 300:
        return
    retry_at = retry_at_from_header(response.headers.get("retry-after"), now=datetime.now(UTC))
    if status == 429 or (status == 503 and retry_at is not None):
        raise RateLimited(f"{where} answered HTTP {status}: too many requests", retry_at=retry_at)
    if status >= 500:
        raise SourceUnavailable(f"{where} answered HTTP {status}: a server error")
    if status in (401, 403):
        raise AuthError(
            f"{where} answered HTTP {status}: access denied",
            fix="the feed is private or its key has changed: check the URL (and its key) is right",
        )
    if status in (404, 410):
        raise PermanentError(
            f"{where} answered HTTP {status}: no feed at this address",
            fix="the feed URL is wrong or the feed was deleted: copy the feed URL again",
        )
    raise PermanentError(
        f"{where} answered HTTP {status}",
        fix="check the feed URL: the site refuses this request",
    )


def read_file_url(url: str) -> bytes:
    """The bytes of a local feed named by a file:// URL; PermanentError if it cannot be read."""
    path = Path(url2pathname(urlsplit(url).path))
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PermanentError(
            f"feed file {path} does not exist", fix="check the file:// URL's path"
        ) from None
    except OSError as error:
        raise PermanentError(
            f"feed file {path} cannot be read: {error.strerror}",
            fix="check the file:// URL's path and its permissions",
        ) from None


def _describe(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return re.sub(r"\?[^\s'\"]*", "", text)


# --- Parsing: a pure function from feed bytes to items -------------------------------------


def parse_feed(
    content: bytes, *, source_url: str, config: RssConnector.Config | None = None
) -> tuple[Item, ...]:
    """Items of an RSS or Atom document; PermanentError if the bytes are not a feed."""
    return _document_items(_parse_document(content, public_url(source_url)), config)


def _document_items(document: Any, config: RssConnector.Config | None) -> tuple[Item, ...]:
    comments_feed = _is_comments_feed(document.feed)
    return tuple(
        _entry_item(entry, config, comments_feed)
        for entry in document.entries
        if _is_identifiable(entry)
    )


def _parse_document(content: bytes, where: str) -> Any:
    document = feedparser.parse(content)
    if not document.entries and (
        not document.get("version") or (document.bozo and not document.feed.get("title"))
    ):
        raise PermanentError(
            f"{where} is not an RSS or Atom feed (it returned a web page or other content)",
            fix="use the feed's own URL (often ending /feed or .xml), not the web page's",
        )
    return document


def _is_identifiable(entry: Mapping[str, Any]) -> bool:
    # A truncated document can end in an entry with nothing in it yet: no id, link or title.
    return any(str(entry.get(key) or "").strip() for key in ("id", "link", "title"))


def _is_comments_feed(feed: Mapping[str, Any]) -> bool:
    title = str(feed.get("title", "")).strip().lower()
    return title.startswith(WORDPRESS_COMMENT_FEED_TITLES)


def _entry_item(entry: Any, config: RssConnector.Config | None, comments_feed: bool) -> Item:
    link = entry.get("link") or None
    is_comment = comments_feed or _is_comment_entry(entry)
    kind = ItemKind(config.kind) if config and config.kind else _detected_kind(is_comment)
    parent = _without_fragment(link) if is_comment and kind is ItemKind.COMMENT else None
    author = (entry.get("author") or "").strip() or None
    return Item(
        external_id=entry_id(entry),
        kind=kind,
        text=_entry_text(entry),
        created_at=entry_datetime(entry),
        url=unwrap_google_redirect(link) if link else None,
        author=Author(display_name=author),
        by_school=_is_school_author(author, config),
        title=_detail_text(entry, "title") or None,
        parent_id=parent,
        thread_id=parent,
        raw=json_safe(entry),
    )


def _is_comment_entry(entry: Mapping[str, Any]) -> bool:
    return any("#comment-" in str(entry.get(key) or "") for key in ("link", "id"))


def _detected_kind(is_comment: bool) -> ItemKind:
    return ItemKind.COMMENT if is_comment else ItemKind.ARTICLE


def entry_id(entry: Mapping[str, Any]) -> str:
    """The entry's guid/id, else a hash of its link and title (stable across polls)."""
    given = str(entry.get("id") or "").strip()
    if given:
        return given
    basis = f"{entry.get('link') or ''}\n{entry.get('title') or ''}"
    return "sha256:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()


def entry_datetime(entry: Mapping[str, Any]) -> datetime | None:
    """Published, else updated, as an aware UTC datetime; None when missing or unparseable."""
    for key in ("published_parsed", "updated_parsed"):
        # dict.get skips FeedParserDict's deprecated updated→published alias (and its warning).
        parsed = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if isinstance(parsed, time.struct_time):
            try:
                return datetime(*parsed[:6], tzinfo=UTC)
            except (TypeError, ValueError, OverflowError):
                continue
    return None


def unwrap_google_redirect(url: str) -> str:
    """The real article URL inside a Google redirect (https://www.google.com/url?url=...)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.path != "/url" or not (host == "google.com" or host.startswith("www.google.")):
        return url
    query = parse_qs(parts.query)
    for key in ("url", "q"):
        target = (query.get(key) or [""])[0]
        if urlsplit(target).scheme in ("http", "https"):
            return target
    return url


def _without_fragment(url: str | None) -> str | None:
    return urlsplit(url)._replace(fragment="").geturl() if url else None


def _is_school_author(author: str | None, config: RssConnector.Config | None) -> bool:
    if author is None or config is None:
        return False
    own = {name.strip().casefold() for name in config.by_school_authors}
    return author.casefold() in own


def _entry_text(entry: Mapping[str, Any]) -> str:
    contents = entry.get("content") or []
    if contents:
        first = contents[0]
        return _html_to_plain(str(first.get("value", "")), str(first.get("type", "text/html")))
    return _detail_text(entry, "summary")


def _detail_text(entry: Mapping[str, Any], key: str) -> str:
    detail = entry.get(f"{key}_detail") or {}
    return _html_to_plain(str(entry.get(key) or ""), str(detail.get("type", "text/html")))


def _html_to_plain(value: str, content_type: str) -> str:
    if content_type == "text/plain":
        return " ".join(value.split())
    return html_to_text(value)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment: scripts and styles dropped, whitespace collapsed."""
    if "<" not in html and "&" not in html:
        return " ".join(html.split())
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(DROPPED_TAGS):
        tag.decompose()
    for tag in soup.find_all(INLINE_TAGS):
        tag.unwrap()
    soup.smooth()
    return " ".join(soup.get_text(" ").split())


def json_safe(value: Any) -> JSONValue:
    """A feedparser structure as plain JSON types; struct_time dates become ISO 8601 strings."""
    if isinstance(value, time.struct_time):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
