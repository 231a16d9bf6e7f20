"""The Bluesky connector: parsing lexicon-shaped payloads, a kept session, cursors, typed errors."""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import (
    AuthError,
    ConnectorError,
    FetchResult,
    ItemKind,
    PermanentError,
    RateLimited,
    SourceUnavailable,
    payload_sha256,
)
from connectors.base import parse_utc_time as parse_timestamp
from connectors.bluesky import (
    BlueskyConnector,
    StreamMark,
    parse_author_feed,
    parse_notifications,
    parse_search,
    post_url,
    rate_limit_reset,
)
from tests.support.http import LocalServer, Recorded, Reply, local_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bluesky"
HANDLE = "stmarys-anytown.bsky.social"
SCHOOL = "did:plc:k5v2stmarys4anytown6qxwe"
PASSWORD = "abcd-efgh-ijkl-mnop"
CREDENTIAL = "BLUESKY_APP_PASSWORD"
TERM = '"St Mary\'s Anytown"'
CREATE = "/xrpc/com.atproto.server.createSession"
REFRESH = "/xrpc/com.atproto.server.refreshSession"
NOTIFICATIONS = "/xrpc/app.bsky.notification.listNotifications"
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
FEED = "/xrpc/app.bsky.feed.getAuthorFeed"

P0 = f"at://{SCHOOL}/app.bsky.feed.post/3m7qa2kxbnc2s"  # the school's post
R1 = "at://did:plc:j3nqpar7ent2xyzw4m5vbcde/app.bsky.feed.post/3m7qd4pz6vk2w"  # a parent's reply
R2 = f"at://{SCHOOL}/app.bsky.feed.post/3m7qf7lmr3s2y"  # the school's answer to R1
M1 = "at://did:plc:t6omq2wn5h7ydrive3gatez4/app.bsky.feed.post/3m7qj2hz4ba2f"  # a mention
M0 = "at://did:plc:p2riyagov5ern6orq7zw3akx/app.bsky.feed.post/3m7nz5qwe4c2k"  # an older one
S1 = "at://did:plc:e4chonews6anytwnq2xa7bmk/app.bsky.feed.post/3m7qk6rt2nx2h"  # news, by search
S3 = "at://did:plc:g7onehandle2invalid4xyzq/app.bsky.feed.post/3m7qn5cd2ye2r"  # handle.invalid
P1 = f"at://{SCHOOL}/app.bsky.feed.post/3m7qm3vb7ja2p"  # the school's post, also a search hit
R3 = f"at://{SCHOOL}/app.bsky.feed.post/3m7p4tyrep32z"  # the school's reply to a deleted post
DELETED = "at://did:plc:j3nqpar7ent2xyzw4m5vbcde/app.bsky.feed.post/3m7p2ggdelx2x"


def fixture(name: str) -> dict[str, Any]:
    """A lexicon-shaped payload under tests/fixtures/bluesky/."""
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return payload


def token(scope: str, lifetime: float, serial: int) -> str:
    """An unsigned JWT shaped like the PDS's (atproto only reads its `exp`)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"scope": scope, "sub": SCHOOL, "iat": now, "exp": int(now + lifetime)}
    claims["jti" if scope == "com.atproto.refresh" else "aud"] = f"did:web:pds-{serial}"
    return f"{part({'typ': 'at+jwt', 'alg': 'ES256K'})}.{part(claims)}.c2lnbmF0dXJl"


class FakePds:
    """The XRPC endpoints of a PDS on a local server: sessions, and data behind a bearer."""

    def __init__(self, entryway: LocalServer, pds: LocalServer | None = None) -> None:
        self.entryway, self.pds = entryway, pds or entryway
        self.access_lifetimes: list[float] = []
        self.access: set[str] = set()
        self.refresh: list[str] = []
        entryway.route("POST", CREATE, self._create)
        entryway.route("POST", REFRESH, self._refresh)
        self.pds.route("POST", REFRESH, self._refresh)
        self.serve(NOTIFICATIONS, "notifications_empty.json")
        self.serve(FEED, "author_feed_empty.json")
        self.serve(SEARCH, "search_posts_empty.json")

    def serve(self, path: str, *replies: str | Reply) -> None:
        """Answer `path` with fixtures or replies in turn (the last repeats), if authorised."""
        queue = [r if isinstance(r, Reply) else Reply(200, fixture(r)) for r in replies]

        def answer(request: Recorded) -> Reply:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            if bearer not in self.access:
                return Reply(400, fixture("error_expired_token.json"))
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.pds.route("GET", path, answer)

    def revoke_access(self) -> None:
        """Every access token issued so far stops working."""
        self.access.clear()

    def _issue(self, name: str) -> Reply:
        body = fixture(name)
        lifetime = self.access_lifetimes.pop(0) if self.access_lifetimes else 7200
        serial = len(self.refresh) + 1
        body["accessJwt"] = token("com.atproto.appPass", lifetime, serial)
        body["refreshJwt"] = token("com.atproto.refresh", 90 * 86400, serial)
        body["didDoc"]["service"][0]["serviceEndpoint"] = self.pds.base_url
        self.access.add(body["accessJwt"])
        self.refresh.append(body["refreshJwt"])
        return Reply(200, body)

    def _create(self, request: Recorded) -> Reply:
        sent = request.json()
        if (sent.get("identifier"), sent.get("password")) != (HANDLE, PASSWORD):
            return Reply(401, fixture("error_invalid_password.json"))
        return self._issue("create_session.json")

    def _refresh(self, request: Recorded) -> Reply:
        # Refreshing rotates the refresh token: only the newest one is accepted.
        if not self.refresh or request.headers.get("authorization") != f"Bearer {self.refresh[-1]}":
            return Reply(400, fixture("error_expired_token.json"))
        return self._issue("refresh_session.json")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


@pytest.fixture
def pds(server: LocalServer) -> FakePds:
    return FakePds(server)


def connector(server: LocalServer, **settings: Any) -> BlueskyConnector:
    """A BlueskyConnector for the school's account, talking to the local server."""
    settings.setdefault("search_terms", [TERM])
    config = BlueskyConnector.Config(
        handle=HANDLE, app_password_credential=CREDENTIAL, base_url=server.base_url, **settings
    )
    return BlueskyConnector("bluesky-test", config, secrets={CREDENTIAL: PASSWORD}.__getitem__)


