"""The Instagram connector: media, comments, replies, tags and the token's lifetime."""

from __future__ import annotations

import json
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
)
from connectors.instagram import (
    InstagramConnector,
    Token,
    fingerprint,
    parse_comment,
    parse_media,
    parse_reply,
    parse_tag,
)
from tests.support.clock import Clock
from tests.support.http import LocalServer, Recorded, Reply, local_server
from tests.support.redirect import redirect_hosts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "instagram"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
IG_USER = "17841405822304914"
USERNAME = "stmarysprimary"
SCHOOL = (IG_USER, USERNAME)
TOKEN = "IGAAT-test-long-lived-s3cr3t"
REFRESHED = "IGAAT-refreshed-token-r3fr3sh3d"
LEAVERS = "17918195224117851"
SPORTS_DAY = "17918195224117850"
PAGED_COMMENT = "17870913679156900"
MEDIA = f"/v25.0/{IG_USER}/media"
TAGS = f"/v25.0/{IG_USER}/tags"
REFRESH = "/refresh_access_token"


def fixture(name: str) -> dict[str, Any]:
    """A recorded Graph API answer under tests/fixtures/instagram/."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def connector(
    clock: Clock | None = None, token: str = TOKEN, **settings: Any
) -> InstagramConnector:
    """A connector for the school's account with a frozen clock."""
    settings = {"ig_user_id": IG_USER, "username": USERNAME, **settings}
    config = InstagramConnector.Config(access_token_credential="IG_TOKEN", **settings)
    secrets = {"IG_TOKEN": token}
    return InstagramConnector(
        "instagram-test", config, secrets.__getitem__, clock=clock or Clock(NOW)
    )


def serve_account(server: LocalServer, version: str = "v25.0") -> None:
    """The school's account: two media (one without comments), comments over two pages, tags."""

    def comments(request: Recorded) -> Reply:
        return Reply(200, fixture("comments_older" if "after" in request.query else "comments"))

    server.route("GET", f"/{version}/{IG_USER}/media", Reply(200, fixture("media")))
    server.route("GET", f"/{version}/{LEAVERS}/comments", comments)
    server.route("GET", f"/{version}/{PAGED_COMMENT}/replies", Reply(200, fixture("replies")))
    server.route("GET", f"/{version}/{IG_USER}/tags", Reply(200, fixture("tags")))
    server.route("GET", REFRESH, Reply(200, fixture("refresh")))


def poll(state: dict[str, Any] | None = None, **settings: Any) -> FetchResult:
    """One fetch with a fresh connector."""
    account = connector(**settings)
    try:
        return account.fetch(state or {})
    finally:
        account.close()


def fetch_error(**settings: Any) -> ConnectorError:
    """The ConnectorError one fetch raises; the token never appears in it."""
    account = connector(**settings)
    try:
        with pytest.raises(ConnectorError) as caught:
            account.fetch({})
    finally:
        account.close()
    assert TOKEN not in caught.value.one_line()
    return caught.value


def by_id(items: tuple[Item, ...]) -> dict[str, Item]:
    """Items keyed by external id."""
    return {item.external_id: item for item in items}


def saved_token(expires_in: timedelta | None, value: str = TOKEN, **extra: Any) -> dict[str, Any]:
    """A token as the previous poll saved it in the state."""
    token = Token(value, NOW + expires_in if expires_in else None, fingerprint(TOKEN), **extra)
    return token.as_state()


@pytest.fixture
def graph() -> Iterator[LocalServer]:
    """A local server standing in for https://graph.facebook.com (Facebook Login)."""
    with local_server() as server, redirect_hosts(server, "graph.facebook.com"):
        yield server


@pytest.fixture
def instagram() -> Iterator[LocalServer]:
    """A local server for https://graph.instagram.com; graph.facebook.com gets another one."""
    with (
        local_server() as server,
        local_server() as facebook,
        redirect_hosts(server, "graph.instagram.com"),
        redirect_hosts(facebook, "graph.facebook.com"),
    ):
        yield server
        assert facebook.requests == []  # Instagram Login never talks to graph.facebook.com


# --- Parsing documented payloads ----------------------------------------------------------


