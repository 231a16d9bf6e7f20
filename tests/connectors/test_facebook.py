"""The Facebook Page connector: feed, comments and replies through the Graph API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

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
from connectors.base import parse_utc_time as parse_graph_time
from connectors.facebook import (
    FacebookPageConnector,
    advance,
    parse_comment,
    parse_post,
    reached,
    watch_list,
)
from connectors.graph import next_page_params
from connectors.graph_errors import Advice, UnknownObject, graph_error, regain_access_at
from tests.support.clock import Clock
from tests.support.http import LocalServer, Recorded, Reply, local_server
from tests.support.redirect import redirect_hosts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "facebook"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PAGE_ID = "105123456789012"
TOKEN = "EAAB-test-page-token-s3cr3t"
TRIP = f"{PAGE_ID}_998877665544332"
SPORTS_DAY = f"{PAGE_ID}_998877665544331"
NEW_POST = f"{PAGE_ID}_998877665544333"
FEED = f"/v25.0/{PAGE_ID}/feed"
ADVICE = Advice(
    "docs/connectors/facebook.md", "FB_PAGE_TOKEN", ("pages_read_engagement",), "page_id", "page id"
)


def fixture(name: str) -> dict[str, Any]:
    """A recorded Graph API answer under tests/fixtures/facebook/."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def comments_path(post_id: str, version: str = "v25.0") -> str:
    """The request path of a post's comments edge."""
    return f"/{version}/{post_id}/comments"


def connector(**settings: Any) -> FacebookPageConnector:
    """A connector for the test page with a frozen clock and the token as its credential."""
    config = FacebookPageConnector.Config(
        page_id=PAGE_ID, access_token_credential="FB_PAGE_TOKEN", **settings
    )
    secrets = {"FB_PAGE_TOKEN": TOKEN}
    return FacebookPageConnector("facebook-test", config, secrets.__getitem__, clock=Clock(NOW))


def older_page_after_cursor(first: str, older: str) -> Any:
    """A handler: the first page, or the older one when asked with an `after` cursor."""

    def serve(request: Recorded) -> Reply:
        return Reply(200, fixture(older if "after" in request.query else first))

    return serve


def serve_page(server: LocalServer, feed: str = "feed") -> None:
    """The test page: its feed, two posts' comments (the trip's over two pages)."""
    server.route("GET", FEED, Reply(200, fixture(feed)))
    server.route(
        "GET", comments_path(TRIP), older_page_after_cursor("comments_trip", "comments_trip_older")
    )
    server.route("GET", comments_path(SPORTS_DAY), Reply(200, fixture("comments_sports_day")))
    server.route("GET", comments_path(NEW_POST), Reply(200, fixture("empty")))


def poll(state: dict[str, Any] | None = None, **settings: Any) -> tuple[tuple[Item, ...], Any]:
    """One fetch: its items and new state."""
    page = connector(**settings)
    try:
        result = page.fetch(state or {})
    finally:
        page.close()
    return result.items, result.new_state


def fetch_error(state: dict[str, Any] | None = None, **settings: Any) -> ConnectorError:
    """The ConnectorError one fetch raises; the token never appears in it."""
    page = connector(**settings)
    try:
        with pytest.raises(ConnectorError) as caught:
            page.fetch(state or {})
    finally:
        page.close()
    assert TOKEN not in caught.value.one_line() and "\n" not in caught.value.one_line()
    return caught.value


def by_id(items: tuple[Item, ...]) -> dict[str, Item]:
    """Items keyed by external id."""
    return {item.external_id: item for item in items}


@pytest.fixture
def graph() -> Iterator[LocalServer]:
    """A local server standing in for https://graph.facebook.com."""
    with local_server() as server, redirect_hosts(server, "graph.facebook.com"):
        yield server


# --- Parsing documented payloads ----------------------------------------------------------


def test_a_visitor_post_is_a_post_in_its_own_thread_not_by_the_school() -> None:
    item = parse_post(fixture("feed")["data"][0], PAGE_ID)
    assert item.external_id == TRIP and item.kind is ItemKind.POST
    assert not item.by_school and item.thread_id == TRIP and item.parent_id is None
    assert item.author.id == "7012345678901234" and item.author.display_name == "Jane Parent"
    assert item.created_at == datetime(2026, 6, 14, 19, 42, 10, tzinfo=UTC)
    assert item.url == "https://www.facebook.com/105123456789012/posts/998877665544332"
    assert item.text.startswith("Does anyone know if the Year 6 residential trip")
    assert item.account == "feed"