def poll(bluesky: BlueskyConnector, state: dict[str, Any] | None = None) -> FetchResult:
    """One fetch, with its state passed through JSON as the database would keep it."""
    result = bluesky.fetch(json.loads(json.dumps(state or {})))
    json.dumps(dict(result.new_state))
    return result


def fetch_error(bluesky: BlueskyConnector, state: dict[str, Any] | None = None) -> ConnectorError:
    """The ConnectorError raised by one fetch."""
    with pytest.raises(ConnectorError) as caught:
        bluesky.fetch(state or {})
    bluesky.close()
    return caught.value


def serve_everything(pds: FakePds) -> None:
    """The newest page of each stream, every time it is asked for."""
    pds.serve(NOTIFICATIONS, "notifications_page1.json")
    pds.serve(FEED, "author_feed.json")
    pds.serve(SEARCH, "search_posts_page1.json")


def ids(result: FetchResult) -> list[str]:
    """The external ids of a fetch, in order."""
    return [item.external_id for item in result.items]


# --- Parsing notifications ----------------------------------------------------------------


def test_notifications_become_a_mention_and_a_reply_to_the_school() -> None:
    mention, reply = parse_notifications(fixture("notifications_page1.json"), SCHOOL)
    assert (mention.external_id, mention.kind, mention.account) == (
        M1,
        ItemKind.MENTION,
        "notifications",
    )
    assert (reply.external_id, reply.kind, reply.account) == (R1, ItemKind.REPLY, "notifications")
    assert not mention.by_school and not reply.by_school
    assert mention.text.startswith(f"@{HANDLE} the car park gate on Church Lane is broken")


def test_a_reply_points_at_its_parent_and_thread_and_a_mention_is_its_own_thread() -> None:
    mention, reply = parse_notifications(fixture("notifications_page1.json"), SCHOOL)
    assert (reply.parent_id, reply.thread_id) == (P0, P0)
    assert (mention.parent_id, mention.thread_id) == (None, M1)


def test_notification_authors_urls_and_times() -> None:
    mention, reply = parse_notifications(fixture("notifications_page1.json"), SCHOOL)
    assert reply.author.id == "did:plc:j3nqpar7ent2xyzw4m5vbcde"
    assert (reply.author.handle, reply.author.display_name) == (
        "jane-parent.bsky.social",
        "Jane Parent",
    )
    assert reply.url == "https://bsky.app/profile/jane-parent.bsky.social/post/3m7qd4pz6vk2w"
    assert mention.url == "https://bsky.app/profile/tomdrives.bsky.social/post/3m7qj2hz4ba2f"
    assert reply.created_at == datetime(2026, 1, 12, 9, 15, 41, 870000, tzinfo=UTC)


