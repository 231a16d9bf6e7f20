"""The Mastodon connector: documented payloads, min_id paging, the school's replies and errors."""

from __future__ import annotations

import copy
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
    Author,
    ConnectorError,
    ItemKind,
    PermanentError,
    RateLimited,
    SourceUnavailable,
)
from connectors.mastodon import (
    MastodonConnector,
    SchoolAccount,
    html_to_text,
    parse_notification,
    parse_own_status,
    parse_status,
    reset_time,
)
from tests.support.http import Handler, LocalServer, Recorded, Reply, local_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mastodon"
TOKEN = "s3cr3t-mastodon-token-ZmFrZQ"
SCHOOL_ID = "109523118436027345"
SCHOOL = SchoolAccount(SCHOOL_ID, "stmarysanytown", "mastodon.social")

NOTIFICATIONS = "/api/v1/notifications"
TAG = "/api/v1/timelines/tag/StMarysAnytown"
OWN = f"/api/v1/accounts/{SCHOOL_ID}/statuses"
ME = "/api/v1/accounts/verify_credentials"
INSTANCE = "/api/v2/instance/"  # Mastodon.py's one-off check before a hashtag timeline

# Status ids in the fixtures, oldest first.
P1 = "116715198881333250"  # the school's post: field closed on Saturday
O2 = "116715203634135041"  # the school continuing its own thread
H1 = "116721616847634439"  # Jane's #StMarysAnytown post about the choir
H2 = "116721709484015619"  # the school's reply to H1 (also tagged)
M1 = "116722216331182085"  # Tom mentions the school (direct message)
M2 = "116724676641423369"  # a neighbour replies to the school's post P1
H3 = "116724746337910795"  # Pat mentions the school with the hashtag and a content warning
O3 = "116724859625603076"  # the school's reply to M2
B1 = "116725112874301440"  # Tom boosts Jane's choir post H1
B2 = "116725209118720001"  # the school boosts H1
B3 = "116725302284697602"  # the neighbour boosts the school's post P1


def fixture(name: str) -> Any:
    """A documented payload under tests/fixtures/mastodon/."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def error_body(status: int) -> dict[str, str]:
    """Mastodon's documented error body for an HTTP status."""
    body: dict[str, str] = fixture("errors.json")[str(status)]
    return body


def by_id(name: str, status_id: str) -> dict[str, Any]:
    """One status of a fixture page (a status list, or the status inside a notification)."""
    for entry in fixture(name):
        status = entry.get("status", entry) if entry.get("type") else entry
        if status["id"] == status_id:
            return dict(status)
    raise KeyError(status_id)


def secrets(name: str) -> str:
    """The credential store of the tests: only MASTODON_TOKEN is set."""
    if name == "MASTODON_TOKEN":
        return TOKEN
    raise LookupError(name)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        running.route("GET", INSTANCE, Reply(200, fixture("instance_v2.json")))
        yield running


def connector(base_url: str, **settings: Any) -> MastodonConnector:
    """A connector for the school's account on the instance at `base_url`."""
    options: dict[str, Any] = {
        "api_base_url": base_url,
        "account_id": SCHOOL_ID,
        "acct": "stmarysanytown",
        "hashtags": ["#StMarysAnytown"],
        "access_token_credential": "MASTODON_TOKEN",
        **settings,
    }
    return MastodonConnector("mastodon-test", MastodonConnector.Config(**options), secrets)


def serve_fixtures(server: LocalServer) -> None:
    """Each stream answers with its recorded page."""
    server.route("GET", NOTIFICATIONS, Reply(200, fixture("notifications_mentions.json")))
    server.route("GET", TAG, Reply(200, fixture("hashtag_timeline.json")))
    server.route("GET", OWN, Reply(200, fixture("account_statuses.json")))