def test_the_pages_own_post_is_by_the_school() -> None:
    item = parse_post(fixture("feed")["data"][1], PAGE_ID)
    assert item.by_school and item.kind is ItemKind.POST and item.thread_id == SPORTS_DAY


def test_a_top_level_comment_hangs_off_its_post() -> None:
    raw = fixture("comments_trip")["data"][2]
    item = parse_comment(raw, TRIP, PAGE_ID)
    assert item.kind is ItemKind.COMMENT and not item.by_school
    assert item.parent_id == TRIP and item.thread_id == TRIP
    assert item.external_id == "998877665544332_1200000000000002"
    assert item.text == "Same here, nothing in Ruby's bag either."
    assert item.created_at == datetime(2026, 6, 14, 19, 50, 31, tzinfo=UTC)
    assert item.url is not None and item.url.endswith("comment_id=1200000000000002")
    assert item.raw == raw and item.account == "comments"


def test_the_pages_reply_is_by_the_school_with_the_comment_as_parent() -> None:
    item = parse_comment(fixture("comments_trip")["data"][0], TRIP, PAGE_ID)
    assert item.kind is ItemKind.REPLY and item.by_school
    assert item.parent_id == "998877665544332_1200000000000002"
    assert item.thread_id == TRIP
    assert item.author.display_name == "St Mary's C of E Primary School"


def test_a_comment_without_a_message_has_empty_text() -> None:
    item = parse_comment(fixture("comments_trip")["data"][1], TRIP, PAGE_ID)
    assert item.text == "" and item.url is None and item.kind is ItemKind.COMMENT
    assert item.author.display_name == "Grandad Bill"


def test_a_comment_without_an_author_is_not_by_the_school() -> None:
    item = parse_comment({"id": "1_2", "message": "hidden author"}, TRIP, PAGE_ID)
    assert item.author.id is None and not item.by_school and item.created_at is None


def test_raw_payloads_are_json_with_stable_hashes() -> None:
    payloads = fixture("comments_trip")["data"]
    items = [parse_comment(raw, TRIP, PAGE_ID) for raw in payloads]
    for item in items:
        json.dumps(item.raw)
    assert len({payload_sha256(item.raw) for item in items}) == len(items)


def test_graph_times_are_aware_utc_and_odd_ones_are_none() -> None:
    assert parse_graph_time("2026-06-14T19:42:10+0100") == datetime(
        2026, 6, 14, 18, 42, 10, tzinfo=UTC
    )
    assert parse_graph_time("not a time") is None and parse_graph_time(None) is None


# --- Cursor functions ---------------------------------------------------------------------


def test_the_watch_list_is_the_recent_posts_newest_first_at_most_max_posts() -> None:
    known = {
        "old": {"created": "2026-05-01T00:00:00+0000"},
        "mid": {"created": "2026-06-10T00:00:00+0000"},
    }
    feed = fixture("feed")["data"]
    watched = watch_list(known, feed, NOW - timedelta(days=7), max_posts=2)
    assert list(watched) == [TRIP, SPORTS_DAY]
    assert list(watch_list(known, feed, NOW - timedelta(days=7), max_posts=5)) == [
        TRIP,
        SPORTS_DAY,
        "mid",
    ]


def test_the_cursor_keeps_the_newest_time_and_the_ids_made_then() -> None:
    comments = fixture("comments_trip")["data"]
    cursor = advance({"created": "x", "newest": None, "ids": []}, comments)
    assert cursor == {
        "created": "x",
        "newest": "2026-06-15T08:05:00+00:00",
        "ids": ["998877665544332_1200000000000004"],
    }
    assert advance(cursor, fixture("comments_trip_older")["data"]) == cursor
    tie = {"id": "998877665544332_1200000000000009", "created_time": "2026-06-15T08:05:00+0000"}
    assert advance(cursor, [tie])["ids"] == [
        "998877665544332_1200000000000004",
        "998877665544332_1200000000000009",
    ]