def test_the_accounts_own_media_is_a_post_by_the_school() -> None:
    item = parse_media(fixture("media")["data"][0], IG_USER, USERNAME)
    assert item.external_id == LEAVERS and item.kind is ItemKind.POST and item.by_school
    assert item.thread_id == LEAVERS and item.parent_id is None and item.account == "media"
    assert item.created_at == datetime(2026, 6, 14, 16, 0, tzinfo=UTC)
    assert item.url == "https://www.instagram.com/p/C8xYz12AbCd/"
    assert item.author.id == IG_USER and item.author.handle == USERNAME


def test_media_without_a_caption_has_empty_text() -> None:
    assert parse_media(fixture("media")["data"][1], IG_USER, USERNAME).text == ""


def test_a_comment_hangs_off_its_media_without_its_nested_replies() -> None:
    raw = fixture("comments")["data"][0]
    item = parse_comment(raw, LEAVERS, "https://www.instagram.com/p/C8xYz12AbCd/", SCHOOL)
    assert item.kind is ItemKind.COMMENT and not item.by_school
    assert item.parent_id == LEAVERS and item.thread_id == LEAVERS
    assert item.author.handle == "parent_of_two" and item.author.id == "17841400000000001"
    assert item.text.startswith("Congratulations to all the leavers!")
    assert item.created_at == datetime(2026, 6, 14, 17, 10, tzinfo=UTC)
    assert item.url == "https://www.instagram.com/p/C8xYz12AbCd/"
    assert "replies" not in item.raw and item.raw["id"] == "17870913679156914"


def test_the_schools_reply_is_by_the_school_under_the_comment_it_answers() -> None:
    comment = fixture("comments")["data"][0]
    reply = parse_reply(comment["replies"]["data"][0], comment, LEAVERS, None, SCHOOL)
    assert reply.kind is ItemKind.REPLY and reply.by_school
    assert reply.parent_id == "17870913679156914" and reply.thread_id == LEAVERS


def test_the_school_is_recognised_by_username_or_by_id() -> None:
    comment = fixture("comments")["data"][0]
    by_name = {"id": "1", "text": "hi", "username": "StMarysPrimary"}
    by_id_only = {"id": "2", "text": "hi", "from": {"id": IG_USER}}
    someone = {"id": "3", "text": "hi", "username": "stmarysprimary.fan"}
    assert parse_reply(by_name, comment, LEAVERS, None, SCHOOL).by_school
    assert parse_reply(by_id_only, comment, LEAVERS, None, SCHOOL).by_school
    assert not parse_reply(someone, comment, LEAVERS, None, SCHOOL).by_school
    assert parse_reply(someone, comment, LEAVERS, None, SCHOOL).parent_id == comment["id"]


def test_a_tag_is_a_mention_not_by_the_school() -> None:
    item = parse_tag(fixture("tags")["data"][0])
    assert item.kind is ItemKind.MENTION and not item.by_school and item.account == "tags"
    assert item.author.handle == "anytownrunners" and item.thread_id == "17900000000000001"
    assert item.url == "https://www.instagram.com/p/C8tAg56GhIj/"


# --- Polling over HTTP --------------------------------------------------------------------


def test_a_poll_reads_media_comments_replies_and_tags(graph: LocalServer) -> None:
    serve_account(graph)
    items = poll().items
    assert [item.external_id for item in items] == [
        LEAVERS,
        SPORTS_DAY,
        "17870913679156914",
        "17873440459141022",
        "17873440459141021",
        PAGED_COMMENT,
        "17873440459141030",
        "17873440459141031",
        "17900000000000001",
    ]
    assert [r.path for r in graph.requests] == [
        MEDIA,
        f"/v25.0/{LEAVERS}/comments",
        f"/v25.0/{LEAVERS}/comments",
        f"/v25.0/{PAGED_COMMENT}/replies",
        TAGS,
    ]  # no comments call for media with none, no token refresh with Facebook Login


def test_requests_carry_fields_limits_and_the_token(graph: LocalServer) -> None:
    serve_account(graph)
    poll()
    media, comments, older, replies, tags = graph.requests
    assert media.query["fields"] == ["id,caption,timestamp,permalink,username,comments_count"]
    assert media.query["limit"] == ["25"]
    assert comments.query["fields"] == [
        "id,text,timestamp,username,from,replies{id,text,timestamp,username,from,parent_id}"
    ]
    assert older.query["after"] == [fixture("comments")["paging"]["cursors"]["after"]]
    assert replies.query["fields"] == ["id,text,timestamp,username,from,parent_id"]
    assert int(comments.query["limit"][0]) <= 100 and int(tags.query["limit"][0]) <= 100
    assert {r.query["access_token"][0] for r in graph.requests} == {TOKEN}


