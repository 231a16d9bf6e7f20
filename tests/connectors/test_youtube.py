"""The YouTube connector: comment threads and replies, the cursor, quota and typed errors.

Payloads follow the YouTube Data API v3 reference (commentThreadListResponse, commentListResponse)
and error bodies recorded in public issue threads (quotaExceeded, API_KEY_INVALID, ...).
"""

from __future__ import annotations

import json
import socket
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
    FetchResult,
    Item,
    ItemKind,
    PermanentError,
    RateLimited,
    SourceUnavailable,
)
from connectors.youtube import (
    ThreadCursor,
    YouTubeConnector,
    display_text,
    next_quota_reset,
    parse_thread,
)
from tests.support.clock import Clock
from tests.support.http import LocalServer, Recorded, Reply, local_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "youtube"
THREADS = "/youtube/v3/commentThreads"
COMMENTS = "/youtube/v3/comments"
API_KEY = "AIzaSyD-s3cr3t-t3st-k3y-0123456789abcd"
SCHOOL = "UCs7Tm0rYqL5Ab3xN2pQwE8g"
T1, T2, T3, T4 = (
    "UgwR7b2kQm9XvL3pW8n4AaABAg",
    "UgzK4d8Hs2Lq6Tn0Vb34AaABAg",
    "Ugy9Pq3Xc7Wd1Rf5Jt84AaABAg",
    "UgxM2n6Bv0Cx4Zl8Ka14AaABAg",
)
T5, T6 = "UgwH5j9Gf3Dd7Ss1Aa44AaABAg", "UgzE8r2Ty6Ui0Op4Lk74AaABAg"
NOW = datetime(2026, 6, 12, 17, 0, tzinfo=UTC)
LISTED_ONLY = {f"{T3}.A6jGdwfq0Q8x9jGe0P1vD2", f"{T3}.A7jGdwfq0Q8x9jGe0P1vD2"}  # not in the thread


def reply_id(thread_id: str, n: int) -> str:
    """The id the fixtures give the n-th reply in a thread."""
    return f"{thread_id}." + f"A{n}jGdwfq0Q8x9jGe0P1vD2r"[:22]


def fixture(name: str) -> dict[str, Any]:
    """A recorded response body under tests/fixtures/youtube/."""
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return body


def page1_state() -> dict[str, Any]:
    """The state after a first poll that read page 1."""
    return {
        "newest_published_at": "2026-06-12T16:45:10.000000Z",
        "ids_at_newest": [T1],
        "reply_counts": {T3: 7},
    }


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


def connector(server: LocalServer, clock: Clock | None = None, **settings: Any) -> YouTubeConnector:
    """A YouTubeConnector for the school's channel, pointed at the local server."""
    config = YouTubeConnector.Config(
        channel_id=SCHOOL,
        api_key_credential="YOUTUBE_API_KEY",
        base_url=server.base_url,
        **settings,
    )
    secrets = {"YOUTUBE_API_KEY": API_KEY}
    return YouTubeConnector("youtube-test", config, secrets.__getitem__, clock=clock or Clock(NOW))


def serve_channel(server: LocalServer) -> None:
    """Two pages of threads (chosen by pageToken) and two pages of replies to T3."""

    def threads(request: Recorded) -> Reply:
        page = "comment_threads_page2" if "pageToken" in request.query else "comment_threads_page1"
        return Reply(200, fixture(page))

    def replies(request: Recorded) -> Reply:
        page = (
            "comments_replies_page2" if "pageToken" in request.query else "comments_replies_page1"
        )
        return Reply(200, fixture(page))

    server.route("GET", THREADS, threads)
    server.route("GET", COMMENTS, replies)


def poll(server: LocalServer, state: dict[str, Any], **settings: Any) -> FetchResult:
    """One fetch with a fresh connector, closed afterwards."""
    youtube = connector(server, **settings)
    try:
        return youtube.fetch(state)
    finally:
        youtube.close()


def by_id(items: tuple[Item, ...]) -> dict[str, Item]:
    """Items keyed by external id."""
    return {item.external_id: item for item in items}