def test_a_page_reaches_the_cursor_at_a_seen_id_or_an_older_comment() -> None:
    cursor = advance({}, fixture("comments_trip")["data"])
    assert reached(cursor, fixture("comments_trip_new")["data"])  # contains a seen id
    assert reached(cursor, fixture("comments_trip_older")["data"])  # older than the newest
    newer = [{"id": "x_1", "created_time": "2026-06-15T09:00:00+0000"}]
    assert not reached(cursor, newer)
    assert not reached({}, fixture("comments_trip")["data"])  # no cursor: read every page


# --- Polling over HTTP --------------------------------------------------------------------


def test_requests_go_to_the_pinned_graph_version_with_the_token(graph: LocalServer) -> None:
    serve_page(graph)
    poll()
    assert graph.requests and all(r.path.startswith("/v25.0/") for r in graph.requests)
    assert {r.query["access_token"][0] for r in graph.requests} == {TOKEN}


def test_the_graph_version_is_configurable(graph: LocalServer) -> None:
    graph.route("GET", f"/v26.0/{PAGE_ID}/feed", Reply(200, fixture("empty")))
    items, _ = poll(graph_version="v26.0")
    assert items == () and [r.path for r in graph.requests] == [f"/v26.0/{PAGE_ID}/feed"]


def test_the_first_poll_reads_one_feed_page_and_every_comment_page(graph: LocalServer) -> None:
    serve_page(graph)
    items, _ = poll()
    feed = graph.requests_to(FEED)
    assert len(feed) == 1  # the feed's next page is not followed on a first poll
    assert feed[0].query["fields"] == ["id,message,created_time,from,permalink_url"]
    assert feed[0].query["limit"] == ["25"]
    trip = graph.requests_to(comments_path(TRIP))
    assert [r.query.get("after") for r in trip] == [
        None,
        [fixture("comments_trip")["paging"]["cursors"]["after"]],
    ]
    assert trip[0].query["filter"] == ["stream"] and trip[0].query["limit"] == ["100"]
    assert trip[0].query["order"] == ["reverse_chronological"]
    assert trip[0].query["fields"] == ["id,message,created_time,from,parent,permalink_url"]
    assert [item.external_id for item in items] == [
        TRIP,
        SPORTS_DAY,
        "998877665544332_1200000000000004",
        "998877665544332_1200000000000003",
        "998877665544332_1200000000000002",
        "998877665544332_1200000000000001",
        "998877665544331_1300000000000001",
    ]


def test_the_schools_reply_is_found_in_the_stream_with_its_thread(graph: LocalServer) -> None:
    serve_page(graph)
    items = by_id(poll()[0])
    reply = items["998877665544332_1200000000000004"]
    assert reply.by_school and reply.kind is ItemKind.REPLY
    assert reply.parent_id == "998877665544332_1200000000000002" and reply.thread_id == TRIP
    assert [i.external_id for i in items.values() if i.by_school] == [SPORTS_DAY, reply.external_id]


def test_the_state_remembers_recent_posts_and_their_newest_comment(graph: LocalServer) -> None:
    serve_page(graph)
    _, state = poll()
    assert state == {
        "posts": {
            TRIP: {
                "created": "2026-06-14T19:42:10+0000",
                "newest": "2026-06-15T08:05:00+00:00",
                "ids": ["998877665544332_1200000000000004"],
            },
            SPORTS_DAY: {
                "created": "2026-06-13T15:00:00+0000",
                "newest": "2026-06-13T16:30:00+00:00",
                "ids": ["998877665544331_1300000000000001"],
            },
        }
    }
    json.dumps(state)


def test_an_overlapping_second_poll_repeats_ids_and_reads_one_page_a_post(
    graph: LocalServer,
) -> None:
    serve_page(graph)
    first, state = poll()
    graph.requests.clear()
    again, state_again = poll(state)
    assert {i.external_id for i in again} <= {i.external_id for i in first}
    assert state_again == state
    assert len(graph.requests_to(comments_path(TRIP))) == 1  # the cursor was reached
    assert len(graph.requests_to(FEED)) == 1  # a known post on the first feed page


