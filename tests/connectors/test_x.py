"""The X connector: mentions, a name search and the school's own replies, within a read budget."""

from __future__ import annotations

import json
import logging
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
    Item,
    ItemKind,
    PermanentError,
    RateLimited,
    SourceUnavailable,
)
from connectors.base import parse_utc_time as parse_time
from connectors.x import (
    Budget,
    Cursor,
    School,
    XConnector,
    next_month,
    parse_own_tweet,
    parse_page,
    parse_tweet,
    posted_at,
    search_terms,
)
from tests.support.clock import Clock
from tests.support.http import LocalServer, Recorded, Reply, local_server
from tests.support.redirect import redirect_hosts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "x"
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
TOKEN = "AAAAAAAAAAAAAAAAAAAAAOrmMonitorTest%3Ds3cr3t"
SCHOOL_ID = "1433080937266511873"
SCHOOL = School(SCHOOL_ID, "StMarysAnytown")
QUERY = '"St Mary\'s Anytown" -is:retweet'
MENTIONS = f"/2/users/{SCHOOL_ID}/mentions"
TWEETS = f"/2/users/{SCHOOL_ID}/tweets"
SEARCH = "/2/tweets/search/recent"
USER = f"/2/users/{SCHOOL_ID}"

SPORTS_DAY_POST = "2119822319417176064"  # the school's own post
ECHO_ARTICLE = "2120062703368024064"  # the local paper's post (not in any stream)
WELL_DESERVED = "2120074107680600064"  # a resident's reply to the paper naming the school
RAIN_QUESTION = "2120080453662552064"  # a parent's reply to the sports day post
LOCKED_GATE = "2120082798278488064"  # a parent's complaint mentioning the school
PE_KIT_UPDATE = "2120086644455256064"  # the school continuing its own thread
RECEPTION_PLACES = "2120091631482712064"  # found by search only
GATE_REPLY = "2120094852708184064"  # the school's reply to the complaint
THANKS = "2120114305890136064"  # the parent's answer to the school's reply
HARVEST = "2120119687182168064"  # a later mention
RAIN_REPLY = "2120123814377304064"  # the school's reply to the rain question
RESULTS_PRAISE = "2120131174205968384"  # a parent's post with X's HTML escaping in it
CHURCH_LANE = "2120128823411613696"  # a resident's complaint, only in includes.tweets
CHURCH_LANE_REPOST = "2120135367289425920"  # someone else's repost of the complaint
HARVEST_REPOST = "2120137514613751808"  # the school's repost of the harvest mention
MINUTES_REPOST = "2120139661937946624"  # a repost of a post X no longer has
MINUTES = "2120126674568437760"  # that deleted post


def fixture(name: str) -> dict[str, Any]:
    """A documented-shape X API answer under tests/fixtures/x/."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A local server standing in for https://api.twitter.com (the host tweepy 4.17 uses)."""
    with local_server() as running, redirect_hosts(running, "api.twitter.com"):
        yield running


def connector(clock: Clock | None = None, **settings: Any) -> XConnector:
    """A connector for the test school, its bearer token as credential X_BEARER_TOKEN."""
    config = XConnector.Config(
        user_id=SCHOOL_ID,
        username="@StMarysAnytown",
        bearer_token_credential="X_BEARER_TOKEN",
        **settings,
    )
    secrets = {"X_BEARER_TOKEN": TOKEN}
    return XConnector("x-test", config, secrets.__getitem__, clock=clock or Clock(NOW))


def poll(state: dict[str, Any] | None = None, **settings: Any) -> FetchResult:
    """One fetch with a fresh connector."""
    x = connector(**settings)
    try:
        return x.fetch(state or {})
    finally:
        x.close()


def fetch_error(state: dict[str, Any] | None = None, **settings: Any) -> ConnectorError:
    """The ConnectorError one fetch raises; one line, and never the token."""
    with pytest.raises(ConnectorError) as caught:
        poll(state, **settings)
    assert TOKEN not in caught.value.one_line() and "\n" not in caught.value.one_line()
    return caught.value


def paged(first: str, older: str, token_param: str = "pagination_token") -> Any:
    """A handler: the first page, or the older one when asked with the page token."""

    def serve(request: Recorded) -> Reply:
        return Reply(200, fixture(older if token_param in request.query else first))

    return serve


def serve_school(server: LocalServer, mentions: str = "mentions_page1") -> None:
    """Mentions over two pages, the school's own posts and a search."""
    server.route("GET", MENTIONS, paged(mentions, "mentions_page2"))
    server.route("GET", TWEETS, Reply(200, fixture("own_tweets")))
    server.route("GET", SEARCH, Reply(200, fixture("search")))


