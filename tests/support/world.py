"""A whole orm-monitor around a test: feed server, SMTP server, config, database and service."""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import tomli_w

from monitor.config.schema import OrmConfig
from monitor.service.daemon import Service
from tests.support.config import build, raw_config, rss_source
from tests.support.http import LocalServer, Reply, local_server
from tests.support.smtp import SmtpServer, smtp_server

FEED_PATH = "/feed.xml"


def rss_feed(*entries: tuple[str, str]) -> str:
    """A WordPress-style comments feed with (guid, plain text) entries."""
    items = "".join(
        f"<item><title>By: Parent {i}</title><link>https://school.example/post/#c{guid}</link>"
        f"<dc:creator>Parent {i}</dc:creator><pubDate>Mon, 23 Nov 2026 08:0{i % 10}:00 +0000"
        f'</pubDate><guid isPermaLink="false">{guid}</guid>'
        f"<description><![CDATA[<p>{html.escape(text)}</p>]]></description></item>"
        for i, (guid, text) in enumerate(entries)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Comments on: Sports Day</title><link>https://school.example/</link>{items}"
        "</channel></rss>"
    )


@dataclass
class World:
    """Everything a test needs to drive the service end to end."""

    feeds: LocalServer
    smtp: SmtpServer
    raw: dict[str, Any]
    config_path: Path
    state_dir: Path

    @property
    def config(self) -> OrmConfig:
        """The validated config."""
        return build(self.raw)

    def serve(self, *entries: tuple[str, str]) -> None:
        """Serve a feed with these entries from now on."""
        self.feeds.route(
            "GET",
            FEED_PATH,
            Reply(200, rss_feed(*entries), {"Content-Type": "application/rss+xml"}),
        )

    def service(self) -> Service:
        """A service on this world's config (not started)."""
        return Service(self.config)

    def messages_to(self, address: str) -> list[EmailMessage]:
        """The messages whose envelope named `address`."""
        return [m for received, m in self.smtp.messages if address in received.rcpt_tos]

    def recipients(self) -> list[str]:
        """Every envelope recipient the SMTP server accepted, in order."""
        return [rcpt for received, _ in self.smtp.messages for rcpt in received.rcpt_tos]


@contextmanager
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    """A running feed server and SMTP server, and a config file wired to both."""
    with local_server() as feeds, smtp_server() as smtp:
        raw = raw_config(
            database_url=database_url,
            sources=[rss_source(feeds.url(FEED_PATH))],
            channels={
                "email": {
                    "type": "smtp",
                    "host": smtp.host,
                    "port": smtp.port,
                    "security": "none",
                    "from_address": "alerts@school.example",
                },
                "backup": {"type": "maildir", "path": str(tmp_path / "mail")},
            },
            fallback_channel="backup",
        )
        raw["service"]["state_dir"] = str(tmp_path / "state")
        path = tmp_path / "config.toml"
        path.write_text(tomli_w.dumps(raw), encoding="utf-8")
        yield World(feeds, smtp, raw, path, tmp_path / "state")