def paged(server: LocalServer, path: str, entries: list[dict[str, Any]]) -> Handler:
    """Mastodon's documented paging over `entries`: newest first, `limit`, min_id or since_id."""

    def handle(request: Recorded) -> Reply:
        limit = min(int(request.query.get("limit", ["20"])[0]), 40)
        ordered = sorted(entries, key=lambda entry: int(entry["id"]))
        min_id = request.query.get("min_id", [None])[0]
        if min_id:  # the page immediately newer than min_id, still served newest first
            page = [e for e in ordered if int(e["id"]) > int(min_id)][:limit]
        else:
            page = ordered[-limit:]
        page.reverse()
        if not page:
            return Reply(200, [])
        newest, oldest = page[0]["id"], page[-1]["id"]
        link = (
            f'<{server.url(path)}?max_id={oldest}>; rel="next", '
            f'<{server.url(path)}?min_id={newest}>; rel="prev"'
        )
        return Reply(200, page, headers={"Link": link})

    return handle


def serve_paged(server: LocalServer, **streams: list[dict[str, Any]]) -> None:
    """Every stream pages over its entries like Mastodon (empty unless given)."""
    for key, path in (("mentions", NOTIFICATIONS), ("tag", TAG), ("own", OWN)):
        server.route("GET", path, paged(server, path, streams.get(key, [])))


def numbered(count: int, after: str) -> list[dict[str, Any]]:
    """`count` copies of Jane's tagged status with ids increasing after `after`."""
    template = by_id("hashtag_timeline.json", H1)
    made = []
    for n in range(1, count + 1):
        status = copy.deepcopy(template)
        status["id"] = str(int(after) + n * 65536)
        status["url"] = f"https://mastodon.social/@jane_parent/{status['id']}"
        made.append(status)
    return made


def fetch_error(base_url: str, state: dict[str, Any] | None = None, **settings: Any) -> Any:
    """The ConnectorError raised by one poll."""
    source = connector(base_url, **settings)
    try:
        with pytest.raises(ConnectorError) as caught:
            source.fetch(state or {})
    finally:
        source.close()
    assert TOKEN not in caught.value.one_line()
    return caught.value


def query(request: Recorded, key: str) -> str | None:
    """One query parameter of a recorded request."""
    return request.query.get(key, [None])[0]


SAVED = {"mentions": "1203562305", "hashtags": {"stmarysanytown": H3}, "own": O3}


# --- Parsing documented payloads -------------------------------------------------------------


def test_hashtag_statuses_are_mentions_on_the_hashtag_account() -> None:
    items = [
        parse_status(s, school=SCHOOL, account="hashtag") for s in fixture("hashtag_timeline.json")
    ]
    assert [item.external_id for item in items] == [H3, H2, H1]
    assert [item.kind for item in items] == [ItemKind.MENTION, ItemKind.REPLY, ItemKind.MENTION]
    assert [item.by_school for item in items] == [False, True, False]
    assert {item.account for item in items} == {"hashtag"}


def test_a_status_keeps_its_url_time_and_author() -> None:
    pat = parse_status(by_id("hashtag_timeline.json", H3), school=SCHOOL, account="hashtag")
    assert pat.url == "https://mastodon.scot/@gran_pat/116724746337910120"
    assert pat.created_at == datetime(2026, 6, 10, 7, 58, 2, 744000, tzinfo=UTC)
    assert pat.author == Author("110238011745331207", "gran_pat@mastodon.scot", "Pat 🌻")
    school = parse_status(by_id("account_statuses.json", O3), school=SCHOOL, account="own")
    assert school.author == Author(SCHOOL_ID, "stmarysanytown", "St Mary's C of E Primary School")


def test_an_empty_display_name_falls_back_to_the_username() -> None:
    item = parse_notification(fixture("notifications_mentions.json")[1], school=SCHOOL)
    assert item is not None and item.author == Author(
        "111562093309815530", "neighbour@mas.to", "neighbour"
    )


def test_text_keeps_paragraphs_and_line_breaks_and_links_in_full() -> None:
    jane = parse_status(by_id("hashtag_timeline.json", H1), school=SCHOOL, account="hashtag")
    assert jane.text == (
        "Well done to the Year 6 choir at the Anytown music festival! 🎶\n"
        "Photos: https://www.anytownecho.example.co.uk/news/2026/06/year-6-choir-wins-festival-cup"
        "\n\n#StMarysAnytown"
    )


def test_a_content_warning_comes_first_and_mentions_read_as_handles() -> None:
    pat = parse_status(by_id("hashtag_timeline.json", H3), school=SCHOOL, account="hashtag")
    assert pat.text == (
        "CW: road safety, near miss\n\n@stmarysanytown a car mounted the pavement on Church Street"
        " at drop-off again & nearly hit a child. Someone will get hurt. #StMarysAnytown"
    )