def test_notifications_for_likes_follows_and_reposts_are_ignored() -> None:
    page = fixture("notifications_page1.json")
    like = dict(page["notifications"][1], reason="like", reasonSubject=P0)
    like["record"] = {
        "$type": "app.bsky.feed.like",
        "subject": {"cid": "bafyreiexample", "uri": P0},
        "createdAt": "2026-01-12T09:20:00.000Z",
    }
    follow = dict(page["notifications"][0], reason="follow")
    page["notifications"] += [like, follow]
    assert [item.external_id for item in parse_notifications(page, SCHOOL)] == [M1, R1]


def test_a_notification_whose_record_is_not_a_post_is_skipped() -> None:
    page = fixture("notifications_page1.json")
    page["notifications"][0]["record"] = {"$type": "app.bsky.graph.follow", "subject": SCHOOL}
    assert [item.external_id for item in parse_notifications(page, SCHOOL)] == [R1]


# --- Parsing search results and the school's own feed ---------------------------------------


def test_search_hits_are_mentions_from_the_search_account() -> None:
    own, anonymous, news = parse_search(fixture("search_posts_page1.json"), SCHOOL)
    assert [own.external_id, anonymous.external_id, news.external_id] == [P1, S3, S1]
    assert {own.kind, anonymous.kind, news.kind} == {ItemKind.MENTION}
    assert {own.account, anonymous.account, news.account} == {"search"}
    assert BlueskyConnector.search_accounts == {"search"}  # so they open no reply window
    assert [own.by_school, anonymous.by_school, news.by_school] == [True, False, False]
    assert news.author.display_name == "Anytown Echo"


def test_a_search_hit_that_replies_keeps_its_thread_ids() -> None:
    anonymous = parse_search(fixture("search_posts_page1.json"), SCHOOL)[1]
    assert (anonymous.parent_id, anonymous.thread_id) == (S1, S1)


def test_an_author_without_a_valid_handle_is_linked_by_did() -> None:
    anonymous = parse_search(fixture("search_posts_page1.json"), SCHOOL)[1]
    assert anonymous.author.handle == "handle.invalid" and anonymous.author.display_name is None
    assert anonymous.url == (
        "https://bsky.app/profile/did:plc:g7onehandle2invalid4xyzq/post/3m7qn5cd2ye2r"
    )
    assert (
        post_url(S1, "")
        == "https://bsky.app/profile/did:plc:e4chonews6anytwnq2xa7bmk/post/3m7qk6rt2nx2h"
    )


def test_the_author_feed_keeps_the_schools_posts_and_replies_and_skips_reposts() -> None:
    items = parse_author_feed(fixture("author_feed.json"), SCHOOL)
    assert [item.external_id for item in items] == [P1, R2, P0, R3]
    assert [item.kind for item in items] == [
        ItemKind.POST,
        ItemKind.REPLY,
        ItemKind.POST,
        ItemKind.REPLY,
    ]
    assert all(item.by_school and item.account == "posts" for item in items)


def test_the_schools_reply_is_by_school_with_the_parents_and_threads_ids() -> None:
    reply = parse_author_feed(fixture("author_feed.json"), SCHOOL)[1]
    assert reply.by_school and reply.author.id == SCHOOL
    assert (reply.parent_id, reply.thread_id) == (R1, P0)
    assert reply.url == f"https://bsky.app/profile/{HANDLE}/post/3m7qf7lmr3s2y"
    assert reply.text.startswith("Hi Jane, yes - the slides and a recording")


def test_a_reply_to_a_deleted_post_keeps_the_deleted_posts_uri() -> None:
    entry = fixture("author_feed.json")["feed"][4]
    assert entry["reply"]["parent"]["$type"] == "app.bsky.feed.defs#notFoundPost"
    reply = parse_author_feed(fixture("author_feed.json"), SCHOOL)[3]
    assert (reply.external_id, reply.parent_id, reply.thread_id) == (R3, DELETED, DELETED)
    assert not reply.deleted


def test_someone_elses_post_in_the_feed_is_not_the_schools() -> None:
    page = fixture("author_feed.json")
    assert parse_author_feed(page, "did:plc:someoneelse2xyzw4m5vbcde") == ()


def test_empty_pages_give_no_items() -> None:
    assert parse_notifications(fixture("notifications_empty.json"), SCHOOL) == ()
    assert parse_search(fixture("search_posts_empty.json"), SCHOOL) == ()
    assert parse_author_feed(fixture("author_feed_empty.json"), SCHOOL) == ()


def test_a_page_without_its_list_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match="without a 'posts' list"):
        parse_search({"cursor": "2"}, SCHOOL)


def test_created_at_is_the_earlier_of_createdAt_and_indexedAt() -> None:
    page = fixture("search_posts_page1.json")
    page["posts"][2]["record"]["createdAt"] = "2030-01-01T00:00:00Z"  # a clock far ahead
    page["posts"][1]["record"]["createdAt"] = "not a date"
    _, anonymous, news = parse_search(page, SCHOOL)
    assert news.created_at == datetime(2026, 1, 12, 12, 0, 1, 20000, tzinfo=UTC)  # indexedAt
    assert anonymous.created_at == datetime(2026, 1, 12, 13, 5, 12, 774000, tzinfo=UTC)