def by_id(items: tuple[Item, ...]) -> dict[str, Item]:
    """Items keyed by external id."""
    return {item.external_id: item for item in items}


def caught_up(since: str) -> dict[str, Any]:
    """The state of a source whose streams have all been read up to `since`."""
    return {
        "mentions": {"since_id": since},
        "own_tweets": {"since_id": since},
        "budget_month": "2026-11",
        "reads": 0,
    }


# --- Parsing ------------------------------------------------------------------------------


def test_a_mention_becomes_an_item_with_its_author_and_link() -> None:
    page = fixture("mentions_page1")
    users = {user["id"]: user for user in page["includes"]["users"]}
    item = parse_tweet(page["data"][0], users=users, school=SCHOOL, account="mentions")
    assert item.external_id == LOCKED_GATE and item.kind is ItemKind.MENTION
    assert item.text.startswith("@StMarysAnytown the side gate was locked")
    assert item.created_at == datetime(2026, 11, 10, 9, 15, 3, tzinfo=UTC)
    assert item.url == f"https://x.com/anytown_parent/status/{LOCKED_GATE}"
    assert (item.author.id, item.author.handle, item.author.display_name) == (
        "1521384920217210880",
        "anytown_parent",
        "Jo Hughes",
    )
    assert not item.by_school and item.account == "mentions"
    assert item.parent_id is None and item.thread_id == LOCKED_GATE
    assert (
        item.raw["tweet"] == page["data"][0] and item.raw["author"]["username"] == "anytown_parent"
    )


def test_a_reply_to_the_schools_post_is_a_reply_in_that_conversation() -> None:
    item = by_id(tuple(parse_page(fixture("mentions_page1"), school=SCHOOL, account="mentions")))[
        RAIN_QUESTION
    ]
    assert item.kind is ItemKind.REPLY and not item.by_school
    assert item.parent_id == SPORTS_DAY_POST and item.thread_id == SPORTS_DAY_POST


def test_a_reply_to_someone_else_that_names_the_school_is_a_mention() -> None:
    (item,) = parse_page(fixture("mentions_page2"), school=SCHOOL, account="mentions")
    assert item.external_id == WELL_DESERVED and item.kind is ItemKind.MENTION
    assert item.parent_id == ECHO_ARTICLE and item.thread_id == ECHO_ARTICLE


def test_the_schools_own_reply_is_by_school_with_the_parent_and_thread_ids() -> None:
    items = parse_page(fixture("own_tweets"), school=SCHOOL, account="own_tweets")
    assert [item.external_id for item in items] == [GATE_REPLY]
    reply = items[0]
    assert reply.by_school and reply.kind is ItemKind.REPLY and reply.account == "own_tweets"
    assert reply.parent_id == LOCKED_GATE and reply.thread_id == LOCKED_GATE
    assert reply.author.handle == "StMarysAnytown"


def test_the_schools_original_posts_and_own_threads_are_not_replies_to_anyone() -> None:
    posts = {tweet["id"]: tweet for tweet in fixture("own_tweets")["data"]}
    for tweet_id in (SPORTS_DAY_POST, PE_KIT_UPDATE):
        assert parse_own_tweet(posts[tweet_id], users={}, school=SCHOOL) is None
    thread = parse_tweet(posts[PE_KIT_UPDATE], users={}, school=SCHOOL, account="search")
    assert thread.by_school and thread.kind is ItemKind.POST and thread.parent_id is None


def test_an_author_missing_from_includes_leaves_an_id_and_a_generic_link() -> None:
    tweet = fixture("mentions_page1")["data"][0]
    item = parse_tweet(tweet, users={}, school=SCHOOL, account="mentions")
    assert item.author.id == "1521384920217210880" and item.author.handle is None
    assert item.url == f"https://x.com/i/web/status/{LOCKED_GATE}"


def test_a_post_without_an_id_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError):
        parse_tweet({"text": "no id"}, users={}, school=SCHOOL, account="mentions")


def test_an_empty_page_has_no_items() -> None:
    assert parse_page(fixture("empty"), school=SCHOOL, account="search") == []


def test_created_at_is_read_as_utc() -> None:
    assert parse_time("2026-11-10T09:15:03.000Z") == datetime(2026, 11, 10, 9, 15, 3, tzinfo=UTC)
    assert parse_time("yesterday") is None and parse_time(None) is None