def test_a_new_post_and_a_new_reply_advance_the_cursor(graph: LocalServer) -> None:
    serve_page(graph)
    _, state = poll()
    serve_page(graph, feed="feed_new_post")
    graph.route("GET", comments_path(TRIP), Reply(200, fixture("comments_trip_new")))
    items, state = poll(state)
    found = by_id(items)
    assert found[NEW_POST].kind is ItemKind.POST and not found[NEW_POST].by_school
    reply = found["998877665544332_1200000000000005"]
    assert reply.kind is ItemKind.REPLY and not reply.by_school
    assert reply.parent_id == "998877665544332_1200000000000004"
    assert state["posts"][TRIP]["newest"] == "2026-06-15T11:58:00+00:00"
    assert list(state["posts"]) == [NEW_POST, TRIP, SPORTS_DAY]
    assert state["posts"][NEW_POST]["newest"] is None


def test_past_the_first_poll_the_feed_pages_back_to_a_known_or_old_post(
    graph: LocalServer,
) -> None:
    serve_page(graph)
    graph.route("GET", FEED, older_page_after_cursor("feed", "feed_older"))
    state = {"posts": {"gone-quiet": {"created": "2026-06-09T10:00:00+0000", "newest": None}}}
    graph.route("GET", comments_path("gone-quiet"), Reply(200, fixture("empty")))
    items, new_state = poll(state)
    assert len(graph.requests_to(FEED)) == 2  # the second page holds a post older than 7 days
    assert f"{PAGE_ID}_998877665544330" in by_id(items)  # stored, but its comments are not read
    assert not graph.requests_to(comments_path(f"{PAGE_ID}_998877665544330"))
    assert set(new_state["posts"]) == {TRIP, SPORTS_DAY, "gone-quiet"}


def test_posts_older_than_the_lookback_drop_out_of_the_state(graph: LocalServer) -> None:
    graph.route("GET", FEED, Reply(200, fixture("feed_older")))
    items, state = poll({"posts": {"ancient": {"created": "2026-01-01T00:00:00+0000"}}})
    assert [i.external_id for i in items] == [f"{PAGE_ID}_998877665544330"]
    assert state == {"posts": {}}
    assert [r.path for r in graph.requests] == [FEED]


def test_an_empty_feed_gives_no_items(graph: LocalServer) -> None:
    graph.route("GET", FEED, Reply(200, fixture("empty")))
    assert poll() == ((), {"posts": {}})


def test_a_post_deleted_since_the_last_poll_is_reported_deleted(graph: LocalServer) -> None:
    serve_page(graph)
    graph.route("GET", comments_path(SPORTS_DAY), Reply(400, fixture("error_unknown_object")))
    _, state = poll()
    graph.route("GET", FEED, Reply(200, fixture("empty")))
    graph.route("GET", comments_path(TRIP), Reply(200, fixture("comments_trip_new")))
    state = {"posts": {**state["posts"], SPORTS_DAY: {"created": "2026-06-13T15:00:00+0000"}}}
    items, new_state = poll(state)
    gone = by_id(items)[SPORTS_DAY]
    assert gone.deleted and gone.kind is ItemKind.POST and gone.text == ""
    assert set(new_state["posts"]) == {TRIP}


def test_max_posts_bounds_the_feed_page_and_the_posts_watched(graph: LocalServer) -> None:
    serve_page(graph)
    poll(max_posts=1)
    assert graph.requests_to(FEED)[0].query["limit"] == ["1"]
    assert not graph.requests_to(comments_path(SPORTS_DAY))


# --- Errors -------------------------------------------------------------------------------


def usage_header(minutes: int) -> dict[str, str]:
    """A documented X-Business-Use-Case-Usage header for the page."""
    usage = {
        PAGE_ID: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 25,
                "total_time": 25,
                "estimated_time_to_regain_access": minutes,
            }
        ]
    }
    return {"X-Business-Use-Case-Usage": json.dumps(usage)}


def test_a_page_rate_limit_waits_as_long_as_the_usage_header_says(graph: LocalServer) -> None:
    graph.route("GET", FEED, Reply(400, fixture("error_page_limit"), usage_header(19)))
    error = fetch_error()
    assert isinstance(error, RateLimited) and error.retry_at == NOW + timedelta(minutes=19)
    assert "(#32) Page request limit reached" in str(error)