def test_timestamps_are_read_as_aware_utc() -> None:
    assert parse_timestamp("2026-01-12T09:15:41.870Z") == datetime(
        2026, 1, 12, 9, 15, 41, 870000, tzinfo=UTC
    )
    assert parse_timestamp("2026-01-12T10:15:41+01:00") == datetime(
        2026, 1, 12, 9, 15, 41, tzinfo=UTC
    )
    assert parse_timestamp("2026-01-12T09:15:41.123456789Z") == datetime(
        2026, 1, 12, 9, 15, 41, 123456, tzinfo=UTC
    )
    assert parse_timestamp("2026-01-12T09:15:41") == datetime(2026, 1, 12, 9, 15, 41, tzinfo=UTC)
    assert parse_timestamp("yesterday") is None and parse_timestamp(None) is None


@pytest.mark.parametrize(
    "name", ["notifications_page1.json", "search_posts_page1.json", "author_feed.json"]
)
def test_raw_payloads_are_json_and_their_hashes_stable(name: str) -> None:
    parse = {"n": parse_notifications, "s": parse_search, "a": parse_author_feed}[name[0]]
    first, again = parse(fixture(name), SCHOOL), parse(fixture(name), SCHOOL)
    for item, same in zip(first, again, strict=True):
        json.dumps(item.raw)
        assert payload_sha256(item.raw) == payload_sha256(same.raw)
        assert item.raw["uri"] == item.external_id


# --- Stream marks ---------------------------------------------------------------------------


def test_a_mark_is_reached_by_a_seen_uri_or_an_older_item_but_not_a_tie() -> None:
    newest = datetime(2026, 1, 12, 11, 30, tzinfo=UTC)
    mark = StreamMark(newest, (M1,))
    assert mark.reached([(R1, newest.replace(hour=12)), (M1, newest)])
    assert mark.reached([(R1, newest.replace(hour=9))])
    assert not mark.reached([(R1, newest)])  # same time, unseen: compared with >=
    assert not mark.reached([])


def test_a_mark_advances_to_the_newest_time_and_keeps_recent_uris() -> None:
    old = StreamMark(datetime(2026, 1, 11, tzinfo=UTC), (M0,))
    later = datetime(2026, 1, 12, tzinfo=UTC)
    mark = old.advanced([(M1, later), (R1, later.replace(hour=1)), (S1, None)])
    assert mark.newest == later.replace(hour=1)
    assert mark.uris == (R1, M1, S1, M0)
    assert StreamMark.from_state(mark.to_state()) == mark
    assert mark.to_state()["newest"] == "2026-01-12T01:00:00Z"
    assert StreamMark.from_state(None) is None
    assert StreamMark.from_state({"newest": "junk", "uris": "junk"}) == StreamMark()


# --- Polling: the session is kept, refreshed and resumed ------------------------------------


def test_the_first_poll_signs_in_once_and_reads_one_page_of_each_stream(
    server: LocalServer, pds: FakePds
) -> None:
    serve_everything(pds)
    bluesky = connector(server)
    result = poll(bluesky)
    bluesky.close()
    assert ids(result) == [M1, R1, P1, R2, P0, R3, S3, S1]
    assert [len(server.requests_to(p)) for p in (CREATE, NOTIFICATIONS, FEED, SEARCH)] == [
        1,
        1,
        1,
        1,
    ]
    assert server.requests_to(CREATE)[0].json() == {"identifier": HANDLE, "password": PASSWORD}


def test_a_post_found_twice_is_kept_once_as_the_schools_own_post(
    server: LocalServer, pds: FakePds
) -> None:
    serve_everything(pds)
    bluesky = connector(server)
    own = next(item for item in poll(bluesky).items if item.external_id == P1)
    bluesky.close()
    assert (own.kind, own.account, own.by_school) == (ItemKind.POST, "posts", True)


def test_each_query_sends_its_documented_parameters_with_the_access_token(
    server: LocalServer, pds: FakePds
) -> None:
    bluesky = connector(server, page_size=100)
    poll(bluesky)
    bluesky.close()
    notifications = server.requests_to(NOTIFICATIONS)[0]
    feed, search = server.requests_to(FEED)[0], server.requests_to(SEARCH)[0]
    assert notifications.query == {"reasons": ["mention", "reply"], "limit": ["100"]}
    assert feed.query == {
        "actor": [SCHOOL],
        "filter": ["posts_with_replies"],
        "includePins": ["false"],
        "limit": ["100"],
    }
    assert search.query == {"q": [TERM], "sort": ["latest"], "limit": ["100"]}
    (access,) = pds.access  # searchPosts too: it needs a signed-in session since 2025
    assert {r.headers["authorization"] for r in (notifications, feed, search)} == {
        f"Bearer {access}"
    }


