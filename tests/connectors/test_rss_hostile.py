"""The RSS connector against servers that send what no feed should: it loses nothing it can
read, never stalls on markup, and says once what it had to leave out."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import FetchResult, PermanentError
from connectors.rss import RssConnector
from monitor.storage import ingest, models
from monitor.storage.engine import Database
from tests.support.config import build, raw_config, rss_source
from tests.support.hostile import hostile_server
from tests.support.http import LocalServer, Reply, local_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rss"
NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


def poll(url: str, times: int = 1, **settings: object) -> list[FetchResult]:
    """`times` polls of one feed by one connector, as the daemon makes them."""
    feed = RssConnector("parish-news", RssConnector.Config(url=url, **settings), lambda _: "")
    try:
        return [feed.fetch({}) for _ in range(times)]
    finally:
        feed.close()


def rss(*items: str) -> bytes:
    """An RSS 2.0 document with these <item> bodies."""
    body = "".join(f"<item>{item}</item>" for item in items)
    return f'<rss version="2.0"><channel><title>Parish news</title>{body}</channel></rss>'.encode()


def test_giant_titles_of_markup_are_read_quickly_and_capped(server: LocalServer) -> None:
    title = "&lt;b&gt;word&lt;/b&gt; " * (256 * 1024 // 24)
    items = [f"<guid>giant-{n}</guid><title>{title}</title>" for n in range(4)]
    server.route("GET", "/feed", Reply(200, rss(*items)))
    started = time.monotonic()
    [result] = poll(server.url("/feed"))
    assert time.monotonic() - started < 5  # minutes before: 1 MB of markup was quadratic
    assert [len(item.title or "") for item in result.items] == [1000] * 4


def test_a_malformed_link_costs_only_that_link_and_is_logged_once(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route(
        "GET",
        "/feed",
        Reply(
            200,
            rss(
                "<guid>a</guid><title>Fete</title><link>https://parish.example/fete</link>",
                "<guid>b</guid><title>Broken</title><link>http://[::1/broken</link>",
            ),
        ),
    )
    with caplog.at_level(logging.WARNING, logger="connectors.rss"):
        first, second = poll(server.url("/feed"), times=2)
    assert [item.external_id for item in first.items] == ["a", "b"]
    assert first.items == second.items and first.items[1].url is None
    [line] = [r.getMessage() for r in caplog.records if "link" in r.getMessage()]
    assert line.startswith("source parish-news: entry 'b': link blanked")


def test_a_charset_given_only_in_the_header_decodes_the_feed(server: LocalServer) -> None:
    feeds = {
        "/latin": ("iso-8859-15", "caf\u00e9 \u20ac5"),
        "/cyrillic": ("koi8-r", "\u0448\u043a\u043e\u043b\u0430"),
        "/chinese": ("gb2312", "\u5b66\u6821\u65b0\u95fb"),
    }
    for path, (charset, text) in feeds.items():
        body = rss(f"<guid>{path}</guid><title>{text}</title>").decode().encode(charset)
        headers = {"Content-Type": f"application/rss+xml; charset={charset}"}
        server.route("GET", path, Reply(200, body, headers=headers))
    for path, (_, text) in feeds.items():
        [result] = poll(server.url(path))
        assert (
            result.items[0].title == text
        )  # was "caf\u00e9 \u00a45", "\u00db\u00cb\u00cf\u00cc\u00c1"


def test_relative_links_resolve_against_the_address_the_feed_was_read_from(
    server: LocalServer,
) -> None:
    server.route("GET", "/old", Reply(301, headers={"Location": "/news/feed.xml"}))
    server.route(
        "GET", "/news/feed.xml", Reply(200, (FIXTURES / "relative_links.xml").read_bytes())
    )
    [result] = poll(server.url("/old"))
    assert [item.url for item in result.items] == [
        server.url("/news/articles/1"),
        "https://www.example.sch.uk/news/2",
    ]
    assert [item.external_id for item in result.items] == ["relative-1", "relative-2"]


def test_description_only_items_polled_twice_are_stored_once(
    server: LocalServer, db: Database
) -> None:
    server.route("GET", "/feed", Reply(200, (FIXTURES / "description_only.xml").read_bytes()))
    first, second = poll(server.url("/feed"), times=2)
    assert len(first.items) == 2  # both were dropped before
    config = build(raw_config(database_url=db.url, sources=[rss_source(server.url("/feed"))]))
    with db.session() as session:
        ingest.sync_config(session, config)
    counts = []
    for result in (first, second):
        with db.session() as session:
            counts.append(ingest.ingest(session, "blog", "st-marys", result.items, NOW))
    assert [(c.new, c.unchanged) for c in counts] == [(2, 0), (0, 2)]
    with db.session() as session:
        assert len(session.query(models.Item).all()) == 2


@pytest.mark.parametrize(
    "content_type", ["application/feed+json", "application/json", "text/plain"]
)
def test_a_json_feed_is_read_whatever_json_type_it_is_served_as(
    server: LocalServer, content_type: str
) -> None:
    body = (FIXTURES / "jsonfeed_school_blog.json").read_bytes()
    server.route("GET", "/feed.json", Reply(200, body, headers={"Content-Type": content_type}))
    [result] = poll(server.url("/feed.json"))
    assert len(result.items) == 4
    assert result.items[0].url == server.url("/2026/06/sports-day/")


def test_a_feed_larger_than_the_cap_is_refused_with_a_typed_error() -> None:
    with hostile_server() as base, pytest.raises(PermanentError, match="larger than 1 MB"):
        poll(base + "/huge", max_response_mb=1)