def test_an_app_rate_limit_without_a_wait_time_waits_15_minutes(graph: LocalServer) -> None:
    headers = {"X-App-Usage": '{"call_count":100,"total_time":25,"total_cputime":25}'}
    graph.route("GET", FEED, Reply(403, fixture("error_app_limit"), headers))
    error = fetch_error()
    assert isinstance(error, RateLimited) and error.retry_at == NOW + timedelta(minutes=15)


def test_a_rate_limit_on_a_comments_call_fails_the_poll(graph: LocalServer) -> None:
    serve_page(graph)
    graph.route("GET", comments_path(SPORTS_DAY), Reply(400, fixture("error_page_limit")))
    assert isinstance(fetch_error(), RateLimited)


def test_an_expired_token_is_an_auth_error_naming_the_credential(graph: LocalServer) -> None:
    graph.route("GET", FEED, Reply(400, fixture("error_expired_token")))
    error = fetch_error()
    assert isinstance(error, AuthError) and "Session has expired" in str(error)
    assert "FB_PAGE_TOKEN" in error.fix and "docs/connectors/facebook.md" in error.fix


@pytest.mark.parametrize(
    ("name", "permission"),
    [
        ("error_permission", "pages_read_engagement"),
        ("error_user_content_permission", "pages_read_user_content"),
    ],
)
def test_a_missing_permission_is_named(graph: LocalServer, name: str, permission: str) -> None:
    graph.route("GET", FEED, Reply(403, fixture(name)))
    error = fetch_error()
    assert type(error) is PermanentError
    assert str(error).startswith(f"missing permission {permission} ")
    assert "pages_read_engagement, pages_read_user_content" in error.fix


def test_an_unknown_page_id_is_a_wrong_page_id(graph: LocalServer) -> None:
    graph.route("GET", FEED, Reply(400, fixture("error_unknown_object")))
    error = fetch_error()
    assert isinstance(error, PermanentError) and str(error).startswith("wrong page id")
    assert "page_id" in error.fix


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, fixture("error_transient")),
        Reply(502, "<html><body>Bad Gateway</body></html>", {"Content-Type": "text/html"}),
        Reply(503, b""),
    ],
    ids=["transient-code-2", "html-502", "empty-503"],
)
def test_server_errors_are_source_unavailable(graph: LocalServer, reply: Reply) -> None:
    graph.route("GET", FEED, reply)
    assert isinstance(fetch_error(), SourceUnavailable)


def test_other_graph_errors_are_permanent(graph: LocalServer) -> None:
    graph.route("GET", FEED, Reply(400, fixture("error_invalid_field")))
    error = fetch_error()
    assert type(error) is PermanentError and "nonexisting field" in str(error)


def test_a_body_that_is_not_json_is_permanent(graph: LocalServer) -> None:
    graph.route("GET", FEED, Reply(200, "<html>login</html>", {"Content-Type": "text/html"}))
    assert type(fetch_error()) is PermanentError


def test_a_slow_answer_times_out_as_source_unavailable(graph: LocalServer) -> None:
    def slow(request: Recorded) -> Reply:
        time.sleep(0.3)
        return Reply(200, fixture("empty"))

    graph.route("GET", FEED, slow)
    error = fetch_error(timeout_seconds=0.05)
    assert isinstance(error, SourceUnavailable) and "timed out after 0.05s" in str(error)


def test_an_unreachable_host_is_source_unavailable_without_the_token() -> None:
    with local_server() as stopped:
        pass
    with redirect_hosts(stopped, "graph.facebook.com"):
        error = fetch_error()
    assert isinstance(error, SourceUnavailable) and "could not be reached" in str(error)
    assert "access_token" not in str(error)


def test_a_missing_credential_is_an_auth_error() -> None:
    config = FacebookPageConnector.Config(page_id=PAGE_ID, access_token_credential="NOT_SET")
    page = FacebookPageConnector("facebook-test", config, {}.__getitem__)
    with pytest.raises(AuthError, match="credential NOT_SET is not available"):
        page.fetch({})


# --- The Graph client's pure parts --------------------------------------------------------


def test_next_page_params_prefer_the_after_cursor_then_the_next_url() -> None:
    assert next_page_params(fixture("comments_trip")) == {
        "after": fixture("comments_trip")["paging"]["cursors"]["after"]
    }
    assert next_page_params(fixture("comments_trip_older")) is None  # no "next": the last page
    time_paged = {
        "paging": {
            "next": "https://graph.facebook.com/v25.0/1/feed?access_token=T&limit=25&until=1718000000&__paging_token=enc"
        }
    }
    assert next_page_params(time_paged) == {
        "limit": "25",
        "until": "1718000000",
        "__paging_token": "enc",
    }