def test_a_second_poll_reuses_the_session_instead_of_signing_in(
    server: LocalServer, pds: FakePds
) -> None:
    serve_everything(pds)
    bluesky = connector(server)
    first = poll(bluesky)
    second = poll(bluesky, dict(first.new_state))
    bluesky.close()
    assert len(server.requests_to(CREATE)) == 1
    assert len(server.requests_to(REFRESH)) == 0
    assert second.new_state["session"] == first.new_state["session"]
    assert len(server.requests_to(NOTIFICATIONS)) == 2


def test_an_access_token_about_to_expire_is_refreshed_not_replaced(
    server: LocalServer, pds: FakePds
) -> None:
    pds.access_lifetimes = [600]  # ten minutes: atproto refreshes 15 minutes ahead
    serve_everything(pds)
    bluesky = connector(server)
    result = poll(bluesky)
    bluesky.close()
    assert len(server.requests_to(CREATE)) == 1
    refresh = server.requests_to(REFRESH)
    assert len(refresh) == 1
    assert refresh[0].headers["authorization"] == f"Bearer {pds.refresh[0]}"
    assert result.new_state["session"]["refresh_jwt"] == pds.refresh[-1]
    assert len(result.items) == 8


def test_the_state_keeps_the_refresh_token_but_never_the_access_token(
    server: LocalServer, pds: FakePds
) -> None:
    bluesky = connector(server)
    state = dict(poll(bluesky).new_state)
    bluesky.close()
    assert state["session"] == {
        "identifier": HANDLE,
        "did": SCHOOL,
        "refresh_jwt": pds.refresh[-1],
    }
    assert not any(access in json.dumps(state) for access in pds.access)


def test_a_restart_with_a_saved_state_refreshes_instead_of_signing_in(
    server: LocalServer, pds: FakePds
) -> None:
    serve_everything(pds)
    before = connector(server)
    saved = dict(poll(before).new_state)
    before.close()
    after = connector(server)
    result = poll(after, saved)
    after.close()
    assert len(server.requests_to(CREATE)) == 1  # only the first process signed in
    refresh = server.requests_to(REFRESH)
    assert [r.headers["authorization"] for r in refresh] == [
        f"Bearer {saved['session']['refresh_jwt']}"
    ]
    assert result.new_state["session"]["refresh_jwt"] == pds.refresh[-1] != pds.refresh[0]
    assert ids(result) == [M1, R1, P1, R2, P0, R3, S3, S1]


def test_a_refused_saved_session_falls_back_to_one_sign_in(
    server: LocalServer, pds: FakePds
) -> None:
    stale = {"identifier": HANDLE, "did": SCHOOL, "refresh_jwt": token("com.atproto.refresh", 9, 0)}
    bluesky = connector(server)
    result = poll(bluesky, {"session": stale})
    bluesky.close()
    assert len(server.requests_to(REFRESH)) == 1 and len(server.requests_to(CREATE)) == 1
    assert result.new_state["session"]["refresh_jwt"] == pds.refresh[-1]


def test_a_saved_session_for_another_handle_is_not_used(server: LocalServer, pds: FakePds) -> None:
    other = {"identifier": "old-name.bsky.social", "did": SCHOOL, "refresh_jwt": "x.y.z"}
    bluesky = connector(server)
    poll(bluesky, {"session": other})
    bluesky.close()
    assert len(server.requests_to(REFRESH)) == 0 and len(server.requests_to(CREATE)) == 1


def test_a_session_revoked_between_polls_is_replaced_by_one_sign_in(
    server: LocalServer, pds: FakePds
) -> None:
    bluesky = connector(server)
    state = dict(poll(bluesky).new_state)
    pds.revoke_access()
    poll(bluesky, state)
    bluesky.close()
    assert len(server.requests_to(CREATE)) == 2
    assert len(server.requests_to(NOTIFICATIONS)) == 3  # refused once, then answered


def test_data_refused_right_after_signing_in_is_an_auth_error_without_a_loop(
    server: LocalServer, pds: FakePds
) -> None:
    pds.serve(NOTIFICATIONS, Reply(401, fixture("error_invalid_password.json")))
    error = fetch_error(connector(server))
    assert isinstance(error, AuthError) and CREDENTIAL in error.fix
    assert len(server.requests_to(CREATE)) == 1


