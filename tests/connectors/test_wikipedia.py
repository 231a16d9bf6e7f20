"""The Wikipedia connector: revisions since the cursor, diffs as text, flags and typed errors.

Payloads follow the MediaWiki Action API with formatversion=2: prop=revisions rows as built by
ApiQueryRevisionsBase (anon/temp/userhidden/sha1hidden/suppressed), action=compare answers as
built by ApiComparePages with a wikidiff2 table body, and error bodies ({"error": {"code", ...}}).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from connectors.base import (
    ConnectorError,
    FetchResult,
    ItemKind,
    PermanentError,
    RateLimited,
    SourceUnavailable,
)
from connectors.wikipedia import (
    EditContext,
    RevisionCursor,
    WikipediaConnector,
    diff_changes,
    diff_summary,
    edit_url,
    parse_edit,
    retry_at_from_header,
    user_agent_header,
)
from tests.support.clock import Clock
from tests.support.http import LocalServer, Recorded, Reply, local_server

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "wikipedia"
API = "/w/api.php"
TITLE = "Anytown Grammar School"
NOW = datetime(2026, 6, 3, 15, 0, tzinfo=UTC)
BASELINE = {"last_revid": 1301200000, "last_timestamp": "2026-06-01T08:12:44Z"}
CONTACT = "it.lead@anytown-grammar.example.sch.uk"
NEW_IDS = ["1301250001", "1301250002", "1301250003", "1301250004", "1301250005"]


def fixture(name: str) -> dict[str, Any]:
    """A response body under tests/fixtures/wikipedia/."""
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return body


def query(recorded: Recorded) -> dict[str, str]:
    """A request's query string as single values."""
    return {key: values[0] for key, values in recorded.query.items()}


class FakeWiki:
    """Answers /w/api.php like Wikipedia, by action and by the revision parameters sent."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.replies: dict[str, list[Reply]] = {}
        server.route("GET", API, self)

    def on(self, kind: str, *replies: Reply | str) -> None:
        """Serve `kind` requests these replies in turn (the last repeats); a str is a fixture."""
        self.replies[kind] = [
            r if isinstance(r, Reply) else Reply(200, fixture(r)) for r in replies
        ]

    def __call__(self, recorded: Recorded) -> Reply:
        queue = self.replies.get(self.kind(query(recorded)))
        if not queue:
            return Reply(500, "no reply set up")
        return queue.pop(0) if len(queue) > 1 else queue[0]

    @staticmethod
    def kind(params: dict[str, str]) -> str:
        """latest, since, since_time, more or compare:<revid>."""
        if params.get("action") == "compare":
            return f"compare:{params.get('torev') or params.get('fromrev')}"
        for key, kind in (
            ("rvcontinue", "more"),
            ("rvstartid", "since"),
            ("rvstart", "since_time"),
        ):
            if key in params:
                return kind
        return "latest"

    def kinds(self) -> list[str]:
        """The kinds of the requests received, in order."""
        return [self.kind(query(r)) for r in self.server.requests_to(API)]

    def serve_two_pages(self) -> None:
        """Page 1 (the saved revision again, two edits), page 2 (three edits) and their diffs."""
        self.on("since", "revisions_page1")
        self.on("more", "revisions_page2")
        for revid in ("1301250001", "1301250002", "1301250003"):
            self.on(f"compare:{revid}", f"compare_{revid}")
        self.on("compare:1301250005", "compare_missingcontent")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


@pytest.fixture
def wiki(server: LocalServer) -> FakeWiki:
    return FakeWiki(server)


def connector(server: LocalServer, **settings: Any) -> WikipediaConnector:
    """A WikipediaConnector for the test article, talking to the local server."""
    settings = {"title": TITLE, "api_url": server.url(API), "contact": CONTACT, **settings}
    config = WikipediaConnector.Config(**settings)
    return WikipediaConnector("wiki-test", config, secrets=lambda name: "", clock=Clock(NOW))


def fetch(server: LocalServer, state: dict[str, Any], **settings: Any) -> FetchResult:
    """One poll from `state`."""
    source = connector(server, **settings)
    try:
        return source.fetch(state)
    finally:
        source.close()


def fetch_error(server: LocalServer, state: dict[str, Any], **settings: Any) -> ConnectorError:
    """The ConnectorError one poll raises."""
    with pytest.raises(ConnectorError) as caught:
        fetch(server, state, **settings)
    return caught.value


def items_by_id(result: FetchResult) -> dict[str, Any]:
    """The poll's items keyed by external id."""
    return {item.external_id: item for item in result.items}