def test_html_to_text_on_the_documented_status_example() -> None:
    html = (
        "<p>&quot;I lost my inheritance with one wrong digit on my sort code&quot;</p><p>"
        '<a href="https://www.theguardian.com/money/2019/dec/07/i-lost-my-193000-inheritance-with'
        '-one-wrong-digit-on-my-sort-code" rel="nofollow noopener noreferrer" target="_blank">'
        '<span class="invisible">https://www.</span><span class="ellipsis">theguardian.com/money'
        '/2019/dec</span><span class="invisible">/07/i-lost-my-193000-inheritance-with-one-wrong-'
        "digit-on-my-sort-code</span></a></p>"
    )
    assert html_to_text(html) == (
        '"I lost my inheritance with one wrong digit on my sort code"\n\n'
        "https://www.theguardian.com/money/2019/dec/07/i-lost-my-193000-inheritance-with-one-wrong"
        "-digit-on-my-sort-code"
    )
    assert (
        html_to_text("<p>one<br>two</p><p></p><p>  three   four </p>") == "one\ntwo\n\nthree four"
    )
    assert html_to_text("") == ""


def test_the_schools_reply_is_by_school_with_its_parent_and_thread() -> None:
    reply = parse_own_status(by_id("account_statuses.json", O3), school=SCHOOL)
    assert reply is not None
    assert (reply.kind, reply.by_school, reply.account) == (ItemKind.REPLY, True, "own")
    assert (reply.parent_id, reply.thread_id) == (M2, M2)
    tagged = parse_status(by_id("hashtag_timeline.json", H2), school=SCHOOL, account="hashtag")
    assert (tagged.by_school, tagged.parent_id, tagged.thread_id) == (True, H1, H1)


def test_own_statuses_that_reply_to_nobody_else_are_left_out() -> None:
    assert parse_own_status(by_id("account_statuses.json", P1), school=SCHOOL) is None
    assert parse_own_status(by_id("account_statuses.json", O2), school=SCHOOL) is None


def test_the_schools_own_thread_is_a_post_not_a_reply() -> None:
    item = parse_status(by_id("account_statuses.json", O2), school=SCHOOL, account="hashtag")
    assert (item.kind, item.by_school, item.parent_id, item.thread_id) == (
        ItemKind.POST,
        True,
        None,
        O2,
    )


def test_a_mention_that_replies_to_the_school_is_a_reply_in_that_thread() -> None:
    items = [parse_notification(n, school=SCHOOL) for n in fixture("notifications_mentions.json")]
    assert [i.external_id if i else None for i in items] == [H3, M2, M1]
    pat, neighbour, tom = items
    assert neighbour is not None and tom is not None and pat is not None
    assert (neighbour.kind, neighbour.parent_id, neighbour.thread_id) == (ItemKind.REPLY, P1, P1)
    assert (tom.kind, tom.parent_id, tom.thread_id) == (ItemKind.MENTION, None, M1)
    assert {pat.account, neighbour.account, tom.account} == {"mentions"}
    assert not any(item.by_school for item in (pat, neighbour, tom))


def test_a_mention_keeps_its_notification_as_the_raw_payload() -> None:
    notification = fixture("notifications_mentions.json")[2]
    item = parse_notification(notification, school=SCHOOL)
    assert item is not None and item.raw == notification
    json.dumps(item.raw)


def test_other_notification_types_and_deleted_statuses_are_skipped() -> None:
    notification = fixture("notifications_mentions.json")[0]
    assert parse_notification({**notification, "type": "favourite"}, school=SCHOOL) is None
    assert parse_notification({**notification, "status": None}, school=SCHOOL) is None


def test_the_school_is_recognised_by_id_or_by_its_handle() -> None:
    school = SchoolAccount("1", "stmarysanytown@mastodon.social", "mastodon.social")
    assert school.wrote({"id": "1", "acct": "someone"})
    assert school.wrote({"id": "2", "acct": "StMarysAnytown"})
    assert school.wrote({"id": "3", "acct": "stmarysanytown@mastodon.social"})
    assert not school.wrote({"id": "4", "acct": "stmarysanytown@other.example"})
    assert not SchoolAccount("1").wrote({"id": "2", "acct": "stmarysanytown"})