def test_the_schools_replies_close_their_threads(graph: LocalServer) -> None:
    serve_account(graph)
    items = by_id(poll().items)
    ours = [item for item in items.values() if item.by_school and item.kind is ItemKind.REPLY]
    assert [(r.external_id, r.parent_id, r.thread_id) for r in ours] == [
        ("17873440459141022", "17870913679156914", LEAVERS),
        ("17873440459141031", PAGED_COMMENT, LEAVERS),
    ]
    assert not items["17873440459141030"].by_school


def test_the_accounts_own_tags_are_skipped(graph: LocalServer) -> None:
    serve_account(graph)
    assert "17900000000000002" not in by_id(poll().items)


def test_the_state_keeps_recent_media_and_tags_but_no_facebook_token(graph: LocalServer) -> None:
    serve_account(graph)
    state = poll().new_state
    assert state == {
        "media": {
            LEAVERS: {
                "created": "2026-06-14T16:00:00+0000",
                "permalink": "https://www.instagram.com/p/C8xYz12AbCd/",
            },
            SPORTS_DAY: {
                "created": "2026-06-13T15:30:00+0000",
                "permalink": "https://www.instagram.com/p/C8wAb34CdEf/",
            },
        },
        "tags": ["17900000000000001", "17900000000000002"],
    }


def test_an_overlapping_second_poll_gives_the_same_ids(graph: LocalServer) -> None:
    serve_account(graph)
    first = poll()
    graph.requests.clear()
    again = poll(dict(first.new_state))
    assert [i.external_id for i in again.items] == [i.external_id for i in first.items]
    assert again.new_state == first.new_state
    assert len(graph.requests_to(MEDIA)) == 1  # a known media on the first page


def test_remembered_media_are_read_even_off_the_first_page(graph: LocalServer) -> None:
    serve_account(graph)
    graph.route("GET", MEDIA, Reply(200, fixture("empty")))
    state = {"media": {LEAVERS: {"created": "2026-06-14T16:00:00+0000"}}}
    items = poll(state).items
    assert len(graph.requests_to(f"/v25.0/{LEAVERS}/comments")) == 2
    assert {i.thread_id for i in items if i.kind is ItemKind.COMMENT} == {LEAVERS}


def test_media_deleted_since_the_last_poll_is_reported_deleted(graph: LocalServer) -> None:
    serve_account(graph)
    graph.route("GET", MEDIA, Reply(200, fixture("empty")))
    graph.route("GET", "/v25.0/gone/comments", Reply(400, fixture("error_unknown_object")))
    result = poll({"media": {"gone": {"created": "2026-06-14T16:00:00+0000"}}})
    gone = by_id(result.items)["gone"]
    assert gone.deleted and gone.kind is ItemKind.POST and gone.account == "media"
    assert result.new_state["media"] == {}


def test_a_comment_deleted_while_its_replies_are_read_keeps_the_nested_ones(
    graph: LocalServer,
) -> None:
    serve_account(graph)
    replies = f"/v25.0/{PAGED_COMMENT}/replies"
    graph.route("GET", replies, Reply(400, fixture("error_unknown_object")))
    items = by_id(poll().items)
    assert "17873440459141030" in items and "17873440459141031" not in items
    assert LEAVERS in items and not items[LEAVERS].deleted


def test_tags_can_be_turned_off(graph: LocalServer) -> None:
    serve_account(graph)
    result = poll(include_tags=False)
    assert not graph.requests_to(TAGS) and result.new_state["tags"] == []


def test_refused_tags_warn_once_and_the_rest_still_arrives(graph: LocalServer) -> None:
    serve_account(graph)
    graph.route("GET", TAGS, Reply(403, fixture("error_permission")))
    result = poll()
    (warning,) = result.warnings
    assert warning.key == "tags-unavailable" and "include_tags = false" in warning.fix
    assert LEAVERS in by_id(result.items)


def test_an_account_rate_limit_waits_for_the_usage_header(graph: LocalServer) -> None:
    usage = {
        IG_USER: [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 42}]
    }
    headers = {"X-Business-Use-Case-Usage": json.dumps(usage)}
    graph.route("GET", MEDIA, Reply(400, fixture("error_account_limit"), headers))
    error = fetch_error()
    assert isinstance(error, RateLimited) and error.retry_at == NOW + timedelta(minutes=42)