def fetch_error(server: LocalServer, state: dict[str, Any] | None = None) -> ConnectorError:
    """The ConnectorError one fetch raises."""
    with pytest.raises(ConnectorError) as caught:
        poll(server, state or {})
    return caught.value


def no_key(error: ConnectorError) -> None:
    """The error is one line and never carries the API key."""
    line = error.one_line()
    assert API_KEY not in line and "s3cr3t" not in line and "\n" not in line


# --- Parsing recorded threads -------------------------------------------------------------


def test_a_top_level_comment_is_a_comment_on_its_video() -> None:
    first = parse_thread(fixture("comment_threads_page1")["items"][0], channel_id=SCHOOL)
    assert len(first) == 1
    item = first[0]
    assert item.external_id == T1 and item.kind is ItemKind.COMMENT
    assert item.thread_id == T1 and item.parent_id == "dQ3kS9x2LmA"
    assert item.url == f"https://www.youtube.com/watch?v=dQ3kS9x2LmA&lc={T1}"
    assert item.text == "Is the summer fair still going ahead on Saturday if it rains?"
    assert item.created_at == datetime(2026, 6, 12, 16, 45, 10, tzinfo=UTC)
    assert item.author.id == "UCq1Wn8Zb3Lr5Tx7Yp9Kd2Hs"
    assert item.author.handle == "@jane.parent" and item.author.display_name == "@jane.parent"
    assert not item.by_school and item.account == "comments"


def test_the_schools_own_reply_is_by_school_with_its_thread_and_parent() -> None:
    items = parse_thread(fixture("comment_threads_page1")["items"][1], channel_id=SCHOOL)
    assert [item.kind for item in items] == [ItemKind.COMMENT, ItemKind.REPLY, ItemKind.REPLY]
    assert [item.by_school for item in items] == [False, False, True]
    school = items[2]
    assert school.external_id == reply_id(T2, 2)
    assert school.parent_id == T2 and school.thread_id == T2
    assert school.author.id == SCHOOL and school.author.handle == "@stmarysanytown"
    assert school.url == f"https://www.youtube.com/watch?v=dQ3kS9x2LmA&lc={reply_id(T2, 2)}"
    assert school.text.startswith("Hi Bill, thank you for flagging this.")
    assert school.created_at == datetime(2026, 6, 12, 11, 15, tzinfo=UTC)


def test_a_comment_the_school_posts_itself_is_by_school() -> None:
    (item,) = parse_thread(fixture("comment_threads_page1")["items"][3], channel_id=SCHOOL)
    assert item.external_id == T4 and item.by_school and item.kind is ItemKind.COMMENT


def test_text_falls_back_to_text_display_as_plain_text() -> None:
    top = parse_thread(fixture("comment_threads_page1")["items"][2], channel_id=SCHOOL)[0]
    assert top.text == (
        "Parking on Church Lane at pick-up is dangerous again 'cause of the roadworks.\n"
        "Can the school please remind parents? 0:42"
    )


def test_a_handle_comes_from_the_channel_url_or_the_display_name() -> None:
    items = parse_thread(fixture("comment_threads_page1")["items"][1], channel_id=SCHOOL)
    bill = items[0].author  # authorChannelUrl is /channel/UC...: the @name is the display name
    assert bill.id == "UCf4Gh6Jk8Lm0Np2Qr4St6Uv" and bill.handle == "@grandadbill"


def test_explicit_replies_replace_the_five_included() -> None:
    thread = fixture("comment_threads_page1")["items"][2]
    listed = fixture("comments_replies_page1")["items"] + fixture("comments_replies_page2")["items"]
    items = parse_thread(thread, channel_id=SCHOOL, replies=listed)
    assert len(parse_thread(thread, channel_id=SCHOOL)) == 6
    assert [item.external_id for item in items] == [T3] + [reply_id(T3, n) for n in range(1, 8)]
    assert {item.parent_id for item in items[1:]} == {T3}
    assert items[-1].url == f"https://www.youtube.com/watch?v=pR7vT1nB8cE&lc={reply_id(T3, 7)}"