def test_a_status_without_an_id_is_a_permanent_error() -> None:
    status = by_id("hashtag_timeline.json", H1)
    del status["id"]
    with pytest.raises(PermanentError):
        parse_status(status, school=SCHOOL, account="hashtag")


def test_an_unparseable_time_is_none() -> None:
    status = {**by_id("hashtag_timeline.json", H1), "created_at": "yesterday"}
    assert parse_status(status, school=SCHOOL, account="hashtag").created_at is None


def test_a_boost_is_not_an_item_by_default() -> None:
    boosts = fixture("boosts.json")
    assert [parse_status(s, school=SCHOOL, account="hashtag") for s in boosts] == [None] * 3
    mention = {"id": "1203562399", "type": "mention", "status": by_id("boosts.json", B1)}
    assert parse_notification(mention, school=SCHOOL) is None


def test_a_kept_boost_is_a_repost_with_the_boosted_statuss_text_and_link() -> None:
    boost = by_id("boosts.json", B1)
    assert boost["content"] == ""  # a boost's own status carries no text
    item = parse_status(boost, school=SCHOOL, account="hashtag", reposts="keep")
    jane = parse_status(by_id("hashtag_timeline.json", H1), school=SCHOOL, account="hashtag")
    assert item is not None and jane is not None
    assert item.external_id == B1 and item.kind is ItemKind.REPOST and not item.by_school
    assert item.text == jane.text and item.text.startswith("Well done to the Year 6 choir")
    assert item.url == jane.url == "https://mastodon.social/@jane_parent/116721616847634439"
    assert item.parent_id == H1 and item.thread_id == H1
    assert item.author == Author("109377252810472811", "dad_of_two", "Tom Reed")
    assert item.created_at == datetime(2026, 6, 11, 7, 17, 21, 18000, tzinfo=UTC)
    assert item.raw == boost and item.account == "hashtag"


def test_the_schools_own_boost_is_never_an_item() -> None:
    boost = by_id("boosts.json", B2)
    assert parse_status(boost, school=SCHOOL, account="hashtag", reposts="keep") is None


def test_a_boost_of_the_schools_post_is_a_repost_not_by_the_school() -> None:
    boost = by_id("boosts.json", B3)
    item = parse_status(boost, school=SCHOOL, account="hashtag", reposts="keep")
    assert item is not None and item.kind is ItemKind.REPOST and not item.by_school
    assert item.parent_id == P1 and item.author.handle == "neighbour@mas.to"
    assert item.text.startswith("The school field is closed on Saturday")


# --- Polling ---------------------------------------------------------------------------------


def test_construction_makes_no_request(server: LocalServer) -> None:
    source = connector(server.base_url)
    source._client()
    source.close()
    assert server.requests == []


def test_first_poll_reads_the_latest_page_of_each_stream(server: LocalServer) -> None:
    serve_fixtures(server)
    source = connector(server.base_url)
    result = source.fetch({})
    source.close()
    assert [r.path for r in server.requests] == [NOTIFICATIONS, INSTANCE, TAG, OWN]
    for request in server.requests_to(NOTIFICATIONS) + server.requests_to(TAG):
        assert query(request, "limit") == "40" and query(request, "min_id") is None
    assert server.requests_to(NOTIFICATIONS)[0].query["types[]"] == ["mention"]
    assert query(server.requests_to(OWN)[0], "exclude_reblogs") == "1"
    assert dict(result.new_state) == SAVED


def test_a_poll_sends_the_token_and_a_user_agent(server: LocalServer) -> None:
    serve_fixtures(server)
    source = connector(server.base_url)
    source.fetch({})
    source.close()
    for request in server.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["user-agent"].startswith("orm-monitor/")


def test_a_status_seen_in_two_streams_is_one_item(server: LocalServer) -> None:
    serve_fixtures(server)
    source = connector(server.base_url)
    items = source.fetch({}).items
    source.close()
    assert [(i.external_id, i.account) for i in items] == [
        (H3, "mentions"),
        (M2, "mentions"),
        (M1, "mentions"),
        (H2, "hashtag"),
        (H1, "hashtag"),
        (O3, "own"),
    ]
    replies = {i.external_id: i.parent_id for i in items if i.by_school}
    assert replies == {H2: H1, O3: M2}


