"""The one guarded way connectors talk HTTP: a byte cap, a per-poll deadline, few redirects.

Every response is streamed and counted twice, on the wire and after decompression, against
`Limits.max_bytes`; every request of one poll shares one deadline (set by the connector base
for the duration of `fetch`, see `poll_deadline`), checked after each chunk so that a server
that trickles a byte a second is stopped at the deadline, not kept alive by per-read timeouts.

- httpx users build their client with `guarded_client(limits, ...)` (or pass
  `GuardedTransport(limits)` as `transport=` to a library's own httpx.Client);
- `requests` users (tweepy, facebook-sdk, Mastodon.py) get a `GuardedSession(limits)`, whose
  adapter enforces the same limits under the library.

A cap, deadline or redirect limit breached raises a typed ConnectorError naming the limit and
the host: `ResponseTooLarge`, `PollDeadlineExceeded`, `TooManyRedirects`.
"""

from __future__ import annotations

import io
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
import requests
import urllib3
from requests.adapters import HTTPAdapter

from connectors.base import PermanentError, SourceUnavailable

MB = 1024 * 1024
DEFAULT_MAX_RESPONSE_MB = 10.0
DEFAULT_POLL_DEADLINE_SECONDS = 60.0
DEFAULT_MAX_REDIRECTS = 5
CHUNK = 64 * 1024
ACCEPT_ENCODING = "gzip, deflate"
"""Only the encodings the transport can inflate under its cap are asked for."""
DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True)
class Limits:
    """What one source's HTTP may cost: bytes per response, seconds per poll, redirects."""

    max_bytes: int = int(DEFAULT_MAX_RESPONSE_MB * MB)
    deadline_seconds: float = DEFAULT_POLL_DEADLINE_SECONDS
    max_redirects: int = DEFAULT_MAX_REDIRECTS

    @classmethod
    def of(cls, settings: object) -> Limits:
        """The limits a source's settings set (`max_response_mb`, `poll_deadline_seconds`)."""
        megabytes = float(getattr(settings, "max_response_mb", DEFAULT_MAX_RESPONSE_MB))
        seconds = float(getattr(settings, "poll_deadline_seconds", DEFAULT_POLL_DEADLINE_SECONDS))
        return cls(max_bytes=max(1, int(megabytes * MB)), deadline_seconds=seconds)

    def cap(self) -> str:
        """The byte cap in words, e.g. "10 MB"."""
        return f"{self.max_bytes / MB:g} MB"


class ResponseTooLarge(PermanentError):
    """A response (on the wire or once decompressed) went past the source's byte cap."""

    fix = "raise max_response_mb for this source if its responses really are that large"


class PollDeadlineExceeded(SourceUnavailable):
    """The poll ran past its deadline: the server is too slow, or trickles its answer."""

    fix = "nothing if it passes; raise poll_deadline_seconds if the source is slow but sound"


class TooManyRedirects(PermanentError):
    """The server redirected more times than allowed (a redirect loop)."""

    fix = "open the URL in a browser and configure the address it ends up at"


@dataclass(frozen=True)
class _Deadline:
    at: float
    seconds: float


_poll: ContextVar[_Deadline | None] = ContextVar("orm_monitor_poll_deadline", default=None)


@contextmanager
def poll_deadline(seconds: float) -> Iterator[None]:
    """Make every guarded request inside the block share one deadline `seconds` from now.

    The connector base wraps each `fetch` and `probe` in this; an enclosing deadline that
    comes sooner is kept.
    """
    outer = _poll.get()
    mine = _Deadline(time.monotonic() + seconds, seconds)
    if outer is not None and outer.at <= mine.at:
        yield
        return
    token = _poll.set(mine)
    try:
        yield
    finally:
        _poll.reset(token)


def _deadline_for(limits: Limits) -> _Deadline:
    """The poll's deadline, or one for this request alone when no poll set one."""
    seconds = limits.deadline_seconds
    return _poll.get() or _Deadline(time.monotonic() + seconds, seconds)


def _late(where: str, deadline: _Deadline) -> PollDeadlineExceeded:
    return PollDeadlineExceeded(
        f"{where}: poll took longer than its {deadline.seconds:g} s deadline"
        " (poll_deadline_seconds)"
    )