def test_x_html_escaping_is_undone_exactly_once() -> None:
    item = by_id(tuple(parse_page(fixture("mentions_reposts"), school=SCHOOL, account="mentions")))[
        RESULTS_PRAISE
    ]
    assert item.text == (
        "@StMarysAnytown Reading & maths both > national average, well done Y6 <3"
        " (your website shows &lt;3 as text though)"  # the parent typed "&lt;3": it stays
    )
    assert "&amp;" in item.raw["tweet"]["text"]  # the raw payload is kept as received


def test_reposts_are_not_items_by_default() -> None:
    items = parse_page(fixture("mentions_reposts"), school=SCHOOL, account="mentions")
    assert [item.external_id for item in items] == [RESULTS_PRAISE]
    search = parse_page(fixture("mentions_reposts"), school=SCHOOL, account="search")
    assert [item.external_id for item in search] == [RESULTS_PRAISE]


def test_a_kept_repost_points_at_the_original_with_its_full_text() -> None:
    page = fixture("mentions_reposts")
    items = by_id(tuple(parse_page(page, school=SCHOOL, account="mentions", reposts="keep")))
    repost = items[CHURCH_LANE_REPOST]
    assert repost.kind is ItemKind.REPOST and not repost.by_school
    assert repost.text == (
        "@StMarysAnytown pick-up & drop-off on Church Lane is dangerous, cars on the pavement"
        " every single day. Someone will get hurt before the school & the council act."
    )
    assert (repost.author.handle, repost.author.display_name) == ("newtoanytown", "Alex New")
    assert repost.parent_id == CHURCH_LANE and repost.thread_id == CHURCH_LANE
    assert repost.url == f"https://x.com/sampatel_anytown/status/{CHURCH_LANE}"
    assert repost.created_at == datetime(2026, 11, 10, 12, 17, 21, tzinfo=UTC)
    assert repost.raw["tweet"]["id"] == CHURCH_LANE_REPOST
    assert repost.raw["reposted"]["tweet"]["id"] == CHURCH_LANE
    assert repost.raw["reposted"]["author"]["username"] == "sampatel_anytown"
    assert items[RESULTS_PRAISE].kind is ItemKind.MENTION


def test_the_schools_own_repost_is_never_an_item() -> None:
    page = fixture("mentions_reposts")
    items = by_id(tuple(parse_page(page, school=SCHOOL, account="mentions", reposts="keep")))
    assert HARVEST_REPOST not in items  # by_school, it would close the harvest post's window


def test_a_kept_repost_of_a_deleted_post_keeps_its_own_shortened_text() -> None:
    page = fixture("mentions_reposts")
    items = by_id(tuple(parse_page(page, school=SCHOOL, account="search", reposts="keep")))
    repost = items[MINUTES_REPOST]
    assert repost.kind is ItemKind.REPOST and repost.parent_id == MINUTES
    assert repost.text == (
        "RT @anytown_dad: @StMarysAnytown governors meeting minutes still not online"
        " & it's been 3 months"
    )
    assert repost.url == f"https://x.com/i/web/status/{MINUTES}"
    assert repost.raw["reposted"] == {"tweet": None, "author": None}


@pytest.mark.parametrize(
    ("query", "without_reposts", "sent"),
    [
        ('"St Marys"', False, '"St Marys"'),
        ('"St Marys" OR #StMarysAnytown', True, '("St Marys" OR #StMarysAnytown) -is:retweet'),
        ('"St Marys" -is:retweet', True, '"St Marys" -is:retweet'),
        ('"St Marys" is:retweet', True, '"St Marys" is:retweet'),
        ('"St Marys is:retweet"', True, '("St Marys is:retweet") -is:retweet'),
    ],
    ids=["as-written", "added-around-or", "already-excluded", "asks-for-reposts", "in-quotes"],
)
def test_search_terms_add_not_retweet_only_when_asked(
    query: str, without_reposts: bool, sent: str
) -> None:
    assert search_terms(query, without_reposts=without_reposts) == sent


# --- Polling and the cursor ---------------------------------------------------------------


def test_a_first_poll_reads_one_page_of_each_stream_and_no_backfill(server: LocalServer) -> None:
    serve_school(server)
    result = poll(search_query=QUERY)
    assert len(server.requests_to(MENTIONS)) == 1  # the next_token is not followed
    assert len(server.requests_to(TWEETS)) == 1 and len(server.requests_to(SEARCH)) == 1
    assert set(by_id(result.items)) == {
        LOCKED_GATE,
        RAIN_QUESTION,
        GATE_REPLY,
        RECEPTION_PLACES,
        WELL_DESERVED,
    }
    assert [item.external_id for item in result.items] == sorted(
        (item.external_id for item in result.items), key=int
    )
    assert dict(result.new_state) == {
        "mentions": {"since_id": LOCKED_GATE},
        "own_tweets": {"since_id": GATE_REPLY},
        "search": {"since_id": RECEPTION_PLACES, "query": QUERY},
        "budget_month": "2026-11",
        "reads": 2 + 3 + 2,
    }