def test_threads_without_ids_are_skipped() -> None:
    thread = fixture("comment_threads_page1")["items"][0]
    del thread["snippet"]["topLevelComment"]["id"]
    assert parse_thread(thread, channel_id=SCHOOL) == ()
    assert parse_thread({"kind": "youtube#commentThread"}, channel_id=SCHOOL) == ()


def test_raw_payload_is_the_comment_resource_and_json() -> None:
    items = parse_thread(fixture("comment_threads_page1")["items"][1], channel_id=SCHOOL)
    assert items[0].raw["kind"] == "youtube#comment" and items[0].raw["id"] == T2
    assert items[2].raw["snippet"]["parentId"] == T2
    json.dumps([item.raw for item in items])


def test_display_text_keeps_line_breaks_and_decodes_entities() -> None:
    assert (
        display_text("Ms O&#39;Neil<br>Year&nbsp;2<br><br>thanks") == "Ms O'Neil\nYear 2\n\nthanks"
    )
    assert display_text("  plain  ") == "plain"


# --- The cursor ----------------------------------------------------------------------------


def test_the_cursor_has_seen_older_threads_and_the_ids_at_its_instant() -> None:
    t1, t2 = fixture("comment_threads_page1")["items"][:2]
    cursor = ThreadCursor.from_state(page1_state())
    assert cursor.has_seen(t1) and cursor.has_seen(t2)
    same_instant = ThreadCursor.from_state({**page1_state(), "ids_at_newest": ["another"]})
    assert not same_instant.has_seen(t1) and same_instant.has_seen(t2)
    assert not ThreadCursor().has_seen(t1)


def test_the_cursor_round_trips_and_never_moves_back() -> None:
    cursor = ThreadCursor.from_state(page1_state())
    assert ThreadCursor.from_state(cursor.as_state()) == cursor
    older = fixture("comment_threads_page2")["items"]
    assert cursor.advanced(older, {}).newest == datetime(2026, 6, 12, 16, 45, 10, tzinfo=UTC)


def test_an_unreadable_state_starts_afresh() -> None:
    state = {"newest_published_at": "yesterday", "ids_at_newest": "x", "reply_counts": [1]}
    assert ThreadCursor.from_state(state) == ThreadCursor()


# --- Polling -------------------------------------------------------------------------------


def test_the_first_poll_reads_one_page_with_the_documented_parameters(
    server: LocalServer,
) -> None:
    serve_channel(server)
    result = poll(server, {})
    (request,) = server.requests_to(THREADS)
    assert request.query == {
        "part": ["snippet,replies"],
        "allThreadsRelatedToChannelId": [SCHOOL],
        "order": ["time"],
        "maxResults": ["100"],
        "key": [API_KEY],
    }
    assert result.warnings == ()
    ids = [item.external_id for item in result.items]
    assert ids[:4] == [T1, T2, reply_id(T2, 1), reply_id(T2, 2)]
    assert T5 not in ids and T6 not in ids
    assert dict(result.new_state) == page1_state()


def test_replies_beyond_the_five_included_are_read_with_comments_list(
    server: LocalServer,
) -> None:
    serve_channel(server)
    items = by_id(poll(server, {}).items)
    first, second = server.requests_to(COMMENTS)
    assert first.query == {
        "part": ["snippet"],
        "parentId": [T3],
        "maxResults": ["100"],
        "key": [API_KEY],
    }
    assert second.query["pageToken"] == [fixture("comments_replies_page1")["nextPageToken"]]
    school = items[reply_id(T3, 7)]
    assert school.by_school and school.kind is ItemKind.REPLY
    assert school.parent_id == T3 and school.thread_id == T3
    assert [items[reply_id(T3, n)].by_school for n in range(1, 7)] == [False] * 6