def test_an_expired_token_is_an_auth_error(graph: LocalServer) -> None:
    graph.route("GET", MEDIA, Reply(400, fixture("error_expired_token")))
    error = fetch_error()
    assert isinstance(error, AuthError) and "IG_TOKEN" in error.fix


def test_a_missing_permission_names_the_facebook_login_permissions(graph: LocalServer) -> None:
    graph.route("GET", MEDIA, Reply(403, fixture("error_permission")))
    error = fetch_error()
    assert type(error) is PermanentError
    assert "instagram_basic, instagram_manage_comments" in error.fix


# --- Instagram Login: graph.instagram.com and the token's lifetime ------------------------


def test_instagram_login_uses_its_own_host_and_permissions(instagram: LocalServer) -> None:
    serve_account(instagram)
    instagram.route("GET", MEDIA, Reply(403, fixture("error_permission")))
    error = fetch_error(host="graph.instagram.com")
    assert "instagram_business_basic, instagram_business_manage_comments" in error.fix
    assert instagram.requests_to(REFRESH) and instagram.requests_to(MEDIA)


def test_a_token_of_unknown_age_is_refreshed_and_kept_in_the_state(instagram: LocalServer) -> None:
    serve_account(instagram)
    result = poll(host="graph.instagram.com")
    (refresh,) = instagram.requests_to(REFRESH)
    assert refresh.query == {"grant_type": ["ig_refresh_token"], "access_token": [TOKEN]}
    assert instagram.requests[0].path == REFRESH  # before anything else
    after = [r for r in instagram.requests if r.path != REFRESH]
    assert {r.query["access_token"][0] for r in after} == {REFRESHED}
    assert result.new_state["token"] == {
        "value": REFRESHED,
        "expires_at": (NOW + timedelta(seconds=5183944)).isoformat(),
        "credential": fingerprint(TOKEN),
        "retry_refresh_at": None,
    }
    assert result.warnings == ()


def test_a_token_with_weeks_left_is_not_refreshed(instagram: LocalServer) -> None:
    serve_account(instagram)
    state = {"token": saved_token(timedelta(days=20), value="IGAAT-saved")}
    result = poll(state, host="graph.instagram.com")
    assert not instagram.requests_to(REFRESH)
    assert instagram.requests_to(MEDIA)[0].query["access_token"] == ["IGAAT-saved"]
    assert result.new_state["token"] == state["token"]


def test_a_token_within_the_refresh_window_is_refreshed(instagram: LocalServer) -> None:
    serve_account(instagram)
    result = poll({"token": saved_token(timedelta(days=9))}, host="graph.instagram.com")
    assert len(instagram.requests_to(REFRESH)) == 1
    assert result.new_state["token"]["value"] == REFRESHED and result.warnings == ()


def test_a_failed_refresh_a_week_before_expiry_warns_the_it_lead(instagram: LocalServer) -> None:
    serve_account(instagram)
    instagram.route("GET", REFRESH, Reply(400, fixture("error_permission")))
    result = poll({"token": saved_token(timedelta(days=5))}, host="graph.instagram.com")
    (warning,) = result.warnings
    assert warning.key == "token-expiry:2026-06-20"
    assert "expires on 2026-06-20" in warning.message and TOKEN not in warning.message
    assert "docs/connectors/instagram.md" in warning.fix
    assert LEAVERS in by_id(result.items)  # the current token still works meanwhile
    assert result.new_state["token"]["value"] == TOKEN
    assert result.new_state["token"]["retry_refresh_at"] == (NOW + timedelta(hours=6)).isoformat()


def test_a_failed_refresh_with_time_to_spare_does_not_warn(instagram: LocalServer) -> None:
    serve_account(instagram)
    instagram.route("GET", REFRESH, Reply(400, fixture("error_permission")))
    result = poll({"token": saved_token(timedelta(days=9))}, host="graph.instagram.com")
    assert result.warnings == () and len(instagram.requests_to(REFRESH)) == 1