def test_requests_ask_for_the_documented_fields_with_the_bearer_token(server: LocalServer) -> None:
    serve_school(server)
    poll(search_query=QUERY)
    for request in server.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.query["tweet.fields"] == [
            "conversation_id,in_reply_to_user_id,referenced_tweets,created_at,author_id"
        ]
        assert request.query["expansions"] == ["author_id"]
        assert request.query["user.fields"] == ["username,name"]
        assert request.query["max_results"] == ["100"] and "since_id" not in request.query
    assert server.requests_to(TWEETS)[0].query["exclude"] == ["retweets"]
    assert server.requests_to(SEARCH)[0].query["query"] == [QUERY]


def test_a_later_poll_pages_back_to_since_id_and_moves_it_to_the_newest(
    server: LocalServer,
) -> None:
    serve_school(server)
    result = poll(caught_up(SPORTS_DAY_POST))
    first, second = server.requests_to(MENTIONS)
    assert first.query["since_id"] == [SPORTS_DAY_POST] and "pagination_token" not in first.query
    assert second.query["since_id"] == [SPORTS_DAY_POST]
    assert second.query["pagination_token"] == ["7140dibdnow9c7btw4b0nhzgtdp8rm1b2n9o5c1lkiu5b"]
    assert {LOCKED_GATE, RAIN_QUESTION, WELL_DESERVED} <= set(by_id(result.items))
    assert result.new_state["mentions"] == {"since_id": LOCKED_GATE}
    assert "search" not in result.new_state  # no search_query, no search request
    assert server.requests_to(SEARCH) == []


def test_a_catch_up_longer_than_max_pages_goes_on_next_poll_without_a_gap(
    server: LocalServer,
) -> None:
    serve_school(server)
    result = poll(caught_up(SPORTS_DAY_POST), max_pages=1)
    assert result.new_state["mentions"] == {
        "since_id": SPORTS_DAY_POST,
        "until_id": RAIN_QUESTION,
        "newest": LOCKED_GATE,
    }
    server.requests.clear()
    server.route("GET", MENTIONS, Reply(200, fixture("mentions_page2")))
    later = poll(dict(result.new_state), max_pages=1)
    (request,) = server.requests_to(MENTIONS)
    assert request.query["since_id"] == [SPORTS_DAY_POST]
    assert request.query["until_id"] == [RAIN_QUESTION]
    assert WELL_DESERVED in by_id(later.items)
    assert later.new_state["mentions"] == {"since_id": LOCKED_GATE}


def test_an_overlapping_second_poll_gives_the_same_ids_and_cursor(server: LocalServer) -> None:
    serve_school(server)
    first = poll(caught_up(SPORTS_DAY_POST))
    again = poll(dict(first.new_state))  # the server ignores since_id and repeats itself
    assert set(by_id(again.items)) == set(by_id(first.items))
    assert again.new_state["mentions"] == first.new_state["mentions"]
    assert again.new_state["own_tweets"] == first.new_state["own_tweets"]


def test_an_empty_page_keeps_the_cursor(server: LocalServer) -> None:
    for path in (MENTIONS, TWEETS, SEARCH):
        server.route("GET", path, Reply(200, fixture("empty")))
    state = caught_up(GATE_REPLY) | {"search": {"since_id": GATE_REPLY, "query": QUERY}}
    result = poll(state, search_query=QUERY)
    assert result.items == () and result.warnings == ()
    assert dict(result.new_state) == state


def test_the_schools_reply_closes_over_a_later_poll(server: LocalServer) -> None:
    server.route("GET", MENTIONS, Reply(200, fixture("mentions_new")))
    server.route("GET", TWEETS, Reply(200, fixture("own_tweets_new")))
    result = poll(caught_up(GATE_REPLY))
    items = by_id(result.items)
    assert items[RAIN_REPLY].by_school and items[RAIN_REPLY].kind is ItemKind.REPLY
    assert items[RAIN_REPLY].parent_id == RAIN_QUESTION
    assert items[RAIN_REPLY].thread_id == SPORTS_DAY_POST
    thanks = items[THANKS]  # the parent answering the school's reply is a reply to the school
    assert thanks.kind is ItemKind.REPLY and thanks.parent_id == GATE_REPLY
    assert thanks.thread_id == LOCKED_GATE