@pytest.mark.parametrize(
    ("reposts", "kinds"),
    [
        ("skip", {H1: ItemKind.MENTION}),
        ("keep", {H1: ItemKind.MENTION, B1: ItemKind.REPOST, B3: ItemKind.REPOST}),
    ],
)
def test_boosts_in_a_timeline_are_skipped_or_kept_as_reposts(
    server: LocalServer, reposts: str, kinds: dict[str, ItemKind]
) -> None:
    server.route("GET", NOTIFICATIONS, Reply(200, []))
    server.route(
        "GET", TAG, Reply(200, [*fixture("boosts.json"), by_id("hashtag_timeline.json", H1)])
    )
    server.route("GET", OWN, Reply(200, []))
    source = connector(server.base_url, reposts=reposts)
    result = source.fetch({})
    source.close()
    assert {item.external_id: item.kind for item in result.items} == kinds
    assert all(item.text for item in result.items)  # no item with a boost's empty text
    assert result.new_state["hashtags"] == {"stmarysanytown": B3}


def test_later_polls_walk_forward_from_the_saved_ids(server: LocalServer) -> None:
    serve_paged(server)
    source = connector(server.base_url)
    result = source.fetch(SAVED)
    source.close()
    assert result.items == () and dict(result.new_state) == SAVED
    sent = {r.path: query(r, "min_id") for r in server.requests if r.path != INSTANCE}
    assert sent == {NOTIFICATIONS: "1203562305", TAG: H3, OWN: O3}


def test_min_id_paging_reads_every_new_status_once_across_bounded_polls(
    server: LocalServer,
) -> None:
    new = numbered(85, after=H3)
    serve_paged(server, tag=new)
    source = connector(server.base_url, max_pages=2)
    first = source.fetch(SAVED)
    second = source.fetch(first.new_state)
    third = source.fetch(second.new_state)
    source.close()
    first_ids = [i.external_id for i in first.items]
    second_ids = [i.external_id for i in second.items]
    assert len(first_ids) == 80 and len(second_ids) == 5 and third.items == ()
    assert sorted(first_ids + second_ids, key=int) == [s["id"] for s in new]
    assert first.new_state["hashtags"] == {"stmarysanytown": new[79]["id"]}
    assert second.new_state["hashtags"] == {"stmarysanytown": new[84]["id"]}
    tag_requests = [query(r, "min_id") for r in server.requests_to(TAG)]
    assert tag_requests == [H3, new[39]["id"], new[79]["id"], new[84]["id"]]


def test_an_overlapping_poll_yields_the_same_external_ids(server: LocalServer) -> None:
    serve_fixtures(server)  # a server that ignores min_id repeats the same page
    source = connector(server.base_url)
    first = source.fetch({})
    second = source.fetch(first.new_state)
    source.close()
    assert [i.external_id for i in second.items] == [i.external_id for i in first.items]
    assert dict(second.new_state) == dict(first.new_state)
    assert len(server.requests_to(INSTANCE)) == 1


def test_the_cursor_never_moves_backwards(server: LocalServer) -> None:
    serve_fixtures(server)
    newer = {"mentions": "1299999999", "hashtags": {"stmarysanytown": "116799999999999999"}}
    source = connector(server.base_url)
    state = source.fetch({**newer, "own": O3}).new_state
    source.close()
    assert state["mentions"] == "1299999999"
    assert state["hashtags"] == {"stmarysanytown": "116799999999999999"}


def test_empty_pages_give_no_items_and_keep_the_state(server: LocalServer) -> None:
    serve_paged(server)
    source = connector(server.base_url)
    first = source.fetch({})
    again = source.fetch(SAVED)
    source.close()
    assert first.items == () and again.items == ()
    assert dict(first.new_state) == {
        "mentions": None,
        "hashtags": {"stmarysanytown": None},
        "own": None,
    }
    assert dict(again.new_state) == SAVED


