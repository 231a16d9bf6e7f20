"""The one-click link endpoint: it outlasts half-open connections and refuses other sites' POSTs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import Message

import httpx
import pytest
from sqlalchemy import select

from monitor.replies.links import LinkSigner
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.web.http_server import Limits
from monitor.web.one_click import WebServer, WindowLinks, same_origin

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SIGNER = LinkSigner("a test secret", max_age_days=7)


def _open_windows(db: Database, count: int) -> list[int]:
    """Item ids of `count` open reply windows."""
    with db.session() as session:
        session.add(models.School(id="st-marys", name="St Mary's"))
        session.flush()
        session.add(models.Account(id="blog", school_id="st-marys", platform="rss", name="Blog"))
        items = [
            models.Item(
                source_id="blog",
                school_id="st-marys",
                external_id=f"q{n}",
                kind="comment",
                text="What time does the trip get back?",
                content_sha256="0" * 64,
            )
            for n in range(count)
        ]
        session.add_all(items)
        session.flush()
        for item in items:
            session.add(
                models.ReplyWindow(
                    item_id=item.id, school_id="st-marys", opened_at=NOW, due_at=NOW + timedelta(1)
                )
            )
        return [item.id for item in items]


def _status(db: Database, item_id: int) -> str:
    with db.session() as session:
        window = session.scalar(
            select(models.ReplyWindow).where(models.ReplyWindow.item_id == item_id)
        )
        assert window is not None
        return window.status


def _token(db: Database, item_id: int) -> str:
    with db.session() as session:
        window_id = session.scalar(
            select(models.ReplyWindow.id).where(models.ReplyWindow.item_id == item_id)
        )
    assert window_id is not None
    return SIGNER.token(window_id, "answered")


@contextmanager
def serving(db: Database, limits: Limits | None = None) -> Iterator[WebServer]:
    web = WebServer(WindowLinks(db, SIGNER), "127.0.0.1:0", limits)
    web.start()
    try:
        yield web
    finally:
        web.stop()


def _closed_by_server(client: socket.socket) -> bool:
    try:
        return client.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_300_half_open_connections_take_no_threads_and_are_closed_after_the_timeout(
    db: Database,
) -> None:
    [item_id] = _open_windows(db, 1)
    with serving(db, Limits(read_timeout=1.5)) as web:
        host, port = web.address.split(":")
        threads_before = threading.active_count()
        clients = []
        for n in range(300):  # half say nothing, half stop in the middle of the request line
            client = socket.create_connection((host, int(port)), timeout=5)
            if n % 2:
                client.sendall(b"GET /w/" + b"x" * 20 + b" HT")
            clients.append(client)
        opened = time.monotonic()
        time.sleep(0.2)
        assert threading.active_count() <= threads_before  # the old server: +300, for ever
        base = f"http://{web.address}"
        assert httpx.get(f"{base}/healthz", timeout=1.4).text == "ok"
        assert httpx.post(f"{base}/w/{_token(db, item_id)}", timeout=1.4).status_code == 200
        assert time.monotonic() - opened < 1.5  # answered while the 300 were still open
        for client in clients:
            client.settimeout(max(0.1, opened + 4 - time.monotonic()))
        assert all(_closed_by_server(client) for client in clients)
        assert time.monotonic() - opened < 4
        assert web.threads == 0 and threading.active_count() <= threads_before
        for client in clients:
            client.close()
    assert _status(db, item_id) == "answered"


def test_a_post_from_another_site_is_refused_and_the_window_stays_open(db: Database) -> None:
    first, second = _open_windows(db, 2)
    with serving(db) as web:
        url = f"http://{web.address}/w/{_token(db, first)}"
        page = httpx.get(url)
        assert page.headers["Referrer-Policy"] == "same-origin"  # so our button sends Origin
        for headers in (
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Referer": "https://evil.example/page"},
            {"Origin": f"http://{web.address}.evil.example"},
        ):
            refused = httpx.post(url, headers=headers)
            assert refused.status_code == 403, headers
            assert "from the page its link opens" in refused.text
        assert _status(db, first) == "open"
        assert httpx.post(url, headers={"Origin": f"http://{web.address}"}).status_code == 200
        assert _status(db, first) == "answered"
        proxied = {"Host": "school.example", "Origin": "https://school.example"}
        second_url = f"http://{web.address}/w/{_token(db, second)}"
        assert httpx.post(second_url, headers=proxied).status_code == 200
    assert _status(db, second) == "answered"


def _headers(**values: str) -> Message:
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        (_headers(Host="127.0.0.1:8080", Origin="http://127.0.0.1:8080"), True),
        (_headers(Host="127.0.0.1:8080", Origin="http://127.0.0.1:9090"), False),
        (_headers(Host="links.school.example", Origin="https://links.school.example"), True),
        (_headers(Host="Links.School.example:443", Origin="https://links.school.example"), True),
        (_headers(Host="links.school.example", Referer="https://links.school.example/w/t"), True),
        (_headers(Host="links.school.example", Origin="https://evil.example"), False),
        (_headers(Host="links.school.example", Origin="null"), False),
        (_headers(Host="127.0.0.1:8080", Origin="http://127.0.0.1:8080.evil.example"), False),
        (_headers(Host="127.0.0.1:8080", Referer="http://127.0.0.1:8080@evil.example/"), False),
        (_headers(Host="[::1]:8080", Origin="http://[::1"), False),
        (_headers(Host="[::1]:8080", Origin="http://[::1]:8080"), True),
        (
            _headers(
                Host="127.0.0.1:8080",
                X_Forwarded_Host="links.school.example",
                Origin="https://links.school.example",
            ),
            True,
        ),
        (_headers(Host="127.0.0.1:8080"), True),  # no browser page sent it: no CSRF to stop
    ],
)
def test_same_origin_is_the_host_the_browser_addressed(headers: Message, allowed: bool) -> None:
    assert same_origin(headers) is allowed