def test_the_pds_named_in_the_did_document_serves_the_queries(server: LocalServer) -> None:
    with local_server() as own_pds:
        fake = FakePds(server, pds=own_pds)
        fake.serve(NOTIFICATIONS, "notifications_page1.json")
        bluesky = connector(server)
        assert ids(poll(bluesky))[:2] == [M1, R1]
        bluesky.close()
        assert [r.path for r in server.requests] == [CREATE]
        assert {r.path for r in own_pds.requests} == {NOTIFICATIONS, FEED, SEARCH}


# --- Cursors ------------------------------------------------------------------------------


def test_the_first_poll_reads_only_the_newest_page(server: LocalServer, pds: FakePds) -> None:
    serve_everything(pds)
    bluesky = connector(server)
    result = poll(bluesky)
    bluesky.close()
    assert M0 not in ids(result)
    assert [r.query.get("cursor") for r in server.requests_to(NOTIFICATIONS)] == [None]
    marks = result.new_state["streams"]
    assert marks["notifications"] == {"newest": "2026-01-12T11:30:10.118000Z", "uris": [M1, R1]}
    assert set(marks) == {"notifications", "posts", f"search:{TERM}"}


def test_a_later_poll_pages_back_until_it_reaches_what_it_saw(
    server: LocalServer, pds: FakePds
) -> None:
    pds.serve(NOTIFICATIONS, "notifications_page2.json")
    bluesky = connector(server)
    first = poll(bluesky)
    assert ids(first) == [M0]
    pds.serve(NOTIFICATIONS, "notifications_page1.json", "notifications_page2.json")
    second = poll(bluesky, dict(first.new_state))
    bluesky.close()
    assert ids(second) == [M1, R1, M0]  # M0 again: the unique key absorbs the overlap
    cursors = [r.query.get("cursor") for r in server.requests_to(NOTIFICATIONS)]
    assert cursors == [None, None, ["2026-01-12T09:15:42.310Z"]]
    assert second.new_state["streams"]["notifications"]["uris"] == [M1, R1, M0]


def test_an_overlapping_poll_gives_the_same_ids_not_new_ones(
    server: LocalServer, pds: FakePds
) -> None:
    serve_everything(pds)
    bluesky = connector(server)
    first = poll(bluesky)
    second = poll(bluesky, dict(first.new_state))
    bluesky.close()
    assert ids(second) == ids(first)
    assert second.new_state["streams"] == first.new_state["streams"]
    assert len(server.requests_to(SEARCH)) == 2  # the known URIs stop paging at once


def test_paging_is_bounded_and_a_gap_is_reported_once(server: LocalServer, pds: FakePds) -> None:
    pds.serve(NOTIFICATIONS, "notifications_page1.json")  # a cursor on every page
    old = {"newest": "2026-01-01T00:00:00Z", "uris": [M0]}
    bluesky = connector(server, max_pages=3)
    result = poll(bluesky, {"streams": {"notifications": old}})
    bluesky.close()
    assert len(server.requests_to(NOTIFICATIONS)) == 3
    assert [w.key for w in result.warnings] == ["gap:notifications"]
    assert "max_pages" in result.warnings[0].fix


def test_an_empty_stream_stops_paging_and_keeps_a_mark(server: LocalServer, pds: FakePds) -> None:
    bluesky = connector(server)
    result = poll(bluesky, {"streams": {"notifications": {"newest": None, "uris": []}}})
    bluesky.close()
    assert result.items == () and result.warnings == ()
    assert result.new_state["streams"]["notifications"] == {"newest": None, "uris": []}
    assert len(server.requests_to(NOTIFICATIONS)) == 1


def test_a_deleted_post_simply_stops_appearing(server: LocalServer, pds: FakePds) -> None:
    serve_everything(pds)
    bluesky = connector(server)
    first = poll(bluesky)
    feed = fixture("author_feed.json")
    del feed["feed"][0]
    pds.serve(FEED, Reply(200, feed))
    second = poll(bluesky, dict(first.new_state))
    bluesky.close()
    assert P1 in ids(second)  # still a search hit
    assert not any(item.deleted for item in second.items)


# --- Errors -------------------------------------------------------------------------------


def test_429_is_rate_limited_until_the_ratelimit_reset(server: LocalServer, pds: FakePds) -> None:
    headers = {
        "ratelimit-limit": "3000",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "1768222800",
        "ratelimit-policy": "3000;w=300",
    }
    pds.serve(NOTIFICATIONS, Reply(429, fixture("error_rate_limited.json"), headers))
    error = fetch_error(connector(server))
    assert isinstance(error, RateLimited)
    assert error.retry_at == datetime(2026, 1, 12, 13, 0, tzinfo=UTC)
    assert "HTTP 429 RateLimitExceeded" in str(error)


