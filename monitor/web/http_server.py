"""An HTTP server that a slow, silent or flooding client cannot exhaust.

One thread reads every request off the network without blocking: a connection that has not sent
its whole request (head and body, each with a byte cap) within `read_timeout` is closed, and
holds no thread while it waits. Only complete requests reach a handler thread, and at most
`max_handlers` run at once; a complete request beyond that is answered `503` with `Retry-After`
at once rather than queued, so nothing piles up. A handler reads its request from memory, so it
never waits on the client, and writes with a timeout, so every handler thread exits.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one client may cost the server."""

    read_timeout: float = 10.0
    """Seconds a connection has to send its whole request (slowloris)."""
    write_timeout: float = 10.0
    """Seconds a handler may wait for a client to take its answer."""
    max_handlers: int = 8
    """Requests handled at once; more complete requests are answered 503."""
    max_pending: int = 512
    """Connections still sending their request; past it the oldest is closed."""
    max_head: int = 8192
    """Bytes of request line and headers; more is answered 431."""
    max_body: int = 16384
    """Bytes of request body; more is answered 413."""
    backlog: int = 128
    """Connections the kernel queues before the server accepts them."""


HEAD_END = re.compile(rb"\r?\n\r?\n")
CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d{1,12})[ \t]*\r?\n", re.IGNORECASE)


@dataclass
class _Pending:
    """A connection whose request has not fully arrived yet."""

    peer: Any
    deadline: float
    data: bytearray


@dataclass(frozen=True)
class _Request:
    """A complete request, handed with its connection to a handler thread."""

    connection: socket.socket
    data: bytes


class BufferedRequestHandler(BaseHTTPRequestHandler):
    """A request handler that reads the request the server has already received in full."""

    request: _Request

    def setup(self) -> None:
        """Read from the received bytes; write to the socket."""
        self.connection = self.request.connection
        self.rfile = io.BytesIO(self.request.data)
        self.wfile = self.connection.makefile("wb")


class BoundedHTTPServer:
    """Serves `handler` on `address` within `limits` (see the module's docstring)."""

    def __init__(
        self, address: tuple[str, int], handler: type[BufferedRequestHandler], limits: Limits
    ) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.socket = socket.create_server(address, family=family, backlog=limits.backlog)
        self.socket.setblocking(False)
        self.server_address: tuple[Any, ...] = self.socket.getsockname()
        self.handler, self.limits = handler, limits
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.socket, selectors.EVENT_READ)
        self._pending: dict[socket.socket, _Pending] = {}
        self._slots = threading.BoundedSemaphore(limits.max_handlers)
        self._handlers: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stopped = threading.Event()

    @property
    def handling(self) -> int:
        """Handler threads running now."""
        with self._lock:
            return len(self._handlers)

    @property
    def pending(self) -> int:
        """Connections whose request has not fully arrived yet."""
        return len(self._pending)

    def serve_forever(self, poll_interval: float = 0.2) -> None:
        """Accept and read requests until `shutdown`."""
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(poll_interval):
                    self._ready(key.fileobj)  # type: ignore[arg-type]
                self._expire(time.monotonic())
        finally:
            for connection in list(self._pending):
                self._drop(connection)
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop serving and wait for the loop to end."""
        self._stop.set()
        self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket and wait for the requests in hand."""
        self._selector.close()
        self.socket.close()
        with self._lock:
            running = list(self._handlers)
        for thread in running:
            thread.join(self.limits.write_timeout)

    def _ready(self, connection: socket.socket) -> None:
        """Take a new connection or read from one; a bug drops that connection, not the loop."""
        try:
            if connection is self.socket:
                self._accept()
            else:
                self._receive(connection)
        except Exception:
            log.exception("web: reading a request failed")
            if connection in self._pending:
                self._drop(connection)

    def _accept(self) -> None:
        try:
            connection, peer = self.socket.accept()
        except OSError:  # the client gave up before we took it, or out of descriptors
            return
        if len(self._pending) >= self.limits.max_pending:
            self._drop(next(iter(self._pending)))
        connection.setblocking(False)
        deadline = time.monotonic() + self.limits.read_timeout
        self._pending[connection] = _Pending(peer, deadline, bytearray())
        self._selector.register(connection, selectors.EVENT_READ)

    def _receive(self, connection: socket.socket) -> None:
        pending = self._pending.get(connection)
        if pending is None:  # dropped earlier in this round
            return
        try:
            chunk = connection.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(connection)
            return
        pending.data += chunk
        self._check(connection, pending)

    def _check(self, connection: socket.socket, pending: _Pending) -> None:
        """Refuse an oversized request, or hand a complete one over."""
        head = HEAD_END.search(pending.data, 0, self.limits.max_head + 4)
        if head is None:
            if len(pending.data) > self.limits.max_head:
                self._refuse(connection, 431, "Request Header Fields Too Large")
            return
        length = CONTENT_LENGTH.search(pending.data, 0, head.start() + 2)
        body = int(length.group(1)) if length else 0
        if body > self.limits.max_body:
            self._refuse(connection, 413, "Content Too Large")
        elif len(pending.data) >= head.end() + body:
            self._dispatch(connection, pending)

    def _dispatch(self, connection: socket.socket, pending: _Pending) -> None:
        self._selector.unregister(connection)
        del self._pending[connection]
        if not self._slots.acquire(blocking=False):
            self._answer(connection, 503, "Service Unavailable", "Retry-After: 1\r\n")
            return
        request = _Request(connection, bytes(pending.data))
        thread = threading.Thread(
            target=self._handle, args=(request, pending.peer), name="web-request", daemon=True
        )
        with self._lock:
            self._handlers.add(thread)
        thread.start()

    def _handle(self, request: _Request, peer: Any) -> None:
        try:
            request.connection.settimeout(self.limits.write_timeout)
            self.handler(request, peer, self)  # type: ignore[arg-type]
        except OSError as error:  # the client went away or stopped reading
            log.debug("web: a client left before its answer: %s", type(error).__name__)
        except Exception:
            log.exception("web: a request failed")
        finally:
            _close(request.connection)
            with self._lock:
                self._handlers.discard(threading.current_thread())
            self._slots.release()

    def _expire(self, now: float) -> None:
        for connection, pending in list(self._pending.items()):
            if pending.deadline <= now:
                self._drop(connection)

    def _refuse(self, connection: socket.socket, status: int, reason: str) -> None:
        self._selector.unregister(connection)
        del self._pending[connection]
        self._answer(connection, status, reason)

    def _answer(self, connection: socket.socket, status: int, reason: str, extra: str = "") -> None:
        """A short answer sent without waiting: a client that does not read it loses it."""
        head = (
            f"HTTP/1.0 {status} {reason}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            connection.send(head.encode("ascii"))
        _close(connection)

    def _drop(self, connection: socket.socket) -> None:
        self._selector.unregister(connection)
        del self._pending[connection]
        _close(connection)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
