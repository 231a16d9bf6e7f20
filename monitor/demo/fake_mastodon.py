"""A local stand-in for a Mastodon instance, so the demo shows a platform connector at work.

It answers the four Mastodon API calls the connector makes, on loopback only, with entities
shaped as Mastodon documents them. The story it tells: a parent asks the school's account a
question (a reply window opens), someone posts under the school's hashtag (a search result:
no window), and from the second poll on the school's own answer is there, so the window closes
by itself.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

SCHOOL_ID = "109000000000000001"
SCHOOL_ACCT = "stmarys_anytown"
TOKEN_CREDENTIAL = "DEMO_MASTODON_TOKEN"  # noqa: S105 - a credential name, not a secret
HASHTAG = "StMarysAnytown"

Entity = dict[str, Any]


def _account(account_id: str, acct: str, name: str) -> Entity:
    user = acct.split("@", 1)[0]
    return {
        "id": account_id,
        "username": user,
        "acct": acct,
        "display_name": name,
        "url": f"https://mastodon.example/@{user}",
        "bot": False,
        "locked": False,
        "created_at": "2023-01-09T00:00:00.000Z",
    }


SCHOOL = _account(SCHOOL_ID, SCHOOL_ACCT, "St Mary's Primary")
PARENT = _account("109000000000000042", "sam_parent@mastodon.social", "Sam (Year 3 parent)")
NEIGHBOUR = _account("109000000000000077", "anytown_news@mastodon.example", "Anytown News")


def _status(
    status_id: str,
    when: datetime,
    author: Entity,
    html: str,
    *,
    reply_to: tuple[str, str] | None = None,
) -> Entity:
    return {
        "id": status_id,
        "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "in_reply_to_id": reply_to[0] if reply_to else None,
        "in_reply_to_account_id": reply_to[1] if reply_to else None,
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": f"https://mastodon.example/users/{author['username']}/statuses/{status_id}",
        "url": f"https://mastodon.example/@{author['username']}/{status_id}",
        "content": html,
        "reblog": None,
        "account": author,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
    }


class DemoWorld:
    """What the fake instance holds; the school's answer appears on the second poll."""

    def __init__(self, now: datetime) -> None:
        asked = now - timedelta(minutes=25)
        self.question = _status(
            "116800000000000101",
            asked,
            PARENT,
            f'<p><span class="h-card"><a href="https://mastodon.example/@{SCHOOL_ACCT}"'
            f' class="u-url mention">@<span>{SCHOOL_ACCT}</span></a></span> Is the Christmas'
            " fair still on this Saturday if it snows? Our Year 3 class is running the cake"
            " stall.</p>",
        )
        self.mention = {
            "id": "3001",
            "type": "mention",
            "created_at": self.question["created_at"],
            "account": PARENT,
            "status": self.question,
        }
        self.tagged = _status(
            "116800000000000102",
            now - timedelta(minutes=40),
            NEIGHBOUR,
            "<p>Lovely to hear the carol singers at the market this morning &#8212; well"
            f' done everyone! <a href="https://mastodon.example/tags/{HASHTAG}"'
            f' class="mention hashtag">#<span>{HASHTAG}</span></a></p>',
        )
        self.announcement = _status(
            "116800000000000090",
            now - timedelta(hours=3),
            SCHOOL,
            "<p>Our Christmas fair is this Saturday, 10am to 1pm. All welcome!</p>",
        )
        self.answer = _status(
            "116800000000000103",
            now - timedelta(minutes=2),
            SCHOOL,
            '<p><span class="h-card"><a href="https://mastodon.social/@sam_parent"'
            ' class="u-url mention">@<span>sam_parent</span></a></span> Yes, it goes ahead'
            " unless we text parents by 8am. Thank you for running the cake stall!</p>",
            reply_to=(self.question["id"], PARENT["id"]),
        )
        self.own_reads = 0

    def mentions(self) -> list[Entity]:
        """Mention notifications, newest first."""
        return [self.mention]

    def hashtag(self, tag: str) -> list[Entity]:
        """Statuses under a hashtag (only the school's one has any)."""
        return [self.tagged] if tag.casefold() == HASHTAG.casefold() else []

    def own_statuses(self) -> list[Entity]:
        """The school's statuses: the answer is posted between the first and second poll."""
        self.own_reads += 1
        posted = [self.answer] if self.own_reads > 1 else []
        return [*posted, self.announcement]


def demo_secrets(token: str, fallback: Callable[[str], str]) -> Callable[[str], str]:
    """A credential reader that knows the demo's Mastodon token and defers to `fallback`."""

    def read(name: str) -> str:
        return token if name == TOKEN_CREDENTIAL else fallback(name)

    return read


def newer_than(entities: list[Entity], min_id: str | None) -> list[Entity]:
    """Mastodon's `min_id` paging: only entities with a larger id, newest first."""
    if not min_id:
        return entities
    floor = int(min_id) if min_id.isdigit() else 0
    return [entity for entity in entities if int(entity["id"]) > floor]


class FakeMastodon:
    """The fake instance on 127.0.0.1 (a free port unless one is given), in a daemon thread."""

    def __init__(self, port: int = 0, clock: Callable[[], datetime] | None = None) -> None:
        self.token = secrets.token_urlsafe(24)
        self.world = DemoWorld((clock or (lambda: datetime.now(UTC)))())
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-mastodon", daemon=True
        )

    @property
    def url(self) -> str:
        """The base address to give the connector as `api_base_url`."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def secrets(self, fallback: Callable[[str], str]) -> Callable[[str], str]:
        """A credential reader that knows the demo token and defers to `fallback` otherwise."""
        return demo_secrets(self.token, fallback)

    def start(self) -> FakeMastodon:
        """Serve requests until the process ends or `stop` is called."""
        self._thread.start()
        log.info("demo: a fake Mastodon instance answers on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, query: dict[str, list[str]], token: str) -> tuple[int, Any]:
        """The HTTP status and JSON body for one GET request."""
        if token != self.token:
            return 401, {"error": "The access token is invalid"}
        since = query["min_id"][0] if query.get("min_id") else None
        with self._lock:
            if path == "/api/v1/notifications":
                return 200, newer_than(self.world.mentions(), since)
            if path == "/api/v1/accounts/verify_credentials":
                return 200, SCHOOL
            if path == f"/api/v1/accounts/{SCHOOL_ID}/statuses":
                return 200, newer_than(self.world.own_statuses(), since)
            tag = re.fullmatch(r"/api/v1/timelines/tag/(\w+)", path)
            if tag:
                return 200, newer_than(self.world.hashtag(tag.group(1)), since)
        return 404, {"error": "Record not found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                status, body = fake.answer(parts.path, parse_qs(parts.query), token)
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("fake Mastodon: " + format, *args)

        return Handler