def test_an_overlapping_second_poll_repeats_the_same_ids_and_reads_no_more(
    server: LocalServer,
) -> None:
    serve_channel(server)
    first = poll(server, {})
    second = poll(server, dict(first.new_state))
    again = [item.external_id for item in second.items]
    assert again == [i.external_id for i in first.items if i.external_id not in LISTED_ONLY]
    assert dict(second.new_state) == dict(first.new_state)
    assert len(server.requests_to(THREADS)) == 2  # page 1 each time: it reaches T1
    assert len(server.requests_to(COMMENTS)) == 2  # T3's replies once: its count is unchanged


def test_a_changed_reply_count_reads_the_replies_again(server: LocalServer) -> None:
    serve_channel(server)
    poll(server, {**page1_state(), "reply_counts": {T3: 6}})
    assert [r.query["parentId"] for r in server.requests_to(COMMENTS)] == [[T3], [T3]]


def test_pages_are_walked_until_a_thread_already_seen(server: LocalServer) -> None:
    serve_channel(server)
    state = {"newest_published_at": "2026-06-10T20:00:00Z", "ids_at_newest": [T5]}
    result = poll(server, state)
    first, second = server.requests_to(THREADS)
    assert "pageToken" not in first.query
    assert second.query["pageToken"] == [fixture("comment_threads_page1")["nextPageToken"]]
    assert {T1, T4, T5, T6} <= set(by_id(result.items))
    assert result.new_state["newest_published_at"] == "2026-06-12T16:45:10.000000Z"
    assert result.warnings == ()


def test_the_page_limit_stops_the_walk_and_warns_once_per_gap(server: LocalServer) -> None:
    endless = fixture("comment_threads_page2")
    endless["nextPageToken"] = "Q0FFU0FnZ0E="
    server.route(
        "GET", THREADS, [Reply(200, fixture("comment_threads_page1")), Reply(200, endless)]
    )
    server.route("GET", COMMENTS, Reply(200, fixture("comments_replies_page2")))
    state = {"newest_published_at": "2026-01-01T00:00:00Z", "ids_at_newest": ["old"]}
    result = poll(server, state, max_pages=2)
    assert len(server.requests_to(THREADS)) == 2
    (warning,) = result.warnings
    assert warning.key == "youtube-page-limit:2026-01-01T00:00:00.000000Z"
    assert "more than 200 new comment threads" in warning.message
    assert "max_pages" in warning.fix


def test_an_empty_channel_gives_no_items_and_keeps_the_cursor(server: LocalServer) -> None:
    server.route("GET", THREADS, Reply(200, fixture("comment_threads_empty")))
    assert poll(server, {}).items == ()
    kept = poll(server, page1_state())
    assert kept.items == () and dict(kept.new_state) == {**page1_state(), "reply_counts": {}}


def test_a_deleted_reply_simply_disappears(server: LocalServer) -> None:
    page = fixture("comment_threads_page1")
    thread = page["items"][1]
    del thread["replies"]["comments"][1]
    thread["snippet"]["totalReplyCount"] = 1
    server.route("GET", THREADS, Reply(200, page))
    server.route("GET", COMMENTS, Reply(200, fixture("comments_replies_page2")))
    items = by_id(poll(server, page1_state()).items)
    assert reply_id(T2, 1) in items and reply_id(T2, 2) not in items
    assert not any(item.deleted for item in items.values())


def test_replies_on_a_video_whose_comments_were_turned_off_keep_the_included(
    server: LocalServer,
) -> None:
    server.route("GET", THREADS, Reply(200, fixture("comment_threads_page1")))
    server.route("GET", COMMENTS, Reply(403, fixture("error_comments_disabled")))
    items = by_id(poll(server, {}).items)
    assert reply_id(T3, 5) in items and reply_id(T3, 7) not in items


# --- Errors --------------------------------------------------------------------------------


def test_quota_exhaustion_waits_until_midnight_pacific(server: LocalServer) -> None:
    server.route("GET", THREADS, Reply(403, fixture("error_quota_exceeded")))
    error = fetch_error(server)
    assert isinstance(error, RateLimited)
    assert error.retry_at == datetime(2026, 6, 13, 7, 5, tzinfo=UTC)  # 00:00 PDT + 5 minutes
    assert "quotaExceeded" in str(error) and "exceeded your quota." in str(error)
    no_key(error)