def test_regain_time_takes_the_longest_estimate_in_the_usage_headers() -> None:
    headers = {
        "x-business-use-case-usage": json.dumps(
            {
                "1": [{"type": "pages", "estimated_time_to_regain_access": 5}],
                "2": [{"type": "instagram", "estimated_time_to_regain_access": 30}],
            }
        )
    }
    assert regain_access_at(headers, NOW) == NOW + timedelta(minutes=30)
    assert regain_access_at({"X-App-Usage": "not json"}, NOW) == NOW + timedelta(minutes=15)
    assert regain_access_at({}, NOW) == NOW + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("code", "subcode", "status", "expected"),
    [
        (17, None, 400, RateLimited),
        (613, None, 400, RateLimited),
        (80001, None, 400, RateLimited),
        (190, 460, 400, AuthError),
        (102, None, 400, AuthError),
        (200, None, 403, PermanentError),
        (100, 33, 400, UnknownObject),
        (803, None, 404, UnknownObject),
        (1, None, 500, SourceUnavailable),
        (12, None, 400, PermanentError),
    ],
)
def test_graph_error_codes_map_to_typed_errors(
    code: int, subcode: int | None, status: int, expected: type[ConnectorError]
) -> None:
    body = {
        "error": {"message": "m", "type": "OAuthException", "code": code, "error_subcode": subcode}
    }
    error = graph_error(
        body, status=status, headers={}, advice=ADVICE, host="graph.facebook.com", now=NOW
    )
    assert type(error) is expected


# --- probe and config ---------------------------------------------------------------------


def test_probe_names_the_page_and_says_its_feed_is_readable(graph: LocalServer) -> None:
    graph.route("GET", f"/v25.0/{PAGE_ID}", Reply(200, fixture("page")))
    page = connector()
    line = page.probe()
    page.close()
    assert line == (
        "page 'St Mary's C of E Primary School' (105123456789012): feed readable, "
        "latest post visible"
    )
    (request,) = graph.requests
    assert request.query["fields"] == ["id,name,feed.limit(1){id,created_time}"]


@pytest.mark.parametrize(
    ("name", "expected", "words"),
    [
        ("error_unknown_object", PermanentError, "wrong page id"),
        ("error_expired_token", AuthError, "Session has expired"),
        ("error_permission", PermanentError, "missing permission pages_read_engagement"),
    ],
)
def test_probe_failures_say_what_to_fix(
    graph: LocalServer, name: str, expected: type[ConnectorError], words: str
) -> None:
    graph.route("GET", f"/v25.0/{PAGE_ID}", Reply(400, fixture(name)))
    page = connector()
    with pytest.raises(expected, match=words) as caught:
        page.probe()
    page.close()
    assert TOKEN not in caught.value.one_line() and caught.value.fix


def test_one_session_is_reused_and_closed(graph: LocalServer) -> None:
    graph.route("GET", FEED, Reply(200, fixture("empty")))
    page = connector()
    page.fetch({})
    client = page._client
    page.fetch({})
    assert page._client is client is not None
    page.close()
    assert page._client is None
    page.close()


@pytest.mark.parametrize(
    "settings",
    [
        {"page_id": "st-marys-school"},
        {"graph_version": "25.0"},
        {"max_posts": 101},
        {"lookback_days": 0},
        {"access_token": "EAAB..."},
    ],
)
def test_config_rejects_bad_settings(settings: dict[str, Any]) -> None:
    values = {"page_id": PAGE_ID, "access_token_credential": "FB_PAGE_TOKEN", **settings}
    with pytest.raises(ValidationError):
        FacebookPageConnector.Config(**values)


def test_config_defaults() -> None:
    config = FacebookPageConnector.Config(page_id=PAGE_ID, access_token_credential="FB_PAGE_TOKEN")
    assert (config.graph_version, config.lookback_days, config.max_posts) == ("v25.0", 7, 25)
    assert FacebookPageConnector.default_interval_minutes == 10
    assert FacebookPageConnector.own_account
