"""The bounded HTTP server: slow, silent, oversized and flooding clients cost it little."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from monitor.web.http_server import BoundedHTTPServer, BufferedRequestHandler, Limits

RELEASE = threading.Event()


class Echo(BufferedRequestHandler):
    """Answers with the request body; /wait holds its thread until RELEASE is set."""

    def do_POST(self) -> None:
        if self.path == "/wait":
            RELEASE.wait(5)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serving(limits: Limits) -> Iterator[tuple[BoundedHTTPServer, tuple[str, int]]]:
    server = BoundedHTTPServer(("127.0.0.1", 0), Echo, limits)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server, server.server_address[:2]
    finally:
        RELEASE.set()
        server.shutdown()
        server.server_close()
        RELEASE.clear()


def _exchange(address: tuple[str, int], request: bytes) -> bytes:
    with socket.create_connection(address, timeout=5) as client:
        client.sendall(request)
        return _read_all(client)


def _read_all(client: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := client.recv(4096):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


def _post(path: str, body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def test_a_request_arriving_in_pieces_is_answered_once_complete() -> None:
    with serving(Limits(read_timeout=2)) as (_, address), socket.create_connection(address) as c:
        for piece in (b"POST /echo HT", b"TP/1.1\r\nContent-Le", b"ngth: 5\r\n\r\nhel", b"lo"):
            c.sendall(piece)
            time.sleep(0.05)
        c.settimeout(5)
        answer = _read_all(c)
    assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(b"\r\n\r\nhello")


def test_a_client_too_slow_to_send_its_body_is_cut_off_after_the_read_timeout() -> None:
    with serving(Limits(read_timeout=0.5)) as (server, address):
        with socket.create_connection(address, timeout=5) as client:
            client.sendall(_post("/echo", b"0123456789")[:-4])
            started = time.monotonic()
            assert _read_all(client) == b""  # closed without an answer
            assert 0.4 < time.monotonic() - started < 2
        assert server.pending == 0 and server.handling == 0


def test_oversized_heads_and_bodies_are_refused_without_reading_them() -> None:
    with serving(Limits(max_head=1024, max_body=100)) as (_, address):
        long_head = b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n"
        assert _exchange(address, long_head).startswith(b"HTTP/1.0 431")
        assert _exchange(address, _post("/echo", b"x" * 101)).startswith(b"HTTP/1.0 413")
        assert _exchange(address, _post("/echo", b"x" * 100)).endswith(b"x" * 100)


def test_complete_requests_beyond_the_handler_cap_get_503_at_once() -> None:
    with serving(Limits(max_handlers=2)) as (server, address):
        held = [socket.create_connection(address, timeout=5) for _ in range(2)]
        for client in held:
            client.sendall(_post("/wait", b"held"))
        _wait_for(lambda: server.handling == 2)
        started = time.monotonic()
        busy = _exchange(address, _post("/echo", b"more"))
        assert busy.startswith(b"HTTP/1.0 503") and b"Retry-After: 1" in busy
        assert time.monotonic() - started < 1
        RELEASE.set()
        assert all(_read_all(client).endswith(b"held") for client in held)
        _wait_for(lambda: server.handling == 0)
        assert _exchange(address, _post("/echo", b"again")).endswith(b"again")
        for client in held:
            client.close()


def test_past_the_pending_cap_the_oldest_waiting_connection_is_closed() -> None:
    with serving(Limits(max_pending=3, read_timeout=30)) as (server, address):
        idle = [socket.create_connection(address, timeout=5) for _ in range(3)]
        _wait_for(lambda: server.pending == 3)
        assert _exchange(address, _post("/echo", b"fresh")).endswith(b"fresh")
        assert _read_all(idle[0]) == b""  # the oldest made room
        assert server.pending == 2
        for client in idle:
            client.close()


def _wait_for(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
