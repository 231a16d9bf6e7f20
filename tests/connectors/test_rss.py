"""The RSS / Atom connector: parsing recorded feeds, conditional GETs and typed errors."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors import default_registry
from connectors.base import (
    AuthError,
    ConnectorError,
    Item,
    ItemKind,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    payload_sha256,
)
from connectors.rss import (
    RssConnector,
    html_to_text,
    parse_feed,
    public_url,
    retry_at_from_header,
    unwrap_google_redirect,
)
from tests.support.http import LocalServer, Recorded, Reply, local_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rss"
FEED_PATH = "/alerts/feeds/04567891234567890123/13579246801357924680"
SECRET_QUERY = "?key=s3cr3t-alert-key&hl=en"
GOOGLE_ALERTS_URL = "https://www.google.com" + FEED_PATH + SECRET_QUERY
WP_POST = "https://stmarys.example.sch.uk/2026/06/sports-day-2026/"
SCHOOL_OFFICE = "St Mary's School Office"


def fixture(name: str) -> bytes:
    """The bytes of a recorded feed under tests/fixtures/rss/."""
    return (FIXTURES / name).read_bytes()


def parse(name: str, **settings: object) -> tuple[Item, ...]:
    """parse_feed on a fixture, with a Config built from `settings`."""
    config = RssConnector.Config(url="https://feeds.example.org/feed", **settings)
    return parse_feed(fixture(name), source_url=GOOGLE_ALERTS_URL, config=config)


def no_secret(error: ConnectorError) -> None:
    """The error names the feed without its query string, on one line."""
    line = error.one_line()
    assert "s3cr3t" not in line and "?" not in line and "\n" not in line


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


def connector(url: str, **settings: object) -> RssConnector:
    """An RssConnector for one feed URL."""
    config = RssConnector.Config(url=url, **settings)
    return RssConnector("rss-test", config, secrets=lambda name: "")


def fetch_error(url: str, **settings: object) -> ConnectorError:
    """The ConnectorError raised by fetching `url` once."""
    feed = connector(url, **settings)
    try:
        with pytest.raises(ConnectorError) as caught:
            feed.fetch({})
    finally:
        feed.close()
    return caught.value


# --- Google Alerts (Atom) -----------------------------------------------------------------


def test_google_alerts_entries_keep_their_atom_ids() -> None:
    ids = [item.external_id for item in parse("google_alerts.xml")]
    assert ids == [f"tag:google.com,2013:googlealerts/feed:1234567890123456789{n}" for n in "012"]


def test_google_alerts_redirect_links_are_unwrapped_to_the_article() -> None:
    urls = [item.url for item in parse("google_alerts.xml")]
    assert urls == [
        "https://www.examplenews.co.uk/news/anytown/st-marys-pupils-food-bank-appeal-1234567",
        "https://www.anytownecho.example.co.uk/news/parents-anger-over-school-car-park-plans/",
        "https://forum.anytown-parents.example.org/t/year-6-sats-results-2026/4821?page=2",
    ]


def test_google_alerts_titles_and_text_lose_their_bold_markup() -> None:
    first = parse("google_alerts.xml")[0]
    assert first.title == (
        "St Mary's C of E Primary School pupils raise £2,000 for Anytown food bank"
    )
    assert first.text == (
        "Pupils at St Mary's C of E Primary School in Anytown have raised more than £2,000 for"
        " the town's food bank with a sponsored silence and a cake sale ..."
    )


def test_google_alerts_dates_are_the_published_time_in_utc() -> None:
    dates = [item.created_at for item in parse("google_alerts.xml")]
    assert dates == [
        datetime(2026, 5, 14, 7, 32, 5, tzinfo=UTC),
        datetime(2026, 5, 13, 18, 5, 47, tzinfo=UTC),
        datetime(2026, 5, 12, 21, 40, 0, tzinfo=UTC),
    ]


def test_google_alerts_have_no_author_and_are_articles_unless_configured() -> None:
    items = parse("google_alerts.xml")
    assert {item.author.display_name for item in items} == {None}
    assert {item.kind for item in items} == {ItemKind.ARTICLE}
    assert {item.kind for item in parse("google_alerts.xml", kind="mention")} == {ItemKind.MENTION}
    assert not any(item.by_school or item.parent_id for item in items)


def test_google_redirect_unwrapping_leaves_other_links_alone() -> None:
    plain = "https://www.google.com/search?q=st+marys"
    assert unwrap_google_redirect(plain) == plain
    assert unwrap_google_redirect("https://news.example/url?url=https://x.example/") == (
        "https://news.example/url?url=https://x.example/"
    )
    assert unwrap_google_redirect("https://www.google.co.uk/url?q=https://x.example/a") == (
        "https://x.example/a"
    )


# --- WordPress comments feed (RSS 2.0) ----------------------------------------------------


def test_wordpress_comments_are_comments_on_their_post() -> None:
    items = parse("wordpress_comments.xml")
    assert [item.external_id for item in items] == [
        f"https://stmarys.example.sch.uk/?p=123#comment-{n}" for n in (45, 46, 47, 48)
    ]
    assert {item.kind for item in items} == {ItemKind.COMMENT}
    assert {item.parent_id for item in items} == {WP_POST}
    assert {item.thread_id for item in items} == {WP_POST}
    assert items[0].url == WP_POST + "#comment-45"


def test_wordpress_comment_authors_text_and_title() -> None:
    items = parse("wordpress_comments.xml")
    assert [item.author.display_name for item in items] == [
        "Jane Parent",
        SCHOOL_OFFICE,
        "Grandad Bill",
        "A Concerned Neighbour",
    ]
    assert items[0].title == "By: Jane Parent"
    assert items[0].text == (
        "What a fantastic afternoon! Well done to all the staff \u2013 my two came home"
        " exhausted and very happy."
    )
    assert items[1].text.startswith("In reply to Jane Parent. Thank you Jane!")


def test_comments_by_the_schools_own_account_are_by_school_case_insensitively() -> None:
    items = parse("wordpress_comments.xml", by_school_authors=["st mary's SCHOOL office"])
    assert [item.by_school for item in items] == [False, True, False, False]
    assert not any(item.by_school for item in parse("wordpress_comments.xml"))


def test_wordpress_dates_are_utc_and_missing_or_odd_dates_are_none() -> None:
    dates = [item.created_at for item in parse("wordpress_comments.xml")]
    assert dates == [
        datetime(2026, 6, 13, 15, 4, 11, tzinfo=UTC),
        datetime(2026, 6, 13, 16, 20, 0, tzinfo=UTC),  # 17:20 +0100
        None,
        None,
    ]


def test_kind_override_applies_to_a_comments_feed() -> None:
    items = parse("wordpress_comments.xml", kind="post")
    assert {item.kind for item in items} == {ItemKind.POST}
    assert {item.parent_id for item in items} == {None}


# --- A local news site's Atom feed without entry ids --------------------------------------


def test_entries_without_ids_get_a_stable_hash_of_link_and_title() -> None:
    first, second = parse("local_news.xml")
    basis = (
        "https://www.anytownecho.example.co.uk/education/2026/05/holiday-club-places\n"
        "Holiday club places still available"
    )
    assert second.external_id == "sha256:" + hashlib.sha256(basis.encode()).hexdigest()
    assert first.external_id.startswith("sha256:") and first.external_id != second.external_id
    assert [item.external_id for item in parse("local_news.xml")] == [
        first.external_id,
        second.external_id,
    ]


def test_news_text_drops_scripts_and_styles() -> None:
    first, second = parse("local_news.xml")
    assert first.text == (
        "Inspectors visiting St Mary\u2019s C of E Primary School said pupils"
        " \u201cread widely and often\u201d. Headteacher Ms Okafor thanked families for"
        " their support."
    )
    assert "echoAnalytics" not in first.text and "advert-slot" not in first.text
    assert first.title == "Ofsted praises Anytown primary\u2019s reading scheme"
    assert second.text.startswith("Free places for children on free school meals")


def test_news_dates_fall_back_to_updated_and_authors_are_kept() -> None:
    first, second = parse("local_news.xml")
    assert first.created_at == datetime(2026, 5, 12, 17, 45, tzinfo=UTC)  # updated, +01:00
    assert second.created_at == datetime(2026, 5, 11, 8, 0, tzinfo=UTC)  # published wins
    assert [first.author.display_name, second.author.display_name] == [
        "Sam Reporter",
        "Priya Desk",
    ]
    assert {first.kind, second.kind} == {ItemKind.ARTICLE}


def test_html_to_text_removes_scripts_and_joins_inline_markup() -> None:
    html = (
        "<p>Anytown&#39;s <b>St</b>ory</p><script>var secret = 1;</script>"
        "<style>p { color: red }</style><noscript>Enable JavaScript to see this</noscript>"
        "<div>next\n\n  line</div>"
    )
    assert html_to_text(html) == "Anytown's Story next line"
    assert html_to_text("plain   text\n") == "plain text"


# --- Malformed input ----------------------------------------------------------------------


def test_truncated_xml_with_entries_is_parsed_despite_the_bozo_flag() -> None:
    items = parse("truncated.xml")
    assert [item.title for item in items] == [
        "Church Street school drop-off consultation opens",
        "Bin collection changes over the bank holiday",
    ]
    assert items[0].created_at == datetime(2026, 5, 11, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "content",
    [fixture("not_a_feed.html"), b"\x00\x01\x02 garbage {", b"", b'{"status": "ok"}'],
    ids=["html-page", "garbage", "empty", "json"],
)
def test_a_body_that_is_not_a_feed_is_a_permanent_error(content: bytes) -> None:
    with pytest.raises(PermanentError, match="is not an RSS or Atom feed") as caught:
        parse_feed(content, source_url=GOOGLE_ALERTS_URL)
    assert "https://www.google.com" + FEED_PATH in str(caught.value)
    no_secret(caught.value)


def test_a_valid_feed_with_no_entries_is_empty_not_an_error() -> None:
    empty = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    assert parse_feed(empty, source_url="https://feeds.example.org/feed") == ()


# --- Raw payloads -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["google_alerts.xml", "wordpress_comments.xml", "local_news.xml", "truncated.xml"]
)
def test_raw_payload_is_json_and_its_hash_is_stable(name: str) -> None:
    first, again = parse(name), parse(name)
    for item, same in zip(first, again, strict=True):
        json.dumps(item.raw)
        assert payload_sha256(item.raw) == payload_sha256(same.raw)
    assert len({payload_sha256(item.raw) for item in first}) == len(first)


def test_raw_payload_keeps_parsed_dates_as_iso_strings() -> None:
    raw = parse("google_alerts.xml")[0].raw
    assert raw["published"] == "2026-05-14T07:32:05Z"
    assert raw["published_parsed"] == "2026-05-14T07:32:05Z"
    assert raw["id"] == "tag:google.com,2013:googlealerts/feed:12345678901234567890"


# --- Fetching over HTTP -------------------------------------------------------------------


def test_fetch_saves_etag_and_last_modified_and_sends_a_user_agent(server: LocalServer) -> None:
    server.route(
        "GET",
        "/feed",
        Reply(
            200,
            fixture("wordpress_comments.xml"),
            headers={
                "ETag": 'W/"abc123"',
                "Last-Modified": "Sat, 13 Jun 2026 16:20:00 GMT",
            },
        ),
    )
    feed = connector(server.url("/feed"), user_agent="orm-monitor-test/1.0")
    result = feed.fetch({})
    feed.close()
    assert len(result.items) == 4 and not result.not_modified
    assert dict(result.new_state) == {
        "etag": 'W/"abc123"',
        "modified": "Sat, 13 Jun 2026 16:20:00 GMT",
    }
    sent = server.requests_to("/feed")[0].headers
    assert sent["user-agent"] == "orm-monitor-test/1.0"
    assert "if-none-match" not in sent and "if-modified-since" not in sent


def test_fetch_sends_the_saved_validators_and_a_304_is_not_modified(server: LocalServer) -> None:
    state = {"etag": '"v7"', "modified": "Sat, 13 Jun 2026 16:20:00 GMT"}

    def conditional(request: Recorded) -> Reply:
        if request.headers.get("if-none-match") == '"v7"':
            return Reply(304)
        return Reply(200, fixture("google_alerts.xml"), headers={"ETag": '"v8"'})

    server.route("GET", "/feed", conditional)
    feed = connector(server.url("/feed"))
    unchanged = feed.fetch(state)
    changed = feed.fetch({"etag": '"v6"'})
    feed.close()
    assert unchanged.items == () and unchanged.not_modified
    assert dict(unchanged.new_state) == state
    sent = server.requests_to("/feed")[0].headers
    assert sent["if-none-match"] == '"v7"'
    assert sent["if-modified-since"] == "Sat, 13 Jun 2026 16:20:00 GMT"
    assert len(changed.items) == 3 and dict(changed.new_state) == {"etag": '"v8"', "modified": None}


def test_fetch_follows_redirects(server: LocalServer) -> None:
    server.route("GET", "/old-feed", Reply(301, headers={"Location": server.url("/feed")}))
    server.route("GET", "/feed", Reply(200, fixture("local_news.xml")))
    feed = connector(server.url("/old-feed"))
    assert len(feed.fetch({}).items) == 2
    feed.close()
    assert [r.path for r in server.requests] == ["/old-feed", "/feed"]


def test_one_http_client_is_reused_and_closed() -> None:
    with local_server() as running:
        running.route("GET", "/feed", Reply(200, fixture("local_news.xml")))
        feed = connector(running.url("/feed"))
        feed.fetch({})
        client = feed._client
        feed.fetch({})
        assert feed._client is client and client is not None
        feed.close()
        assert client.is_closed
        feed.close()


def test_probe_names_the_feed_and_counts_its_entries(server: LocalServer) -> None:
    server.route("GET", "/feed", Reply(200, fixture("wordpress_comments.xml")))
    feed = connector(server.url("/feed"))
    assert feed.probe() == "feed 'Comments on: Sports Day 2026' reachable, 4 entries"
    feed.close()


# --- Error mapping ------------------------------------------------------------------------


def test_429_with_retry_after_seconds_is_rate_limited_until_then(server: LocalServer) -> None:
    server.route("GET", "/feed", Reply(429, "slow down", headers={"Retry-After": "120"}))
    before = datetime.now(UTC)
    error = fetch_error(server.url("/feed") + SECRET_QUERY)
    assert isinstance(error, RateLimited) and error.retry_at is not None
    assert (
        before + timedelta(seconds=119)
        <= error.retry_at
        <= datetime.now(UTC) + timedelta(seconds=121)
    )
    no_secret(error)


def test_503_with_an_http_date_retry_after_is_rate_limited(server: LocalServer) -> None:
    retry_after = {"Retry-After": "Wed, 01 Jul 2026 08:30:00 GMT"}
    server.route("GET", "/feed", Reply(503, headers=retry_after))
    error = fetch_error(server.url("/feed") + SECRET_QUERY)
    assert isinstance(error, RateLimited)
    assert error.retry_at == datetime(2026, 7, 1, 8, 30, tzinfo=UTC)
    no_secret(error)


@pytest.mark.parametrize(
    ("status", "expected", "words"),
    [
        (500, SourceUnavailable, "HTTP 500"),
        (502, SourceUnavailable, "HTTP 502"),
        (503, SourceUnavailable, "HTTP 503"),
        (401, AuthError, "HTTP 401"),
        (403, AuthError, "HTTP 403"),
        (404, PermanentError, "HTTP 404"),
        (410, PermanentError, "HTTP 410"),
        (400, PermanentError, "HTTP 400"),
    ],
)
def test_http_status_maps_to_a_typed_error(
    server: LocalServer, status: int, expected: type[ConnectorError], words: str
) -> None:
    server.route("GET", "/feed", Reply(status, "<html>nope</html>"))
    error = fetch_error(server.url("/feed") + SECRET_QUERY)
    assert type(error) is expected
    assert words in str(error) and server.url("/feed") in str(error)
    no_secret(error)


def test_auth_and_missing_feed_errors_say_what_to_fix(server: LocalServer) -> None:
    server.route("GET", "/private", Reply(403))
    server.route("GET", "/gone", Reply(410))
    assert "private" in fetch_error(server.url("/private")).fix
    assert "feed URL" in fetch_error(server.url("/gone")).fix


def test_a_429_without_retry_after_is_still_rate_limited(server: LocalServer) -> None:
    server.route("GET", "/feed", Reply(429))
    error = fetch_error(server.url("/feed"))
    assert isinstance(error, RateLimited) and error.retry_at is None


def test_a_web_page_instead_of_a_feed_is_a_permanent_error(server: LocalServer) -> None:
    server.route(
        "GET",
        "/feed",
        Reply(200, fixture("not_a_feed.html"), headers={"Content-Type": "text/html"}),
    )
    error = fetch_error(server.url("/feed") + SECRET_QUERY)
    assert isinstance(error, PermanentError) and "is not an RSS or Atom feed" in str(error)
    no_secret(error)


def test_a_refused_connection_is_source_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}/feed{SECRET_QUERY}")
    assert isinstance(error, SourceUnavailable)
    assert f"http://127.0.0.1:{port}/feed could not be reached" in str(error)
    no_secret(error)


def test_a_slow_server_times_out_as_source_unavailable(server: LocalServer) -> None:
    def slow(_: Recorded) -> Reply:
        time.sleep(1.0)
        return Reply(200, fixture("local_news.xml"))

    server.route("GET", "/feed", slow)
    started = time.monotonic()
    error = fetch_error(server.url("/feed") + SECRET_QUERY, timeout_seconds=0.2)
    assert time.monotonic() - started < 0.9
    assert isinstance(error, SourceUnavailable) and "timed out after 0.2s" in str(error)
    no_secret(error)


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert retry_at_from_header("90", now=now) == datetime(2026, 6, 1, 12, 1, 30, tzinfo=UTC)
    assert retry_at_from_header("Mon, 01 Jun 2026 13:00:00 GMT", now=now) == (
        datetime(2026, 6, 1, 13, 0, tzinfo=UTC)
    )
    assert retry_at_from_header("Mon, 01 Jun 2026 14:00:00 +0100", now=now) == (
        datetime(2026, 6, 1, 13, 0, tzinfo=UTC)
    )
    assert retry_at_from_header("soon", now=now) is None
    assert retry_at_from_header(None, now=now) is None


def test_public_url_drops_credentials_query_and_fragment() -> None:
    assert public_url("https://user:pw@feeds.example.org:8443/a/b?key=1#top") == (
        "https://feeds.example.org:8443/a/b"
    )


# --- Local files --------------------------------------------------------------------------


def test_a_file_url_is_read_and_the_state_is_returned_unchanged() -> None:
    feed = connector((FIXTURES / "local_news.xml").as_uri())
    result = feed.fetch({"etag": None, "modified": None})
    feed.close()
    assert len(result.items) == 2 and not result.not_modified
    assert dict(result.new_state) == {"etag": None, "modified": None}


def test_a_missing_file_is_a_permanent_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "demo" / "missing.xml"
    error = fetch_error(missing.as_uri())
    assert isinstance(error, PermanentError) and str(missing) in str(error)


# --- Configuration ------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = RssConnector.Config(url="https://feeds.example.org/feed")
    assert config.timeout_seconds == 20 and config.kind is None
    assert config.by_school_authors == [] and config.user_agent.startswith("orm-monitor/")


@pytest.mark.parametrize(
    "settings",
    [
        {"url": "ftp://feeds.example.org/feed.xml"},
        {"url": "feeds.example.org/feed.xml"},
        {"url": "https:///no-host"},
        {"url": "https://feeds.example.org/feed", "pasword": "x"},
        {"url": "https://feeds.example.org/feed", "kind": "tweet"},
        {"url": "https://feeds.example.org/feed", "timeout_seconds": 0},
    ],
    ids=["ftp", "no-scheme", "no-host", "unknown-key", "unknown-kind", "zero-timeout"],
)
def test_config_rejects_bad_settings(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RssConnector.Config.model_validate(settings)


def test_the_connector_is_registered_with_its_metadata() -> None:
    assert default_registry().get("rss") is RssConnector
    assert (RssConnector.name, RssConnector.title) == ("rss", "RSS / Atom feed")
    assert RssConnector.default_interval_minutes == 15