def test_quota_exhaustion_while_reading_replies_fails_the_whole_poll(server: LocalServer) -> None:
    server.route("GET", THREADS, Reply(200, fixture("comment_threads_page1")))
    server.route("GET", COMMENTS, Reply(403, fixture("error_quota_exceeded")))
    assert isinstance(fetch_error(server), RateLimited)


@pytest.mark.parametrize(
    ("now", "reset"),
    [
        (datetime(2026, 6, 12, 17, 0, tzinfo=UTC), datetime(2026, 6, 13, 7, 5, tzinfo=UTC)),
        (datetime(2026, 6, 13, 6, 59, tzinfo=UTC), datetime(2026, 6, 13, 7, 5, tzinfo=UTC)),
        (datetime(2026, 1, 15, 12, 0, tzinfo=UTC), datetime(2026, 1, 16, 8, 5, tzinfo=UTC)),
        (datetime(2026, 3, 8, 7, 30, tzinfo=UTC), datetime(2026, 3, 8, 8, 5, tzinfo=UTC)),
        (datetime(2026, 3, 8, 12, 0, tzinfo=UTC), datetime(2026, 3, 9, 7, 5, tzinfo=UTC)),
    ],
    ids=["summer", "just-before-reset", "winter", "eve-of-dst", "dst-day"],
)
def test_the_quota_resets_at_midnight_pacific_time(now: datetime, reset: datetime) -> None:
    assert next_quota_reset(now) == reset


def test_a_rate_limit_waits_briefly(server: LocalServer) -> None:
    server.route("GET", THREADS, Reply(403, fixture("error_rate_limit_exceeded")))
    error = fetch_error(server)
    assert isinstance(error, RateLimited) and error.retry_at == NOW + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("name", "status", "expected", "fix"),
    [
        ("error_key_invalid", 400, AuthError, "API key is wrong"),
        ("error_key_invalid_legacy", 400, AuthError, "API key is wrong"),
        ("error_access_not_configured", 403, AuthError, "enable 'YouTube Data API v3'"),
        ("error_key_service_blocked", 403, AuthError, "key's restrictions"),
        ("error_forbidden", 403, AuthError, "OAuth may be needed"),
        ("error_channel_not_found", 404, PermanentError, "wrong channel id"),
        ("error_comments_disabled", 403, PermanentError, "turn comments on"),
        ("error_backend", 500, SourceUnavailable, "retried automatically"),
        ("error_backend", 503, SourceUnavailable, "retried automatically"),
    ],
)
def test_error_responses_map_to_typed_errors_with_a_fix(
    server: LocalServer, name: str, status: int, expected: type[ConnectorError], fix: str
) -> None:
    server.route("GET", THREADS, Reply(status, fixture(name)))
    error = fetch_error(server)
    assert isinstance(error, expected) and fix in error.fix
    assert f"HTTP {status}" in str(error) and "<" not in str(error)
    no_key(error)


def test_a_key_echoed_in_an_error_message_is_scrubbed(server: LocalServer) -> None:
    body = fixture("error_key_invalid")
    body["error"]["message"] = f"API key not valid: {API_KEY} (see ?key={API_KEY}&x=1)"
    server.route("GET", THREADS, Reply(400, body))
    error = fetch_error(server)
    assert isinstance(error, AuthError) and "***" in str(error)
    no_key(error)


def test_an_error_that_is_not_json_is_still_typed(server: LocalServer) -> None:
    server.route("GET", THREADS, Reply(502, "<html>Bad Gateway</html>"))
    assert isinstance(fetch_error(server), SourceUnavailable)
    server.route("GET", THREADS, Reply(418, "teapot"))
    error = fetch_error(server)
    assert type(error) is PermanentError and "HTTP 418" in str(error)


def test_a_body_that_is_not_a_list_response_is_a_permanent_error(server: LocalServer) -> None:
    server.route("GET", THREADS, Reply(200, "not json"))
    assert "not JSON" in str(fetch_error(server))
    server.route("GET", THREADS, Reply(200, {"items": "nope"}))
    assert "without an items list" in str(fetch_error(server))


