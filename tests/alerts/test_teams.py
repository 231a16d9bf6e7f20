"""The Teams channel: Adaptive Cards that Teams accepts, sent to a real local webhook server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft6Validator

from alerts.base import Alert, AlertItem, DeliveryResult, DeliveryStatus, Recipient
from alerts.teams import (
    MAX_BODY_BYTES,
    SHORTENED_NOTE,
    TeamsChannel,
    TeamsSettings,
    build_card,
    encode,
)
from tests.support.http import LocalServer, Recorded, Reply, local_server
from tests.support.sample_alerts import HOSTILE_TEXT, hostile_alert, plain_alert
from tests.support.secrets import secrets_from

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "teams" / "adaptive-card-1.5.json"
HOOK_PATH = "/workflows/4f1c/triggers/manual/paths/invoke"
SIGNATURE = "sig=Zm9vYmFyU0VDUkVU"
CHANNEL = Recipient(address="safeguarding-team", name="Safeguarding")
KEY = "outbox:9:teams"
UNTRUSTED_MARKERS = ("<script>", "{{DATE", "**", "_italic_", "Bcc: evil", "<i>CE</i>", "onerror")


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    """The Adaptive Card inside a Workflows message, checked against Microsoft's schema."""
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card: dict[str, Any] = attachment["content"]
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft6Validator(schema).validate(card)
    return card


def strings(
    node: Any, parent: dict[str, Any] | None = None, key: str = ""
) -> Iterator[tuple[dict[str, Any] | None, str, str]]:
    """Every string in the card with the object and key holding it."""
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield from strings(child, node, child_key)
    elif isinstance(node, list):
        for child in node:
            yield from strings(child, parent, key)
    elif isinstance(node, str):
        yield parent, key, node