def test_a_failed_refresh_is_retried_after_six_hours_not_every_poll(
    instagram: LocalServer,
) -> None:
    serve_account(instagram)
    instagram.route("GET", REFRESH, Reply(400, fixture("error_permission")))
    clock = Clock(NOW)
    account = connector(clock, host="graph.instagram.com")
    state = account.fetch({"token": saved_token(timedelta(days=5))}).new_state
    clock.advance(hours=1)
    state = account.fetch(state).new_state
    assert len(instagram.requests_to(REFRESH)) == 1
    clock.advance(hours=5)
    account.fetch(state)
    account.close()
    assert len(instagram.requests_to(REFRESH)) == 2


def test_a_refreshed_token_survives_a_poll_that_failed_after_it(instagram: LocalServer) -> None:
    serve_account(instagram)
    instagram.route("GET", MEDIA, [Reply(500, fixture("empty")), Reply(200, fixture("media"))])
    account = connector(host="graph.instagram.com")
    with pytest.raises(ConnectorError):
        account.fetch({})  # refreshed, then the media call failed: the state was not saved
    result = account.fetch({})
    account.close()
    assert len(instagram.requests_to(REFRESH)) == 1
    assert result.new_state["token"]["value"] == REFRESHED


def test_a_new_credential_replaces_the_token_in_the_state(instagram: LocalServer) -> None:
    serve_account(instagram)
    state = {"token": saved_token(timedelta(days=30), value="IGAAT-saved")}
    result = connector(token="IGAAT-brand-new", host="graph.instagram.com").fetch(state)
    (refresh,) = instagram.requests_to(REFRESH)
    assert refresh.query["access_token"] == ["IGAAT-brand-new"]
    assert result.new_state["token"]["credential"] == fingerprint("IGAAT-brand-new")


# --- probe and config ---------------------------------------------------------------------


def test_probe_names_the_account_and_its_media_count(graph: LocalServer) -> None:
    graph.route("GET", f"/v25.0/{IG_USER}", Reply(200, fixture("account")))
    account = connector()
    assert account.probe() == "Instagram account @stmarysprimary reachable, 214 media"
    account.close()
    (request,) = graph.requests
    assert request.query["fields"] == ["id,username,media_count"]


def test_probe_catches_a_username_that_would_hide_the_schools_replies(graph: LocalServer) -> None:
    graph.route("GET", f"/v25.0/{IG_USER}", Reply(200, fixture("account")))
    account = connector(username="@stmarys_primary")
    with pytest.raises(PermanentError, match="is @stmarysprimary, not @stmarys_primary") as caught:
        account.probe()
    account.close()
    assert caught.value.fix == "set username = 'stmarysprimary' (or correct ig_user_id)"


@pytest.mark.parametrize(
    ("name", "expected", "words"),
    [
        ("error_unknown_object", PermanentError, "wrong Instagram account id"),
        ("error_expired_token", AuthError, "Session has expired"),
        ("error_permission", PermanentError, "missing permission"),
    ],
)
def test_probe_failures_say_what_to_fix(
    graph: LocalServer, name: str, expected: type[ConnectorError], words: str
) -> None:
    graph.route("GET", f"/v25.0/{IG_USER}", Reply(400, fixture(name)))
    account = connector()
    with pytest.raises(expected, match=words) as caught:
        account.probe()
    account.close()
    assert TOKEN not in caught.value.one_line() and caught.value.fix


def test_the_graph_version_is_configurable(graph: LocalServer) -> None:
    serve_account(graph, version="v26.0")
    poll(graph_version="v26.0")
    assert graph.requests and all(r.path.startswith("/v26.0/") for r in graph.requests)


@pytest.mark.parametrize(
    "settings",
    [
        {"ig_user_id": "stmarysprimary"},
        {"host": "graph.example.com"},
        {"refresh_within_days": 60},
        {"max_media": 0},
        {"token": "IGAAT..."},
    ],
)
def test_config_rejects_bad_settings(settings: dict[str, Any]) -> None:
    values = {
        "ig_user_id": IG_USER,
        "username": USERNAME,
        "access_token_credential": "IG_TOKEN",
        **settings,
    }
    with pytest.raises(ValidationError):
        InstagramConnector.Config(**values)


def test_config_defaults_and_username_without_at() -> None:
    config = InstagramConnector.Config(
        ig_user_id=IG_USER, username=" @stmarysprimary", access_token_credential="IG_TOKEN"
    )
    assert config.username == USERNAME and config.host == "graph.facebook.com"
    assert (config.lookback_days, config.max_media, config.refresh_within_days) == (7, 25, 10)
    assert InstagramConnector.default_interval_minutes == 15 and InstagramConnector.own_account