def test_a_deleted_mention_is_skipped_and_the_cursor_passes_it(server: LocalServer) -> None:
    page = fixture("notifications_mentions.json")
    page[0]["status"] = None  # Pat deleted the post between the notification and the poll
    serve_paged(server, mentions=page)
    source = connector(server.base_url, hashtags=[])
    result = source.fetch({"mentions": "1203500000"})
    source.close()
    assert [i.external_id for i in result.items] == [M2, M1]
    assert result.new_state["mentions"] == "1203562305"
    assert not any(item.deleted for item in result.items)


def test_hashtags_are_optional_and_dropped_hashtags_leave_the_state(server: LocalServer) -> None:
    serve_fixtures(server)
    source = connector(server.base_url, hashtags=[])
    state = source.fetch(SAVED).new_state
    source.close()
    assert dict(state) == {**SAVED, "hashtags": {}}
    assert server.requests_to(TAG) == [] and server.requests_to(INSTANCE) == []


def test_a_hashtag_the_instance_never_saw_is_empty(server: LocalServer) -> None:
    serve_paged(server)
    server.route("GET", TAG, Reply(404, error_body(404)))
    source = connector(server.base_url)
    result = source.fetch(SAVED)
    source.close()
    assert result.items == () and dict(result.new_state) == SAVED


# --- Errors ----------------------------------------------------------------------------------


def test_429_is_rate_limited_until_the_iso_reset_time_without_sleeping(
    server: LocalServer,
) -> None:
    reset = (datetime.now(UTC) + timedelta(minutes=3)).replace(microsecond=250000)
    headers = {
        "X-RateLimit-Limit": "300",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    serve_fixtures(server)
    server.route("GET", TAG, Reply(429, error_body(429), headers=headers))
    started = time.monotonic()
    error = fetch_error(server.base_url)
    assert time.monotonic() - started < 2
    assert isinstance(error, RateLimited) and error.retry_at == reset
    assert len(server.requests_to(TAG)) == 1


def test_429_without_a_reset_header_is_still_rate_limited(server: LocalServer) -> None:
    server.route("GET", NOTIFICATIONS, Reply(429, error_body(429)))
    error = fetch_error(server.base_url)
    assert isinstance(error, RateLimited) and error.retry_at is None


def test_401_is_an_auth_error_naming_the_credential(server: LocalServer) -> None:
    server.route("GET", NOTIFICATIONS, Reply(401, error_body(401)))
    error = fetch_error(server.base_url)
    assert isinstance(error, AuthError)
    assert "The access token is invalid" in str(error) and "MASTODON_TOKEN" in error.fix


def test_403_is_an_auth_error_naming_the_scopes(server: LocalServer) -> None:
    serve_fixtures(server)
    server.route("GET", OWN, Reply(403, error_body(403)))
    error = fetch_error(server.base_url)
    assert isinstance(error, AuthError) and "outside the authorized scopes" in str(error)
    assert "read:statuses" in error.fix and "read:notifications" in error.fix


def test_404_on_the_schools_statuses_points_at_account_id(server: LocalServer) -> None:
    serve_fixtures(server)
    server.route("GET", OWN, Reply(404, error_body(404)))
    error = fetch_error(server.base_url)
    assert type(error) is PermanentError and "account_id" in error.fix


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_source_unavailable(server: LocalServer, status: int) -> None:
    server.route("GET", NOTIFICATIONS, Reply(status, error_body(503)))
    error = fetch_error(server.base_url)
    assert isinstance(error, SourceUnavailable) and f"HTTP {status}" in str(error)


def test_other_client_errors_are_permanent(server: LocalServer) -> None:
    server.route("GET", NOTIFICATIONS, Reply(422, {"error": "Validation failed"}))
    error = fetch_error(server.base_url)
    assert type(error) is PermanentError and "HTTP 422 Validation failed" in str(error)


def test_a_web_page_instead_of_json_is_permanent(server: LocalServer) -> None:
    server.route("GET", NOTIFICATIONS, Reply(200, "<html><body>Welcome</body></html>"))
    error = fetch_error(server.base_url)
    assert type(error) is PermanentError and "api_base_url" in error.fix


def test_a_refused_connection_is_source_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}")
    assert isinstance(error, SourceUnavailable) and str(error).endswith(
        "could not be reached: connection refused"
    )