def test_a_missing_credential_is_an_auth_error(server: LocalServer) -> None:
    config = YouTubeConnector.Config(
        channel_id=SCHOOL, api_key_credential="YOUTUBE_API_KEY", base_url=server.base_url
    )

    def no_secrets(name: str) -> str:
        raise LookupError(name)

    youtube = YouTubeConnector("youtube-test", config, no_secrets)
    with pytest.raises(AuthError, match="YOUTUBE_API_KEY") as caught:
        youtube.fetch({})
    youtube.close()
    assert "credential YOUTUBE_API_KEY" in caught.value.fix
    assert server.requests == []


def test_a_refused_connection_is_source_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = YouTubeConnector.Config(
        channel_id=SCHOOL, api_key_credential="K", base_url=f"http://127.0.0.1:{port}"
    )
    youtube = YouTubeConnector("youtube-test", config, lambda name: API_KEY)
    with pytest.raises(SourceUnavailable, match="could not be reached") as caught:
        youtube.fetch({})
    youtube.close()
    no_key(caught.value)


def test_a_slow_server_times_out_as_source_unavailable(server: LocalServer) -> None:
    def slow(_: Recorded) -> Reply:
        time.sleep(1.0)
        return Reply(200, fixture("comment_threads_empty"))

    server.route("GET", THREADS, slow)
    started = time.monotonic()
    youtube = connector(server, timeout_seconds=0.2)
    with pytest.raises(SourceUnavailable, match=r"timed out after 0\.2s") as caught:
        youtube.fetch({})
    youtube.close()
    assert time.monotonic() - started < 0.9
    no_key(caught.value)


# --- Probe ---------------------------------------------------------------------------------


def test_probe_makes_one_request_and_names_the_newest_comment(server: LocalServer) -> None:
    serve_channel(server)
    youtube = connector(server)
    line = youtube.probe()
    youtube.close()
    assert line == (
        f"YouTube channel {SCHOOL}: API key accepted, comment threads readable"
        " (newest 2026-06-12 16:45 UTC)"
    )
    (request,) = server.requests
    assert request.query["maxResults"] == ["1"]


def test_probe_on_a_channel_without_comments(server: LocalServer) -> None:
    server.route("GET", THREADS, Reply(200, fixture("comment_threads_empty")))
    youtube = connector(server)
    assert youtube.probe().endswith("API key accepted, no public comments yet")
    youtube.close()


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("error_key_invalid", 400, "create a new one"),
        ("error_access_not_configured", 403, "enable 'YouTube Data API v3' in the Google Cloud"),
        ("error_channel_not_found", 404, "wrong channel id"),
    ],
)
def test_probe_failures_say_what_to_fix(
    server: LocalServer, name: str, status: int, words: str
) -> None:
    server.route("GET", THREADS, Reply(status, fixture(name)))
    youtube = connector(server)
    with pytest.raises(ConnectorError) as caught:
        youtube.probe()
    youtube.close()
    assert words in caught.value.one_line()
    no_key(caught.value)


# --- Configuration ---------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = YouTubeConnector.Config(channel_id=SCHOOL, api_key_credential="YOUTUBE_API_KEY")
    assert config.base_url == "https://www.googleapis.com"
    assert config.timeout_seconds == 20 and config.max_pages == 5
    assert YouTubeConnector.default_interval_minutes == 15 and YouTubeConnector.own_account


@pytest.mark.parametrize(
    "channel_id", ["@stmarysanytown", "https://www.youtube.com/channel/" + SCHOOL, "UC123"]
)
def test_config_rejects_anything_but_a_channel_id(channel_id: str) -> None:
    with pytest.raises(ValidationError, match="channel ID"):
        YouTubeConnector.Config(channel_id=channel_id, api_key_credential="YOUTUBE_API_KEY")


def test_config_rejects_a_literal_api_key() -> None:
    with pytest.raises(ValidationError, match="api_key"):
        YouTubeConnector.Config.model_validate(
            {"channel_id": SCHOOL, "api_key_credential": "K", "api_key": API_KEY}
        )