def _remaining(where: str, deadline: _Deadline) -> float:
    """Seconds left before the deadline; PollDeadlineExceeded when none are."""
    left = deadline.at - time.monotonic()
    if left <= 0:
        raise _late(where, deadline)
    return left


class CappedBody:
    """Collects one response body chunk by chunk, inflating it, within the cap and deadline."""

    def __init__(self, limits: Limits, deadline: _Deadline, where: str, encoding: str) -> None:
        self.limits, self.deadline, self.where = limits, deadline, where
        self.wire = 0
        self.size = 0
        self._parts: list[bytes] = []
        self._inflater = _inflater(encoding)

    def add(self, chunk: bytes) -> None:
        """Count one chunk from the wire; raise when a cap or the deadline is passed."""
        self.wire += len(chunk)
        if self.wire > self.limits.max_bytes:
            raise self._too_large("")
        if self._inflater is None:
            self._keep(chunk)
        else:
            self._inflate(chunk)
        _remaining(self.where, self.deadline)

    def read(self, chunks: Iterable[bytes]) -> bytes:
        """Every chunk of `chunks`, counted; the whole decoded body."""
        for chunk in chunks:
            self.add(chunk)
        if self._inflater is not None:
            self._keep(self._inflater.flush())
        return b"".join(self._parts)

    def _inflate(self, data: bytes) -> None:
        assert self._inflater is not None
        while data:
            room = self.limits.max_bytes - self.size
            try:
                out = self._inflater.decompress(data, room + 1)
            except zlib.error as error:
                raise SourceUnavailable(
                    f"{self.where}: corrupt compressed body ({error})"
                ) from None
            self._keep(out)
            data = self._inflater.unconsumed_tail

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limits.max_bytes:
            raise self._too_large(" once decompressed")
        if data:
            self._parts.append(data)

    def _too_large(self, how: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"{self.where}: response larger than {self.limits.cap()}{how} (max_response_mb)"
        )


def _inflater(encoding: str) -> Any:
    """A zlib decompressor for gzip or deflate; None for identity (and unknown codings)."""
    coding = encoding.strip().lower()
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib-wrapped (or gzip) deflate
    return None


def _kept_headers(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(key, value) for key, value in items if key.lower() not in DROPPED_HEADERS]