def of_type(node: Any, wanted: str) -> list[dict[str, Any]]:
    """Every element of type `wanted`, depth first."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == wanted:
            found.append(node)
        for child in node.values():
            found += of_type(child, wanted)
    elif isinstance(node, list):
        for child in node:
            found += of_type(child, wanted)
    return found


def run_texts(card: dict[str, Any]) -> list[str]:
    return [run["text"] for run in of_type(card, "TextRun")]


def test_card_is_a_workflows_message_with_a_valid_adaptive_card() -> None:
    card = card_of(build_card(plain_alert()))
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    texts = run_texts(card)
    for expected in (
        "LOW",
        "St Mary's",
        "query on Facebook page",
        "A Parent",
        "Is the school open tomorrow?\nThe gate was locked.",
        "A parent asked a question.",
        "Reply within the reply window.",
        "query",
        "keyword: open tomorrow",
    ):
        assert expected in texts, expected


def test_links_are_open_url_actions() -> None:
    card = card_of(build_card(plain_alert()))
    urls = [action["url"] for action in of_type(card, "Action.OpenUrl")]
    assert urls == ["https://www.facebook.com/stmarys/posts/1", "https://orm.example.org/items/2"]
    assert card["actions"][0]["title"] == "Open dashboard"


def test_untrusted_text_appears_only_inside_text_runs() -> None:
    card = card_of(build_card(hostile_alert()))
    for holder, key, text in strings(card):
        if any(marker in text for marker in UNTRUSTED_MARKERS):
            assert holder is not None and holder.get("type") == "TextRun" and key == "text", text
    texts = run_texts(card)
    assert HOSTILE_TEXT in texts
    assert "**Mallory** <b>{{DATE(2026-01-01)}}</b>" in texts
    assert "St Mary's <i>CE</i> **Primary**" in texts
    assert "hi Bcc: evil@example.com" in texts


def test_text_blocks_hold_only_our_own_words() -> None:
    card = card_of(build_card(hostile_alert()))
    assert [block["text"] for block in of_type(card, "TextBlock")] == [
        "+2 more not shown here",
        "What to do",
    ]


def test_javascript_links_are_shown_as_text_never_as_actions() -> None:
    card = card_of(build_card(hostile_alert()))
    urls = [action["url"] for action in of_type(card, "Action.OpenUrl")]
    assert urls == ["https://orm.example.org/items/1"]
    texts = run_texts(card)
    assert "javascript:alert(3)" in texts and "javascript:x()" in texts


def test_a_100_kb_post_is_shortened_to_fit_with_a_note() -> None:
    alert = plain_alert("All work and no play. " * 5000)
    message = build_card(alert)
    size = len(encode(message))
    assert size <= MAX_BODY_BYTES < 28 * 1024
    post = next(t for t in run_texts(card_of(message)) if t.startswith("All work"))
    assert post.endswith("…" + SHORTENED_NOTE)


def test_shortening_never_splits_a_character() -> None:
    alert = plain_alert("😀" * 50_000 + "e\u0301" * 10_000)
    message = build_card(alert)
    body = encode(message)
    assert len(body) <= MAX_BODY_BYTES
    post = next(t for t in run_texts(card_of(message)) if t.startswith("😀"))
    assert "\ufffd" not in post
    body.decode("utf-8")


def test_lone_surrogates_in_a_post_do_not_break_the_card() -> None:
    body = encode(build_card(plain_alert("broken \ud83d half")))
    assert "broken \ufffd half" in body.decode("utf-8")


def test_many_items_are_dropped_into_the_more_count() -> None:
    item = AlertItem(
        text="x" * 5_000, author="A Parent", platform="facebook", url="https://x.test/1"
    )
    alert = replace(plain_alert(), items=(item,) * 60, extra_count=5)
    message = build_card(alert)
    assert len(encode(message)) <= MAX_BODY_BYTES
    card = card_of(message)
    shown = sum(1 for t in run_texts(card) if t.startswith("xxx"))
    assert 0 < shown < 60
    captions = [block["text"] for block in of_type(card, "TextBlock")]
    assert f"+{5 + 60 - shown} more not shown here" in captions


def test_an_enormous_headline_still_gives_a_card_that_fits() -> None:
    alert = replace(plain_alert(), headline="h" * 100_000, summary="s" * 100_000)
    message = build_card(alert)
    assert len(encode(message)) <= MAX_BODY_BYTES
    card_of(message)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as running:
        yield running


def webhook(server: LocalServer, **kwargs: Any) -> TeamsChannel:
    url = server.url(f"{HOOK_PATH}?api-version=1&{SIGNATURE}")
    settings = TeamsSettings(type="teams", webhook_url_credential="TEAMS_WEBHOOK", **kwargs)
    return TeamsChannel("safeguarding", settings, secrets_from(TEAMS_WEBHOOK=url))


def assert_no_secret(result: DeliveryResult, channel: TeamsChannel) -> None:
    for text in (result.error or "", channel.describe(), repr(result)):
        assert "Zm9vYmFyU0VDUkVU" not in text
        assert HOOK_PATH not in text


def test_posts_the_card_as_json_and_reports_delivered(server: LocalServer) -> None:
    server.route("POST", HOOK_PATH, Reply(202, headers={"x-ms-workflow-run-id": "0858"}))
    channel = webhook(server)

    result = channel.send(hostile_alert(), CHANNEL, KEY)

    assert result == DeliveryResult.delivered("0858")
    (request,) = server.requests_to(HOOK_PATH)
    assert request.query["sig"] == ["Zm9vYmFyU0VDUkVU"]
    assert request.headers["content-type"].startswith("application/json")
    assert request.json() == build_card(hostile_alert())
    card_of(request.json())


def test_200_also_means_delivered(server: LocalServer) -> None:
    server.route("POST", HOOK_PATH, Reply(200))
    assert webhook(server).send(plain_alert(), CHANNEL, KEY).status is DeliveryStatus.DELIVERED


def test_too_large_is_failed(server: LocalServer) -> None:
    server.route("POST", HOOK_PATH, Reply(413, "request entity too large"))
    channel = webhook(server)
    result = channel.send(plain_alert(), CHANNEL, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and "card too large" in result.error
    assert_no_secret(result, channel)


def test_rate_limit_is_retried_after_the_time_teams_asks(server: LocalServer) -> None:
    server.route("POST", HOOK_PATH, Reply(429, headers={"Retry-After": "120"}))
    channel = webhook(server)
    before = datetime.now(UTC)
    result = channel.send(plain_alert(), CHANNEL, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert result.retry_after is not None
    assert before + timedelta(seconds=119) <= result.retry_after
    assert result.retry_after <= datetime.now(UTC) + timedelta(seconds=121)
    assert_no_secret(result, channel)


def test_rate_limit_without_retry_after_leaves_the_backoff_to_the_outbox(
    server: LocalServer,
) -> None:
    server.route("POST", HOOK_PATH, Reply(429))
    result = webhook(server).send(plain_alert(), CHANNEL, KEY)
    assert result.status is DeliveryStatus.RETRY and result.retry_after is None


def test_server_error_is_retried(server: LocalServer) -> None:
    server.route("POST", HOOK_PATH, Reply(500, "boom"))
    channel = webhook(server)
    result = channel.send(plain_alert(), CHANNEL, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert_no_secret(result, channel)


def test_retry_after_may_be_an_http_date(server: LocalServer) -> None:
    when = (datetime.now(UTC) + timedelta(minutes=2)).replace(microsecond=0)
    server.route(
        "POST", HOOK_PATH, Reply(503, headers={"Retry-After": format_datetime(when, True)})
    )
    result = webhook(server).send(plain_alert(), CHANNEL, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert result.retry_after == when


def test_an_unreadable_retry_after_is_ignored(server: LocalServer) -> None:
    server.route("POST", HOOK_PATH, Reply(503, headers={"Retry-After": "soon"}))
    result = webhook(server).send(plain_alert(), CHANNEL, KEY)
    assert result.status is DeliveryStatus.RETRY and result.retry_after is None


def test_a_deleted_workflow_fails_with_the_fix(server: LocalServer) -> None:
    server.route("POST", HOOK_PATH, Reply(404, {"error": {"code": "WorkflowNotFound"}}))
    channel = webhook(server)
    result = channel.send(plain_alert(), CHANNEL, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and "recreate the workflow" in result.error
    assert_no_secret(result, channel)


def test_an_error_body_echoing_the_url_is_scrubbed(server: LocalServer) -> None:
    def echo(request: Recorded) -> Reply:
        return Reply(400, f"bad request to {server.url(HOOK_PATH)}?api-version=1&{SIGNATURE}")

    server.route("POST", HOOK_PATH, echo)
    channel = webhook(server)
    result = channel.send(plain_alert(), CHANNEL, KEY)
    assert result.status is DeliveryStatus.FAILED
    assert result.error is not None and "rejected the card (400)" in result.error
    assert_no_secret(result, channel)


def test_an_unreachable_webhook_is_retried_without_showing_the_url() -> None:
    with local_server() as stopped:
        channel = webhook(stopped)
    result = channel.send(plain_alert(), CHANNEL, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert result.error is not None
    assert "cannot reach Teams webhook http://127.0.0.1" in result.error
    assert_no_secret(result, channel)


def test_a_slow_webhook_times_out_and_is_retried(server: LocalServer) -> None:
    def slow(request: Recorded) -> Reply:
        time.sleep(1)
        return Reply(202)

    server.route("POST", HOOK_PATH, slow)
    channel = webhook(server, timeout_seconds=0.2)
    result = channel.send(plain_alert(), CHANNEL, KEY)
    assert result.status is DeliveryStatus.RETRY
    assert result.error is not None and "no answer" in result.error
    assert_no_secret(result, channel)


def test_describe_shows_only_the_host(server: LocalServer) -> None:
    channel = webhook(server)
    assert channel.describe() == f"teams channel 'safeguarding' ({server.base_url}/…)"
    assert TeamsChannel.delivers_to_people is False


def test_every_sample_card_is_valid() -> None:
    alerts: list[Alert] = [
        plain_alert(),
        hostile_alert(),
        Alert(kind="crisis", school_name="St Mary's", severity="high", headline="spike"),
    ]
    for alert in alerts:
        card_of(build_card(alert))


def test_the_card_states_when_a_reply_is_due_and_how_long_is_left() -> None:
    due = "Reply by Mon 23 Nov, 18:00 (London time) — 23 h 40 min left"
    card = card_of(build_card(replace(plain_alert(), reply_status=due)))
    assert due in run_texts(card)
    assert "Reply by" not in json.dumps(card_of(build_card(plain_alert())))


def test_direction_controls_are_removed_from_the_cards_body() -> None:
    bidi = "\u202e\u2066\u2069\u200f\u061c"
    item = replace(plain_alert().items[0], text=f"fine{bidi}gpj.exe", reasons=(f"why{bidi}",))
    alert = replace(plain_alert(), items=(item,), summary=f"sum{bidi}", reply_status=f"due{bidi}")
    encoded = encode(build_card(alert)).decode("utf-8")
    assert not any(control in encoded for control in bidi)
    assert "finegpj.exe" in run_texts(card_of(build_card(alert)))
