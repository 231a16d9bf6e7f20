"""A real local HTTP server that misbehaves: huge bodies, gzip bombs, drips and redirect loops."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter

MIB = 1024 * 1024
HUGE_BYTES = 200 * MIB
BOMB_INFLATED = 1024 * MIB


@cache
def gzip_bomb(inflated: int = BOMB_INFLATED) -> bytes:
    """One gzip member that inflates to `inflated` zero bytes (about 1 KB per MiB on the wire).

    A MiB of zeros compressed and fully flushed is a self-contained deflate segment, so the
    bomb is that segment repeated, closed by an empty final block and the gzip trailer.
    """
    zeros = bytes(MIB)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    count = inflated // MIB
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = crc.to_bytes(4, "little") + (count * MIB % 2**32).to_bytes(4, "little")
    return header + segment * count + packer.flush(zlib.Z_FINISH) + trailer


class _Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # bodies end when the connection closes

    def do_GET(self) -> None:
        """Serve the server's one misbehaviour, else the one the path's first segment names."""
        mode = getattr(self.server, "mode", None)
        name = mode or self.path.split("?")[0].strip("/").split("/", 1)[0]
        with suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            getattr(self, f"_{name}", self._not_found)()

    do_POST = do_GET

    def _start(self, status: int = 200, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("content_type", "application/json"))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()

    def _huge(self) -> None:
        self._start(Content_Length=str(HUGE_BYTES))
        block = b"x" * (64 * 1024)
        for _ in range(HUGE_BYTES // len(block)):
            self.wfile.write(block)

    def _bomb(self) -> None:
        body = gzip_bomb()
        self._start(Content_Encoding="gzip", Content_Length=str(len(body)))
        self.wfile.write(body)

    def _drip(self) -> None:
        self._start()
        for _ in range(3600):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(1)

    def _loop(self) -> None:
        hop = self.path.count("~")
        self._start(302, Location=f"{self.path.split('?')[0]}?{'~' * (hop + 1)}")

    def _not_found(self) -> None:
        self._start(404)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def hostile_server(mode: str | None = None) -> Iterator[str]:
    """Serve /huge, /bomb, /drip and /loop (anything below them too), or `mode` on every path;
    yield the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.mode = mode  # type: ignore[attr-defined]
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def hosts_to(base_url: str, *hosts: str) -> Iterator[None]:
    """While active, `requests` connects to `base_url` for https://HOST/...: the session's own
    adapter (the guarded one included) still sends and reads the request, only the socket
    goes elsewhere. For client libraries with a hard-coded API host (tweepy, facebook-sdk)."""
    original = HTTPAdapter.get_connection_with_tls_context

    def connect(self: HTTPAdapter, request: Any, verify: Any, *args: Any, **kwargs: Any) -> Any:
        if urlsplit(request.url or "").hostname in hosts:
            return self.poolmanager.connection_from_url(base_url)
        return original(self, request, verify, *args, **kwargs)

    HTTPAdapter.get_connection_with_tls_context = connect  # type: ignore[method-assign]
    try:
        yield
    finally:
        HTTPAdapter.get_connection_with_tls_context = original  # type: ignore[method-assign]