# --- httpx -------------------------------------------------------------------------------


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that reads each response whole, within the cap and the deadline.

    The body it returns is already decompressed (Content-Encoding removed), so the client
    never inflates anything itself.
    """

    def __init__(
        self, limits: Limits, *, where: str = "", inner: httpx.BaseTransport | None = None
    ) -> None:
        self.limits, self.where = limits, where
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send one request; the response with its body read and counted."""
        where = self.where or request.url.host
        deadline = _deadline_for(self.limits)
        _clamp_httpx_timeouts(request, _remaining(where, deadline))
        try:
            response = self.inner.handle_request(request)
            try:
                encoding = response.headers.get("content-encoding", "")
                body = CappedBody(self.limits, deadline, where, encoding)
                content = body.read(response.iter_raw())
            finally:
                response.close()
        except httpx.TimeoutException:
            _remaining(where, deadline)
            raise
        return httpx.Response(
            response.status_code,
            headers=_kept_headers(response.headers.multi_items()),
            content=content,
            request=request,
            extensions={
                k: v
                for k, v in response.extensions.items()
                if k in ("http_version", "reason_phrase")
            },
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.inner.close()


def _clamp_httpx_timeouts(request: httpx.Request, left: float) -> None:
    timeouts = dict(request.extensions.get("timeout") or {})
    for key in ("connect", "read", "write", "pool"):
        value = timeouts.get(key)
        timeouts[key] = left if value is None else min(float(value), left)
    request.extensions["timeout"] = timeouts


class GuardedClient(httpx.Client):
    """An httpx.Client on a GuardedTransport: a redirect loop is a typed error too."""

    def __init__(self, limits: Limits, *, where: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("follow_redirects", True)
        headers = httpx.Headers(kwargs.pop("headers", None))
        headers.setdefault("Accept-Encoding", ACCEPT_ENCODING)
        super().__init__(
            transport=GuardedTransport(limits, where=where),
            max_redirects=limits.max_redirects,
            headers=headers,
            **kwargs,
        )
        self.limits, self.where = limits, where

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        """Send one request (following redirects, at most `limits.max_redirects`)."""
        try:
            return super().send(request, **kwargs)
        except httpx.TooManyRedirects:
            raise redirect_loop(self.where or request.url.host, self.limits) from None


def guarded_client(limits: Limits, *, where: str = "", **kwargs: Any) -> GuardedClient:
    """An httpx client for one source: `get(url, headers=...)` returns a response whose
    `.content` is at most `limits.max_bytes` decoded bytes and whose `.url` is the final URL;
    it raises ResponseTooLarge, PollDeadlineExceeded or TooManyRedirects (all ConnectorErrors,
    naming `where`, else the host) and httpx's own errors for everything else.

    `kwargs` go to httpx.Client (timeout, headers, ...); redirects are followed by default.
    """
    return GuardedClient(limits, where=where, **kwargs)


def redirect_loop(where: str, limits: Limits) -> TooManyRedirects:
    """The typed error for a chain of redirects longer than the source allows."""
    return TooManyRedirects(f"{where}: more than {limits.max_redirects} redirects")


# --- requests ----------------------------------------------------------------------------


class GuardedAdapter(HTTPAdapter):
    """A requests adapter that reads each response whole, within the cap and the deadline."""

    def __init__(self, limits: Limits, *, where: str = "") -> None:
        super().__init__()
        self.limits, self.where = limits, where

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request; the response with its body already read and counted."""
        where = self.where or (urllib3.util.parse_url(request.url or "").host or "")
        deadline = _deadline_for(self.limits)
        left = _remaining(where, deadline)
        timeout = _clamp_requests_timeout(timeout, left)
        try:
            response = super().send(request, stream=True, timeout=timeout, **kwargs)
            self._read(response, deadline, where)
        except (requests.Timeout, urllib3.exceptions.ReadTimeoutError):
            _remaining(where, deadline)
            raise requests.ReadTimeout(f"{where}: timed out") from None
        except urllib3.exceptions.HTTPError as error:  # the body broke off: as requests says it
            raise requests.ConnectionError(error, request=request) from None
        return response

    def _read(self, response: requests.Response, deadline: _Deadline, where: str) -> None:
        raw = response.raw
        encoding = raw.headers.get("content-encoding", "")
        body = CappedBody(self.limits, deadline, where, encoding)
        try:
            content = body.read(_chunks_as_they_come(raw))
        except BaseException:
            raw.close()
            raise
        raw.release_conn()
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(content),
            headers=urllib3.HTTPHeaderDict(_kept_headers(raw.headers.items())),
            status=raw.status,
            reason=raw.reason,
            preload_content=False,
            decode_content=False,
        )


def _chunks_as_they_come(raw: urllib3.HTTPResponse) -> Iterator[bytes]:
    """The raw body in whatever pieces arrive (`stream` would wait for whole 64 KB reads)."""
    while chunk := raw.read1(CHUNK, decode_content=False):
        yield chunk


def _clamp_requests_timeout(timeout: Any, left: float) -> Any:
    if isinstance(timeout, tuple):
        return tuple(left if t is None else min(float(t), left) for t in timeout)
    return left if timeout is None else min(float(timeout), left)


class GuardedSession(requests.Session):
    """A requests session whose every request goes through a GuardedAdapter."""

    def __init__(self, limits: Limits, *, where: str = "") -> None:
        super().__init__()
        self.limits, self.where = limits, where
        self.max_redirects = limits.max_redirects
        self.headers["Accept-Encoding"] = ACCEPT_ENCODING
        adapter = GuardedAdapter(limits, where=where)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        """Send one request; a redirect loop is a TooManyRedirects ConnectorError."""
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.TooManyRedirects:
            where = self.where or (urllib3.util.parse_url(str(url)).host or "")
            raise redirect_loop(where, self.limits) from None