def test_a_rate_limited_sign_in_waits_for_its_window(server: LocalServer) -> None:
    headers = {"ratelimit-policy": "30;w=300", "ratelimit-reset": "1768222800"}
    server.route("POST", CREATE, Reply(429, fixture("error_rate_limited.json"), headers))
    error = fetch_error(connector(server))
    assert isinstance(error, RateLimited) and "createSession" in str(error)


def test_the_reset_time_comes_from_ratelimit_reset_or_retry_after() -> None:
    now = datetime(2026, 1, 12, 12, 0, tzinfo=UTC)
    assert rate_limit_reset({"ratelimit-reset": "1768222800"}, now=now) == datetime(
        2026, 1, 12, 13, 0, tzinfo=UTC
    )
    assert rate_limit_reset({"retry-after": "90"}, now=now) == datetime(
        2026, 1, 12, 12, 1, 30, tzinfo=UTC
    )
    assert rate_limit_reset({"ratelimit-reset": "soon"}, now=now) is None
    assert rate_limit_reset({}, now=now) is None


def test_a_wrong_app_password_is_an_auth_error_that_names_the_credential(
    server: LocalServer, pds: FakePds
) -> None:
    bluesky = BlueskyConnector(
        "bluesky-test",
        BlueskyConnector.Config(
            handle=HANDLE, app_password_credential=CREDENTIAL, base_url=server.base_url
        ),
        secrets=lambda name: "wxyz-wxyz-wxyz-wxyz",
    )
    error = fetch_error(bluesky)
    assert isinstance(error, AuthError)
    assert "AuthenticationRequired: Invalid identifier or password" in str(error)
    assert CREDENTIAL in error.fix and "App passwords" in error.fix
    assert "wxyz" not in error.one_line()


@pytest.mark.parametrize(
    ("name", "words"),
    [("error_auth_factor.json", "app password"), ("error_takedown.json", "bsky.app")],
)
def test_sign_in_refusals_say_what_to_fix(server: LocalServer, name: str, words: str) -> None:
    server.route("POST", CREATE, Reply(401, fixture(name)))
    error = fetch_error(connector(server))
    assert isinstance(error, AuthError) and words in error.fix


def test_a_missing_credential_is_an_auth_error(server: LocalServer, pds: FakePds) -> None:
    config = BlueskyConnector.Config(
        handle=HANDLE, app_password_credential=CREDENTIAL, base_url=server.base_url
    )
    error = fetch_error(BlueskyConnector("bluesky-test", config, secrets={}.__getitem__))
    assert isinstance(error, AuthError) and CREDENTIAL in error.fix
    assert server.requests == []


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, fixture("error_internal.json")),
        Reply(502, "<html>Bad Gateway</html>", {"Content-Type": "text/html"}),
        Reply(503, "upstream unavailable"),
    ],
    ids=["500", "502", "503"],
)
def test_server_errors_are_source_unavailable(
    server: LocalServer, pds: FakePds, reply: Reply
) -> None:
    pds.serve(FEED, reply)
    error = fetch_error(connector(server))
    assert isinstance(error, SourceUnavailable)
    assert f"getAuthorFeed answered HTTP {reply.status}" in str(error)


def test_an_invalid_request_is_a_permanent_error(server: LocalServer, pds: FakePds) -> None:
    pds.serve(FEED, Reply(400, fixture("error_invalid_request.json")))
    error = fetch_error(connector(server))
    assert type(error) is PermanentError
    assert "HTTP 400 InvalidRequest: Profile not found" in str(error)


def test_a_host_that_is_not_a_pds_is_a_permanent_error(server: LocalServer) -> None:
    error = fetch_error(connector(server))
    assert isinstance(error, PermanentError) and "HTTP 404" in str(error)
    assert "base_url" in error.fix


def test_a_page_that_is_not_json_is_a_permanent_error(server: LocalServer, pds: FakePds) -> None:
    pds.serve(NOTIFICATIONS, Reply(200, "<html>login</html>", {"Content-Type": "text/html"}))
    error = fetch_error(connector(server))
    assert isinstance(error, PermanentError) and "did not answer with JSON" in str(error)


def test_a_refused_search_term_is_a_warning_and_the_rest_still_polls(
    server: LocalServer, pds: FakePds
) -> None:
    serve_everything(pds)
    pds.serve(SEARCH, Reply(400, fixture("error_bad_query.json")))
    bluesky = connector(server)
    result = poll(bluesky)
    bluesky.close()
    assert ids(result) == [M1, R1, P1, R2, P0, R3]
    assert [w.key for w in result.warnings] == [f"refused:search:{TERM}"]
    assert f"search:{TERM}" not in result.new_state["streams"]