def test_partial_errors_in_a_200_answer_do_not_stop_the_poll(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("GET", MENTIONS, Reply(200, fixture("mentions_new")))
    server.route("GET", TWEETS, Reply(200, fixture("empty")))
    caplog.set_level(logging.DEBUG, logger="connectors.x")
    result = poll(caught_up(GATE_REPLY))
    assert set(by_id(result.items)) == {THANKS, HARVEST}
    assert "Could not find tweet with id: [2120104711223222272]" in caplog.text


def test_a_post_found_by_mentions_and_search_is_one_item(server: LocalServer) -> None:
    serve_school(server)
    result = poll(caught_up(SPORTS_DAY_POST), search_query=QUERY)
    assert [item.external_id for item in result.items].count(WELL_DESERVED) == 1
    assert by_id(result.items)[WELL_DESERVED].account == "mentions"
    assert by_id(result.items)[RECEPTION_PLACES].account == "search"
    assert by_id(result.items)[RECEPTION_PLACES].kind is ItemKind.MENTION
    # search hits were not sent to the school: they open no reply window, mentions do
    assert XConnector.search_accounts == {"search"}


def test_reposts_are_skipped_and_the_schools_query_is_sent_as_written(
    server: LocalServer,
) -> None:
    server.route("GET", MENTIONS, Reply(200, fixture("mentions_reposts")))
    server.route("GET", TWEETS, Reply(200, fixture("empty")))
    server.route("GET", SEARCH, Reply(200, fixture("empty")))
    query = '"St Mary\'s Anytown" OR "St Marys Anytown"'
    result = poll(caught_up(HARVEST), search_query=query)
    assert [item.external_id for item in result.items] == [RESULTS_PRAISE]
    assert server.requests_to(SEARCH)[0].query["query"] == [query]
    assert all(request.query["expansions"] == ["author_id"] for request in server.requests)


def test_kept_reposts_ask_for_the_originals_and_count_them_as_reads(server: LocalServer) -> None:
    server.route("GET", MENTIONS, Reply(200, fixture("mentions_reposts")))
    server.route("GET", TWEETS, Reply(200, fixture("empty")))
    server.route("GET", SEARCH, Reply(200, fixture("empty")))
    query = '"St Mary\'s Anytown" OR "St Marys Anytown"'
    result = poll(
        caught_up(HARVEST), search_query=query, search_without_reposts=True, reposts="keep"
    )
    kinds = {item.external_id: item.kind for item in result.items}
    assert kinds == {
        RESULTS_PRAISE: ItemKind.MENTION,
        CHURCH_LANE_REPOST: ItemKind.REPOST,
        MINUTES_REPOST: ItemKind.REPOST,
    }
    assert by_id(result.items)[CHURCH_LANE_REPOST].text.endswith("the school & the council act.")
    assert server.requests_to(SEARCH)[0].query["query"] == [f"({query}) -is:retweet"]
    for request in server.requests:
        assert request.query["expansions"] == [
            "author_id,referenced_tweets.id,referenced_tweets.id.author_id"
        ]
    assert result.new_state["reads"] == 4 + 2  # the posts in data and the originals included


def test_a_changed_search_query_starts_its_stream_afresh(server: LocalServer) -> None:
    serve_school(server)
    old = {"search": {"since_id": GATE_REPLY, "query": '"St Marys" -is:retweet'}}
    result = poll(caught_up(GATE_REPLY) | old, search_query=QUERY)
    (request,) = server.requests_to(SEARCH)
    assert "since_id" not in request.query and request.query["query"] == [QUERY]
    assert result.new_state["search"] == {"since_id": RECEPTION_PLACES, "query": QUERY}


def test_a_search_cursor_older_than_seven_days_starts_afresh(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    serve_school(server)
    state = caught_up(GATE_REPLY) | {"search": {"since_id": GATE_REPLY, "query": QUERY}}
    caplog.set_level(logging.INFO, logger="connectors.x")
    x = connector(clock=Clock(datetime(2026, 11, 17, 11, 0, tzinfo=UTC)), search_query=QUERY)
    result = x.fetch(state)
    x.close()
    (request,) = server.requests_to(SEARCH)
    assert "since_id" not in request.query  # X answers 400 to a since_id older than 7 days
    assert server.requests_to(MENTIONS)[0].query["since_id"] == [GATE_REPLY]
    assert result.new_state["search"] == {"since_id": RECEPTION_PLACES, "query": QUERY}
    assert "search cursor older than 7 days" in caplog.text


def test_a_post_id_says_when_it_was_posted() -> None:
    assert posted_at(LOCKED_GATE) == datetime(2026, 11, 10, 9, 15, 3, tzinfo=UTC)


def test_cursor_ids_compare_as_numbers() -> None:
    cursor = Cursor(since_id="999")
    assert cursor.read({"newest_id": "1000", "oldest_id": "1000", "result_count": 1}) is None
    assert cursor.since_id == "1000"


def test_a_cursor_ignores_ids_that_are_not_numbers() -> None:
    assert Cursor.from_state({"since_id": "latest", "until_id": 12}) == Cursor(until_id="12")
    assert Cursor.from_state("nonsense").is_new


# --- The read budget ----------------------------------------------------------------------


def test_reads_are_counted_and_80_percent_warns_once_a_month(server: LocalServer) -> None:
    serve_school(server)
    state = caught_up(SPORTS_DAY_POST) | {"reads": 75}
    result = poll(state, monthly_read_budget=100)
    assert result.new_state["reads"] == 75 + 3 + 3  # two mentions pages and the own posts
    (warning,) = result.warnings
    assert warning.key == "budget-80:2026-11"
    assert warning.message == "X read budget 80% spent: 81 of 100 posts (~$0.41) this month"
    assert "monthly_read_budget" in warning.fix


def test_a_page_never_asks_for_more_posts_than_the_budget_has_left(server: LocalServer) -> None:
    serve_school(server)
    poll(caught_up(SPORTS_DAY_POST) | {"reads": 9_963}, search_query=QUERY)
    sizes = [request.query["max_results"] for request in server.requests]
    assert sizes[0] == ["37"]  # 10,000 - 9,963 left for the first page
    assert all(5 <= int(size[0]) <= 37 for size in sizes)


def test_a_stream_whose_smallest_page_no_longer_fits_is_skipped(server: LocalServer) -> None:
    serve_school(server)
    state = caught_up(GATE_REPLY) | {"search": {"since_id": GATE_REPLY, "query": QUERY}}
    result = poll(state | {"reads": 88}, search_query=QUERY, monthly_read_budget=100)
    assert server.requests_to(SEARCH) == []  # search pages are at least 10 posts
    assert result.new_state["search"] == state["search"]
    assert [warning.key for warning in result.warnings] == ["budget-80:2026-11"]


def test_a_spent_budget_makes_no_request_and_keeps_the_state(server: LocalServer) -> None:
    serve_school(server)
    state = caught_up(GATE_REPLY) | {"reads": 10_000}
    result = poll(state)
    assert server.requests == [] and result.items == ()
    assert dict(result.new_state) == state
    (warning,) = result.warnings
    assert warning.key == "budget-spent:2026-11"
    assert warning.message == (
        "X read budget spent: 10,000 of 10,000 posts (~$50.00) in 2026-11;"
        " polling stops until next month (UTC)"
    )
    assert "raise monthly_read_budget" in warning.fix


def test_the_poll_that_spends_the_budget_says_so(server: LocalServer) -> None:
    serve_school(server)
    state = caught_up(SPORTS_DAY_POST) | {"reads": 94}
    result = poll(state, monthly_read_budget=100)
    assert result.new_state["reads"] == 94 + 2  # one page of mentions, then 4 left: too few
    assert result.new_state["mentions"]["until_id"] == RAIN_QUESTION  # goes on next month
    assert result.new_state["own_tweets"] == state["own_tweets"]
    keys = [warning.key for warning in result.warnings]
    assert keys == ["budget-80:2026-11", "budget-spent:2026-11"]


def test_a_new_month_resets_the_count(server: LocalServer) -> None:
    serve_school(server)
    december = Clock(datetime(2026, 12, 1, 0, 5, tzinfo=UTC))
    x = connector(clock=december)
    result = x.fetch(caught_up(GATE_REPLY) | {"budget_month": "2026-11", "reads": 10_000})
    x.close()
    assert server.requests_to(MENTIONS) != []
    assert result.new_state["budget_month"] == "2026-12" and result.new_state["reads"] == 3 + 3
    assert result.warnings == ()


def test_budget_from_state_ignores_nonsense() -> None:
    now = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assert Budget.from_state({"budget_month": "2026-11", "reads": "lots"}, now, 50).reads == 0
    assert Budget.from_state({}, now, 50) == Budget("2026-11", 0, 50)
    assert Budget("2026-11", 46, 50).spent and not Budget("2026-11", 45, 50).spent


# --- Error mapping ------------------------------------------------------------------------


def test_429_is_rate_limited_until_the_x_rate_limit_reset_time(server: LocalServer) -> None:
    reset = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0"}
    reset["x-rate-limit-reset"] = "1794314100"
    server.route("GET", MENTIONS, Reply(429, fixture("error_rate_limit"), headers=reset))
    error = fetch_error()
    assert isinstance(error, RateLimited)
    assert error.retry_at == datetime(2026, 11, 10, 12, 35, tzinfo=UTC)
    assert "HTTP 429: Rate limit exceeded" in str(error)


def test_a_429_without_the_reset_header_is_still_rate_limited(server: LocalServer) -> None:
    server.route("GET", MENTIONS, Reply(429, fixture("error_rate_limit")))
    error = fetch_error()
    assert isinstance(error, RateLimited) and error.retry_at is None


def test_the_monthly_usage_cap_waits_for_next_month(server: LocalServer) -> None:
    server.route("GET", MENTIONS, Reply(429, fixture("error_usage_capped")))
    error = fetch_error()
    assert isinstance(error, RateLimited)
    assert error.retry_at == next_month(datetime.now(UTC))
    assert "Usage cap exceeded" in str(error) and "Developer Console" in error.fix


def test_401_is_an_auth_error_saying_to_regenerate_the_token(server: LocalServer) -> None:
    server.route("GET", MENTIONS, Reply(401, fixture("error_unauthorized")))
    error = fetch_error()
    assert isinstance(error, AuthError) and "HTTP 401: Unauthorized" in str(error)
    assert "Bearer Token" in error.fix and "X_BEARER_TOKEN" in error.fix


def test_403_client_not_enrolled_says_to_attach_the_app_to_a_project(
    server: LocalServer,
) -> None:
    server.route("GET", MENTIONS, Reply(403, fixture("error_client_forbidden")))
    error = fetch_error()
    assert type(error) is PermanentError and "HTTP 403: Client Forbidden" in str(error)
    assert "Project" in error.fix


def test_402_credits_depleted_says_to_buy_credits(server: LocalServer) -> None:
    server.route("GET", MENTIONS, Reply(402, fixture("error_credits_depleted")))
    error = fetch_error()
    assert type(error) is PermanentError and "credits depleted" in str(error)
    assert "buy X API credits" in error.fix


def test_a_rejected_search_query_names_search_query(server: LocalServer) -> None:
    server.route("GET", MENTIONS, Reply(200, fixture("empty")))
    server.route("GET", TWEETS, Reply(200, fixture("empty")))
    server.route("GET", SEARCH, Reply(400, fixture("error_invalid_query")))
    error = fetch_error(search_query="\"St Mary's Anytown -is:retweet")
    assert type(error) is PermanentError and "X (search) answered HTTP 400" in str(error)
    assert "no viable alternative" in str(error) and "search_query" in error.fix


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_source_unavailable(server: LocalServer, status: int) -> None:
    server.route("GET", MENTIONS, Reply(status, fixture("error_server")))
    error = fetch_error()
    assert type(error) is SourceUnavailable and f"HTTP {status}" in str(error)


def test_an_unknown_user_id_in_a_200_answer_is_a_permanent_error(server: LocalServer) -> None:
    server.route("GET", MENTIONS, Reply(200, fixture("user_not_found")))
    error = fetch_error()
    assert type(error) is PermanentError and "Could not find user with id" in str(error)
    assert "user_id" in error.fix


def test_invalid_json_is_a_permanent_error(server: LocalServer) -> None:
    server.route("GET", MENTIONS, Reply(200, "<html>maintenance</html>"))
    assert type(fetch_error()) is PermanentError


def test_a_refused_connection_is_source_unavailable() -> None:
    with local_server() as gone:
        pass  # stopped: its port now refuses connections
    with redirect_hosts(gone, "api.twitter.com"):
        error = fetch_error()
    assert type(error) is SourceUnavailable and str(error).endswith(
        "could not be reached: connection refused"
    )


def test_a_slow_answer_times_out_as_source_unavailable(server: LocalServer) -> None:
    def slow(_: Recorded) -> Reply:
        time.sleep(1.0)
        return Reply(200, fixture("empty"))

    server.route("GET", MENTIONS, slow)
    started = time.monotonic()
    error = fetch_error(timeout_seconds=0.2)
    assert time.monotonic() - started < 0.9
    assert type(error) is SourceUnavailable and "timed out after 0.2s" in str(error)


def test_a_missing_credential_is_an_auth_error() -> None:
    config = XConnector.Config(
        user_id=SCHOOL_ID, username="StMarysAnytown", bearer_token_credential="X_BEARER_TOKEN"
    )
    x = XConnector("x-test", config, {}.__getitem__, clock=Clock(NOW))
    with pytest.raises(AuthError) as caught:
        x.fetch({})
    assert "X_BEARER_TOKEN" in caught.value.fix


def test_the_token_never_reaches_the_logs(
    server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    serve_school(server)
    caplog.set_level(logging.DEBUG)
    poll(search_query=QUERY)
    assert "Received API response" in caplog.text  # tweepy's own debug lines are still there
    assert TOKEN not in caplog.text


# --- Probe, close and configuration -------------------------------------------------------


def test_probe_looks_up_the_school_account_once(server: LocalServer) -> None:
    server.route("GET", USER, Reply(200, fixture("user")))
    x = connector(search_query=QUERY)
    line = x.probe()
    x.close()
    assert line == (
        f"X API reachable: user {SCHOOL_ID} is @StMarysAnytown;"
        f" reading mentions, replies and search: {QUERY}"
    )
    assert [request.path for request in server.requests] == [USER]


def test_probe_fails_when_the_user_id_is_another_account(server: LocalServer) -> None:
    other = fixture("user")
    other["data"]["username"] = "StMarysOtherton"
    server.route("GET", USER, Reply(200, other))
    with pytest.raises(PermanentError) as caught:
        connector().probe()
    assert "is @StMarysOtherton, not @StMarysAnytown" in str(caught.value)
    assert "user_id" in caught.value.fix


def test_probe_fails_for_an_unknown_user_id(server: LocalServer) -> None:
    server.route("GET", USER, Reply(200, fixture("user_not_found")))
    with pytest.raises(PermanentError) as caught:
        connector().probe()
    assert "user_id" in caught.value.fix


def test_probe_with_a_revoked_token_is_an_auth_error(server: LocalServer) -> None:
    server.route("GET", USER, Reply(401, fixture("error_unauthorized")))
    with pytest.raises(AuthError) as caught:
        connector().probe()
    assert "regenerate" in caught.value.one_line() and TOKEN not in caught.value.one_line()


def test_close_drops_the_client_and_a_later_fetch_opens_a_new_one(server: LocalServer) -> None:
    serve_school(server)
    x = connector()
    x.fetch({})
    first = x._api
    x.close()
    x.close()
    assert first is not None and x._api is None
    x.fetch({})
    assert x._api is not None and x._api is not first
    x.close()


def test_config_defaults() -> None:
    config = XConnector.Config(
        user_id=SCHOOL_ID, username="@StMarysAnytown", bearer_token_credential="X_BEARER_TOKEN"
    )
    assert config.username == "StMarysAnytown" and config.search_query is None
    assert (config.page_size, config.max_pages) == (100, 3)
    assert (config.monthly_read_budget, config.cost_per_read_usd) == (10_000, 0.005)
    assert config.timeout_seconds == 20


@pytest.mark.parametrize(
    "settings",
    [
        {"user_id": "StMarysAnytown"},
        {"username": "St Mary's"},
        {"page_size": 5},
        {"page_size": 101},
        {"search_query": "x" * 513},
        {"bearer_token": "AAAA"},
        {"monthly_read_budget": -1},
    ],
    ids=[
        "name-as-id",
        "bad-username",
        "page-too-small",
        "page-too-big",
        "long-query",
        "literal-token",
        "negative-budget",
    ],
)
def test_config_rejects_bad_settings(settings: dict[str, object]) -> None:
    values: dict[str, object] = {
        "user_id": SCHOOL_ID,
        "username": "StMarysAnytown",
        "bearer_token_credential": "X_BEARER_TOKEN",
    }
    with pytest.raises(ValidationError):
        XConnector.Config.model_validate(values | settings)


def test_reposts_are_skipped_and_queries_left_as_written_unless_set() -> None:
    config = XConnector.Config(
        user_id=SCHOOL_ID, username="StMarysAnytown", bearer_token_credential="X_BEARER_TOKEN"
    )
    assert config.reposts == "skip" and not config.search_without_reposts
    assert config.sent_query is None
    written = config.model_copy(update={"search_query": QUERY.removesuffix(" -is:retweet")})
    assert written.sent_query == '"St Mary\'s Anytown"'


@pytest.mark.parametrize(
    "settings",
    [
        {"reposts": "quote"},
        {"search_query": "x" * 500, "search_without_reposts": True},
    ],
    ids=["unknown-reposts", "query-too-long-with-not-retweet"],
)
def test_config_rejects_bad_repost_settings(settings: dict[str, object]) -> None:
    values: dict[str, object] = {
        "user_id": SCHOOL_ID,
        "username": "StMarysAnytown",
        "bearer_token_credential": "X_BEARER_TOKEN",
    }
    with pytest.raises(ValidationError):
        XConnector.Config.model_validate(values | settings)


def test_the_connector_describes_itself() -> None:
    assert (XConnector.name, XConnector.title) == ("x", "X (Twitter) account")
    assert XConnector.default_interval_minutes == 15 and XConnector.own_account