def test_a_slow_instance_times_out_as_source_unavailable(server: LocalServer) -> None:
    def slow(_: Recorded) -> Reply:
        time.sleep(1.0)
        return Reply(200, [])

    server.route("GET", NOTIFICATIONS, slow)
    started = time.monotonic()
    error = fetch_error(server.base_url, timeout_seconds=0.2)
    assert time.monotonic() - started < 0.9
    assert isinstance(error, SourceUnavailable) and "timed out" in str(error)


def test_a_missing_credential_is_an_auth_error(server: LocalServer) -> None:
    error = fetch_error(server.base_url, access_token_credential="NOT_SET")
    assert isinstance(error, AuthError) and "NOT_SET" in error.fix
    assert server.requests == []


def test_reset_time_reads_iso_8601_or_unix_seconds() -> None:
    assert reset_time("2026-06-10T08:35:00.000000Z") == datetime(2026, 6, 10, 8, 35, tzinfo=UTC)
    assert reset_time("2026-06-10T09:35:00+01:00") == datetime(2026, 6, 10, 8, 35, tzinfo=UTC)
    assert reset_time("1781080500") == datetime(2026, 6, 10, 8, 35, tzinfo=UTC)
    assert reset_time("soon") is None and reset_time(None) is None and reset_time(" ") is None


# --- Probe -----------------------------------------------------------------------------------


def test_probe_names_the_account_in_one_request(server: LocalServer) -> None:
    server.route("GET", ME, Reply(200, fixture("verify_credentials.json")))
    source = connector(server.base_url)
    line = source.probe()
    source.close()
    assert line == (
        f"signed in to 127.0.0.1 as @stmarysanytown (account id {SCHOOL_ID});"
        " watching #StMarysAnytown"
    )
    assert [r.path for r in server.requests] == [ME]


def test_probe_with_another_accounts_token_says_which_id_to_set(server: LocalServer) -> None:
    server.route("GET", ME, Reply(200, fixture("verify_credentials.json")))
    source = connector(server.base_url, account_id="1")
    with pytest.raises(PermanentError) as caught:
        source.probe()
    source.close()
    assert f'account_id = "{SCHOOL_ID}"' in caught.value.fix


def test_probe_with_a_revoked_token_is_an_auth_error(server: LocalServer) -> None:
    server.route("GET", ME, Reply(401, error_body(401)))
    source = connector(server.base_url)
    with pytest.raises(AuthError) as caught:
        source.probe()
    source.close()
    assert TOKEN not in caught.value.one_line()


# --- Configuration ---------------------------------------------------------------------------


def test_config_defaults_and_normalisation() -> None:
    config = MastodonConnector.Config(
        api_base_url=" https://mastodon.social/ ",
        account_id=SCHOOL_ID,
        acct="@stmarysanytown",
        hashtags=["#StMarysAnytown", "stmarysanytown", " OfstedAnytown "],
        access_token_credential="MASTODON_TOKEN",
    )
    assert config.api_base_url == "https://mastodon.social"
    assert SchoolAccount.of(config).wrote({"id": "2", "acct": "stmarysanytown"})
    assert config.hashtags == ["StMarysAnytown", "OfstedAnytown"]
    assert (config.timeout_seconds, config.max_pages) == (20, 5)
    assert config.reposts == "skip"


@pytest.mark.parametrize(
    "change",
    [
        {"api_base_url": "mastodon.social"},
        {"api_base_url": "https://mastodon.social/?x=1"},
        {"account_id": "@stmarysanytown"},
        {"hashtags": ["st marys"]},
        {"hashtags": ["a/b"]},
        {"acct": "st marys"},
        {"max_pages": 0},
        {"timeout_seconds": 0},
        {"access_token": "literal-token"},
        {"access_token_credential": "has space"},
        {"reposts": "boost"},
    ],
    ids=str,
)
def test_config_rejects_bad_settings(change: dict[str, Any]) -> None:
    settings = {
        "api_base_url": "https://mastodon.social",
        "account_id": SCHOOL_ID,
        "access_token_credential": "MASTODON_TOKEN",
        **change,
    }
    with pytest.raises(ValidationError):
        MastodonConnector.Config.model_validate(settings)


def test_connector_metadata() -> None:
    assert (MastodonConnector.name, MastodonConnector.title) == ("mastodon", "Mastodon account")
    assert MastodonConnector.default_interval_minutes == 10
    assert MastodonConnector.own_account is True