def test_a_slow_server_times_out_as_source_unavailable(server: LocalServer, pds: FakePds) -> None:
    def slow(_: Recorded) -> Reply:
        time.sleep(1.0)
        return Reply(200, fixture("notifications_empty.json"))

    pds.serve(NOTIFICATIONS, "notifications_empty.json")
    pds.pds.route("GET", NOTIFICATIONS, slow)
    started = time.monotonic()
    error = fetch_error(connector(server, timeout_seconds=0.2))
    assert time.monotonic() - started < 0.9
    assert isinstance(error, SourceUnavailable) and "timed out after 0.2s" in str(error)


def test_a_refused_connection_is_source_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = BlueskyConnector.Config(
        handle=HANDLE, app_password_credential=CREDENTIAL, base_url=f"http://127.0.0.1:{port}"
    )
    error = fetch_error(BlueskyConnector("bluesky-test", config, secrets=lambda _: PASSWORD))
    assert isinstance(error, SourceUnavailable) and str(error).endswith(
        "could not be reached: connection refused"
    )


def test_no_token_or_password_is_ever_logged(
    server: LocalServer, pds: FakePds, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors")
    pds.access_lifetimes = [600]
    serve_everything(pds)
    bluesky = connector(server)
    state = dict(poll(bluesky).new_state)
    pds.revoke_access()
    poll(bluesky, state)
    bluesky.close()
    assert "signed in to Bluesky as" in caplog.text and "bluesky-test" in caplog.text
    for secret in [PASSWORD, *pds.refresh, *pds.access]:
        assert secret not in caplog.text


# --- Probe --------------------------------------------------------------------------------


def test_probe_signs_in_and_names_the_account(server: LocalServer, pds: FakePds) -> None:
    bluesky = connector(server)
    assert bluesky.probe() == (
        f"signed in as @{HANDLE} ({SCHOOL}); notifications readable; 1 search term"
    )
    bluesky.close()
    assert [r.path for r in server.requests] == [CREATE, NOTIFICATIONS]
    assert server.requests_to(NOTIFICATIONS)[0].query["limit"] == ["1"]


def test_probe_failure_says_what_to_fix(server: LocalServer, pds: FakePds) -> None:
    config = BlueskyConnector.Config(
        handle=HANDLE, app_password_credential=CREDENTIAL, base_url=server.base_url
    )
    bluesky = BlueskyConnector("bluesky-test", config, secrets=lambda _: "revoked-password")
    with pytest.raises(AuthError) as caught:
        bluesky.probe()
    bluesky.close()
    assert "App passwords" in caught.value.one_line()


# --- Configuration ------------------------------------------------------------------------


def test_config_defaults_and_normalisation() -> None:
    config = BlueskyConnector.Config(
        handle="@StMarys-Anytown.bsky.social ",
        app_password_credential=CREDENTIAL,
        search_terms=["  St Marys   Anytown ", "St Marys Anytown", "#stmarysanytown"],
    )
    assert config.handle == HANDLE
    assert config.search_terms == ["St Marys Anytown", "#stmarysanytown"]
    assert config.base_url == "https://bsky.social"
    assert (config.timeout_seconds, config.max_pages, config.page_size) == (20, 5, 50)
    custom = BlueskyConnector.Config(
        handle=HANDLE, app_password_credential=CREDENTIAL, base_url="https://pds.example.org/xrpc/"
    )
    assert custom.base_url == "https://pds.example.org"


@pytest.mark.parametrize(
    "settings",
    [
        {"handle": ""},
        {"handle": "st marys"},
        {"app_password_credential": "my secret password"},
        {"app_password": "abcd-efgh-ijkl-mnop"},
        {"search_terms": ["  "]},
        {"base_url": "bsky.social"},
        {"page_size": 101},
        {"max_pages": 0},
        {"timeout_seconds": 0},
    ],
    ids=[
        "empty-handle",
        "spaced-handle",
        "credential-value",
        "literal-password",
        "blank-term",
        "no-scheme",
        "page-too-big",
        "no-pages",
        "zero-timeout",
    ],
)
def test_config_rejects_bad_settings(settings: dict[str, object]) -> None:
    base = {"handle": HANDLE, "app_password_credential": CREDENTIAL}
    with pytest.raises(ValidationError):
        BlueskyConnector.Config.model_validate({**base, **settings})


def test_the_connector_describes_itself() -> None:
    assert (BlueskyConnector.name, BlueskyConnector.title) == ("bluesky", "Bluesky")
    assert BlueskyConnector.default_interval_minutes == 10
    assert BlueskyConnector.own_account is True
