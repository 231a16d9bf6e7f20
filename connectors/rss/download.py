"""Fetching a feed: conditional requests, caching state, and HTTP errors as typed errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from connectors.base import (
    AuthError,
    JSONValue,
    PermanentError,
    RateLimited,
    SourceUnavailable,
)
from connectors.rss.entries import public_url

PASSED_HEADERS = ("content-type", "content-location")
"""Response headers the parser reads: the charset, and the base for relative links."""


@dataclass(frozen=True)
class Download:
    """One fetch of a feed: its bytes (None when unchanged), the response headers the parser
    needs, the address it was finally read from, and the state to save for the next poll."""

    content: bytes | None
    headers: dict[str, str]
    url: str
    state: dict[str, JSONValue]


def response_headers(response: httpx.Response) -> dict[str, str]:
    """The response headers that decide how the feed is read."""
    return {name: response.headers[name] for name in PASSED_HEADERS if name in response.headers}


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


def describe(error: Exception) -> str:
    """An HTTP error in a few words, without any query string (it may hold a key)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return re.sub(r"\?[^\s'\"]*", "", text)