# --- The first poll and the cursor --------------------------------------------------------


def test_first_poll_saves_the_latest_revision_without_emitting_history(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.on("latest", "latest_revision")
    result = fetch(server, {})
    assert result.items == ()
    assert dict(result.new_state) == BASELINE
    [request] = server.requests_to(API)
    params = query(request)
    assert params["rvlimit"] == "1" and "rvdir" not in params and "rvstartid" not in params
    assert params["titles"] == TITLE


def test_a_poll_reads_every_page_skips_the_saved_revision_and_advances(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    result = fetch(server, BASELINE)
    assert [item.external_id for item in result.items] == NEW_IDS
    assert dict(result.new_state) == {
        "last_revid": 1301250005,
        "last_timestamp": "2026-06-03T14:31:09Z",
    }
    assert wiki.kinds() == [
        "since",
        "more",
        "compare:1301250001",
        "compare:1301250002",
        "compare:1301250003",
        "compare:1301250005",
    ]  # no diff is asked for the saved revision, nor for the hidden one (1301250004)


def test_revision_queries_follow_the_documented_parameters(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    fetch(server, BASELINE)
    first, more = (query(r) for r in server.requests_to(API) if "rvprop" in r.query)
    assert first == {
        "action": "query",
        "prop": "revisions",
        "titles": TITLE,
        "rvprop": "ids|timestamp|user|userid|comment|size|flags|tags|sha1",
        "redirects": "1",
        "rvdir": "newer",
        "rvlimit": "50",
        "rvstartid": "1301200000",
        "format": "json",
        "formatversion": "2",
        "maxlag": "5",
    }
    assert more["rvcontinue"] == "20260603141502|1301250003" and more["continue"] == "||"
    assert more["rvstartid"] == "1301200000"


def test_diffs_are_asked_for_with_compare_between_parent_and_revision(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    fetch(server, BASELINE)
    compares = [query(r) for r in server.requests_to(API) if r.query["action"] == ["compare"]]
    assert compares[0] == {
        "action": "compare",
        "prop": "diff|ids|size|user|comment",
        "fromrev": "1301200000",
        "torev": "1301250001",
        "format": "json",
        "formatversion": "2",
        "maxlag": "5",
    }


def test_an_overlapping_second_poll_produces_the_same_external_ids(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    first = fetch(server, BASELINE)
    again = fetch(server, BASELINE)
    assert [i.external_id for i in again.items] == [i.external_id for i in first.items]
    assert again.new_state == first.new_state


def test_no_new_edits_keeps_the_cursor_and_asks_for_no_diffs(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.on("since", "revisions_none_new")
    result = fetch(server, BASELINE)
    assert result.items == () and dict(result.new_state) == BASELINE
    assert wiki.kinds() == ["since"]


def test_max_pages_bounds_a_poll_and_the_next_poll_goes_on_from_there(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    first = fetch(server, BASELINE, max_pages=1)
    assert [i.external_id for i in first.items] == NEW_IDS[:2]
    assert first.new_state["last_revid"] == 1301250002
    assert "more" not in wiki.kinds()
    wiki.on("since", "revisions_page2")
    second = fetch(server, dict(first.new_state), max_pages=1)
    assert [i.external_id for i in second.items] == NEW_IDS[2:]
    since = [query(r) for r in server.requests_to(API) if "rvstartid" in r.query]
    assert [q["rvstartid"] for q in since] == ["1301200000", "1301250002"]


def test_a_vanished_saved_revision_falls_back_to_its_timestamp(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.on("since", "error_badid_rvstartid")
    wiki.on("since_time", "revisions_none_new")
    result = fetch(server, BASELINE)
    assert result.items == ()
    assert query(server.requests_to(API)[-1])["rvstart"] == "2026-06-01T08:12:44Z"


def test_the_cursor_ignores_unreadable_state_and_never_moves_back() -> None:
    assert RevisionCursor.from_state({"last_revid": "1301200000"}) == RevisionCursor()
    assert RevisionCursor.from_state({"last_revid": True}) == RevisionCursor()
    cursor = RevisionCursor.from_state(BASELINE)
    assert cursor.advanced([{"revid": 1301100000, "timestamp": "2026-05-28T09:15:00Z"}]) == cursor


# --- Items: text, flags, authors and links ------------------------------------------------


def test_a_registered_users_edit_is_an_edit_item_with_its_changed_words(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    edit = items_by_id(fetch(server, BASELINE))["1301250001"]
    assert edit.kind is ItemKind.EDIT and edit.title == TITLE and edit.thread_id == TITLE
    assert edit.url == server.url("/w/index.php?diff=1301250001&oldid=1301200000")
    assert edit.created_at == datetime(2026, 6, 2, 19, 40, 3, tzinfo=UTC)
    assert (edit.author.id, edit.author.handle) == ("39011872", "Copyeditor42")
    assert not edit.by_school and not edit.deleted and edit.parent_id is None
    assert edit.text == (
        "Edit summary: copyedit\nTags: visualeditor\nAdded: relocated\nRemoved: moved"
    )
    assert edit.raw["worth_a_look"] == [] and edit.raw["size_change"] == 13


def test_a_large_removal_by_an_ip_editor_is_flagged_first(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    edit = items_by_id(fetch(server, BASELINE))["1301250002"]
    lines = edit.text.splitlines()
    assert lines[:4] == [
        "[large removal: -5,452 bytes]",
        "[edit by an unregistered user]",
        "Edit summary: (none)",
        "Tags: mobile edit, mobile web edit, mw-replace",
    ]
    assert lines[4] == "Added: dump where teachers dont care about bullying"
    assert lines[5] == (
        "Removed: state grammar school | == Notable former pupils == | * [[Jane Example]]"
        " (born 1975), Olympic rower | * [[Sam Sample]], author of ''The Quiet Shore''"
    )
    assert (edit.author.id, edit.author.handle) == (None, "203.0.113.45")
    assert edit.raw["worth_a_look"] == ["large_removal", "unregistered"]
    assert edit.raw["size_change"] == -5452


def test_a_temporary_account_counts_as_unregistered(server: LocalServer, wiki: FakeWiki) -> None:
    wiki.serve_two_pages()
    edit = items_by_id(fetch(server, BASELINE))["1301250003"]
    assert edit.text.splitlines()[0] == "[edit by an unregistered user (temporary account)]"
    assert edit.raw["worth_a_look"] == ["unregistered"]
    assert edit.author.handle == "~2026-10423-57"


def test_a_moved_paragraph_is_neither_added_nor_removed_and_removed_words_stay_removed(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    edit = items_by_id(fetch(server, BASELINE))["1301250003"]
    assert edit.text.splitlines()[-2:] == [
        "Added: Parents have complained that reports of bullying are ignored by senior staff.",
        "Removed: , including 250 in the sixth form",
    ]


def test_a_suppressed_revision_says_its_content_is_hidden(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    edit = items_by_id(fetch(server, BASELINE))["1301250004"]
    assert edit.deleted and edit.author.handle is None and edit.author.id is None
    assert edit.text == (
        "[the editor's username is hidden]\n"
        "[content hidden: Wikipedia's oversighters removed this revision's text from public view]\n"
        "Edit summary: (hidden)"
    )
    assert edit.raw["worth_a_look"] == [] and edit.raw["compare"] is None


def test_an_edit_after_a_hidden_one_says_why_it_has_no_diff(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    edit = items_by_id(fetch(server, BASELINE))["1301250005"]
    assert edit.text.splitlines()[-1] == (
        "[diff unavailable: the text of this edit or of the one before it is hidden]"
    )
    assert edit.raw["size_change"] == 5335  # from the revision list: the diff has no sizes
    assert edit.raw["diff_error"]["code"] == "missingcontent"


def test_the_large_removal_threshold_is_configurable(server: LocalServer, wiki: FakeWiki) -> None:
    wiki.serve_two_pages()
    edit = items_by_id(fetch(server, BASELINE, large_removal_bytes=6000))["1301250002"]
    assert edit.raw["worth_a_look"] == ["unregistered"]
    assert not edit.text.startswith("[large removal")


def test_parse_edit_of_a_page_creation_links_to_the_revision() -> None:
    revision = {
        "revid": 1200000000,
        "parentid": 0,
        "user": "Schoolhistorian",
        "userid": 41235567,
        "timestamp": "2024-01-10T12:00:00Z",
        "size": 2048,
        "comment": "new article",
    }
    context = EditContext(TITLE, "https://en.wikipedia.org/w/index.php", 2000)
    edit = parse_edit(revision, None, context=context, parent_size=0)
    assert edit.url == "https://en.wikipedia.org/w/index.php?oldid=1200000000"
    assert edit.raw["size_change"] == 2048 and edit.raw["worth_a_look"] == []


def test_a_page_creation_is_diffed_against_the_empty_page(
    server: LocalServer, wiki: FakeWiki
) -> None:
    body = fixture("revisions_none_new")
    created = {**body["query"]["pages"][0]["revisions"][0], "revid": 1301250009, "parentid": 0}
    body["query"]["pages"][0]["revisions"].append(created)
    wiki.on("since", Reply(200, body))
    wiki.on("compare:1301250009", "compare_1301250001")
    fetch(server, BASELINE)
    compare = query(server.requests_to(API)[-1])
    assert compare["fromrev"] == "1301250009" and compare["torelative"] == "prev"


def test_diff_changes_ignores_context_lines_and_empty_lines() -> None:
    body = fixture("compare_1301250002")["compare"]["body"]
    added, removed = diff_changes(body)
    assert added == ["dump where teachers dont care about bullying"]
    assert len(removed) == 4 and "== References ==" not in removed


def test_diff_summary_caps_each_side() -> None:
    text = diff_summary(["x" * 5000], ["y" * 10], limit=200)
    added, removed = text.splitlines()
    assert len(added) == len("Added: ") + 100 and added.endswith("…")
    assert removed == "Removed: " + "y" * 10
    assert diff_summary([], []).startswith("No text added or removed")


def test_edit_url_points_at_the_diff() -> None:
    index = "https://cy.wikipedia.org/w/index.php"
    assert edit_url(index, 5, 4) == "https://cy.wikipedia.org/w/index.php?diff=5&oldid=4"


# --- Warnings -----------------------------------------------------------------------------


def test_a_moved_article_is_followed_and_the_it_lead_told(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.on("latest", "redirected")
    result = fetch(server, {}, title="Anytown Grammar")
    [warning] = result.warnings
    assert warning.key == "wikipedia-redirect:Anytown Grammar->Anytown Grammar School"
    assert "set title = 'Anytown Grammar School'" in warning.fix


# --- User-Agent ---------------------------------------------------------------------------


def test_requests_carry_a_descriptive_user_agent_with_the_contact(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.on("latest", "latest_revision")
    fetch(server, {})
    assert server.requests_to(API)[0].headers["user-agent"] == (
        f"orm-monitor/0.1 (https://github.com/orm-monitor/orm-monitor; {CONTACT})"
        f" httpx/{httpx.__version__}"
    )


def test_user_agent_header_appends_the_contact() -> None:
    assert user_agent_header("tool/1.0", "a@b.example") == (
        f"tool/1.0 (a@b.example) httpx/{httpx.__version__}"
    )
    assert user_agent_header("tool/1.0 (https://x.example)", "https://y.example/contact") == (
        f"tool/1.0 (https://x.example; https://y.example/contact) httpx/{httpx.__version__}"
    )


# --- Errors -------------------------------------------------------------------------------


def test_maxlag_is_rate_limited_until_retry_after(server: LocalServer, wiki: FakeWiki) -> None:
    headers = {"Retry-After": "7", "X-Database-Lag": "7"}
    wiki.on("since", Reply(200, fixture("error_maxlag"), headers))
    error = fetch_error(server, BASELINE)
    assert isinstance(error, RateLimited) and "maxlag" in str(error)
    assert error.retry_at == NOW + timedelta(seconds=7)


def test_maxlag_without_retry_after_waits_for_the_lag(server: LocalServer, wiki: FakeWiki) -> None:
    wiki.on("latest", "error_maxlag")
    error = fetch_error(server, {})
    assert isinstance(error, RateLimited) and error.retry_at == NOW + timedelta(seconds=7)


def test_a_rate_limit_on_the_first_diff_stops_the_poll(server: LocalServer, wiki: FakeWiki) -> None:
    wiki.serve_two_pages()
    wiki.on("compare:1301250001", Reply(200, fixture("error_maxlag"), {"Retry-After": "5"}))
    error = fetch_error(server, BASELINE)
    assert isinstance(error, RateLimited) and error.retry_at == NOW + timedelta(seconds=5)


def test_a_rate_limit_after_some_diffs_keeps_them_and_the_cursor_stops_there(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.serve_two_pages()
    wiki.on("compare:1301250003", Reply(429, "Too many requests", {"Retry-After": "60"}))
    result = fetch(server, BASELINE)
    assert [i.external_id for i in result.items] == NEW_IDS[:2]
    assert dict(result.new_state) == {
        "last_revid": 1301250002,
        "last_timestamp": "2026-06-03T07:55:31Z",
    }


def test_http_429_is_rate_limited_by_retry_after(server: LocalServer, wiki: FakeWiki) -> None:
    wiki.on("since", Reply(429, "Too many requests", {"Retry-After": "120"}))
    error = fetch_error(server, BASELINE)
    assert isinstance(error, RateLimited) and error.retry_at == NOW + timedelta(seconds=120)


def test_the_ratelimited_error_code_is_rate_limited(server: LocalServer, wiki: FakeWiki) -> None:
    wiki.on("since", "error_ratelimited")
    error = fetch_error(server, BASELINE)
    assert isinstance(error, RateLimited) and error.retry_at == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_source_unavailable(
    server: LocalServer, wiki: FakeWiki, status: int
) -> None:
    wiki.on("since", Reply(status, "<html>Wikimedia Error</html>", {"Retry-After": "30"}))
    error = fetch_error(server, BASELINE)
    assert type(error) is SourceUnavailable and f"HTTP {status}" in str(error)
    assert error.retry_at == NOW + timedelta(seconds=30)


def test_a_body_that_is_not_json_is_a_permanent_error(server: LocalServer, wiki: FakeWiki) -> None:
    wiki.on("since", Reply(200, "<!DOCTYPE html><html>login</html>"))
    error = fetch_error(server, BASELINE)
    assert type(error) is PermanentError and "not JSON" in str(error)


def test_a_refused_user_agent_says_to_set_the_contact(server: LocalServer, wiki: FakeWiki) -> None:
    wiki.on("since", Reply(403, "Please set a user-agent and respect our robot policy"))
    error = fetch_error(server, BASELINE)
    assert isinstance(error, PermanentError) and "contact" in error.fix


@pytest.mark.parametrize("name", ["page_missing", "page_invalid"])
def test_a_missing_article_is_a_permanent_error_naming_the_fix(
    server: LocalServer, wiki: FakeWiki, name: str
) -> None:
    wiki.on("latest", name)
    error = fetch_error(server, {})
    assert isinstance(error, PermanentError) and "no article with that title" in str(error)
    assert "/wiki/" in error.fix


def test_an_unknown_api_error_is_a_permanent_error(server: LocalServer, wiki: FakeWiki) -> None:
    body = {"error": {"code": "badvalue", "info": 'Unrecognized value for parameter "rvdir".'}}
    wiki.on("since", Reply(200, body))
    error = fetch_error(server, BASELINE)
    assert type(error).__name__ == "ApiError" and isinstance(error, PermanentError)
    assert "badvalue" in str(error)


def test_a_slow_server_times_out_as_source_unavailable(server: LocalServer, wiki: FakeWiki) -> None:
    def slow(_: Recorded) -> Reply:
        time.sleep(1.0)
        return Reply(200, fixture("latest_revision"))

    server.route("GET", API, slow)
    started = time.monotonic()
    error = fetch_error(server, {}, timeout_seconds=0.2)
    assert time.monotonic() - started < 0.9
    assert isinstance(error, SourceUnavailable) and "timed out after 0.2s" in str(error)


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert retry_at_from_header("90", now=NOW) == NOW + timedelta(seconds=90)
    assert retry_at_from_header("Wed, 03 Jun 2026 16:00:00 GMT", now=NOW) == (
        datetime(2026, 6, 3, 16, 0, tzinfo=UTC)
    )
    assert retry_at_from_header("soon", now=NOW) is None
    assert retry_at_from_header(None, now=NOW) is None


# --- Probe --------------------------------------------------------------------------------


def test_probe_names_the_article_and_its_latest_edit(server: LocalServer, wiki: FakeWiki) -> None:
    wiki.on("latest", "latest_revision")
    source = connector(server)
    assert source.probe() == (
        "Wikipedia article 'Anytown Grammar School' readable: latest edit 2026-06-01 08:12 UTC"
        " by Schoolhistorian (revision 1301200000)"
    )
    source.close()
    assert len(server.requests_to(API)) == 1


def test_probe_of_a_missing_article_raises_with_the_fix(
    server: LocalServer, wiki: FakeWiki
) -> None:
    wiki.on("latest", "page_missing")
    source = connector(server)
    with pytest.raises(PermanentError) as caught:
        source.probe()
    source.close()
    assert "the part after /wiki/" in caught.value.one_line()


# --- Configuration and metadata -----------------------------------------------------------


def test_config_defaults() -> None:
    config = WikipediaConnector.Config(title=TITLE, contact=CONTACT)
    assert config.api_url == "https://en.wikipedia.org/w/api.php"
    assert config.user_agent.startswith("orm-monitor/0.1 (https://")
    assert config.contact == CONTACT and config.large_removal_bytes == 2000
    assert config.timeout_seconds == 20 and config.max_pages == 2


@pytest.mark.parametrize(
    "settings",
    [
        {"title": "https://en.wikipedia.org/wiki/Anytown_Grammar_School"},
        {"title": "  "},
        {"title": "Anytown Grammar School|Other School"},
        {"title": TITLE, "api_url": "https://en.wikipedia.org/wiki/Main_Page"},
        {"title": TITLE, "api_url": "ftp://en.wikipedia.org/w/api.php"},
        {"title": TITLE, "contact": "IT lead"},
        {"title": TITLE, "contact": None},
        {"title": TITLE, "contact": "a@b.example) evil/1.0 ("},
        {"title": TITLE, "user_agent": "bot/1.0\r\nX-Evil: 1"},
        {"title": TITLE, "large_removal_bytes": 0},
        {"title": TITLE, "max_pages": 0},
        {"title": TITLE, "api_key": "x"},
    ],
)
def test_config_rejects_bad_settings(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        WikipediaConnector.Config.model_validate({"contact": CONTACT, **settings})


def test_config_requires_a_contact_address_for_the_user_agent() -> None:
    with pytest.raises(ValidationError) as caught:
        WikipediaConnector.Config(title=TITLE)  # type: ignore[call-arg]
    assert "contact" in str(caught.value)


def test_the_connector_metadata() -> None:
    assert (WikipediaConnector.name, WikipediaConnector.title) == (
        "wikipedia",
        "Wikipedia article edits",
    )
    assert WikipediaConnector.default_interval_minutes == 60
    assert WikipediaConnector.own_account is False
