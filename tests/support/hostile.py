"""A real local HTTP server that misbehaves: huge bodies, gzip bombs, drips and redirect loops."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
        """Serve the misbehaviour the path names (any prefix before it is ignored)."""
        name = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
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
        self._start(302, Location=self.path)

    def _not_found(self) -> None:
        self._start(404)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def hostile_server() -> Iterator[str]:
    """Serve /huge, /bomb, /drip and /loop (under any prefix); yield the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
