"""Reply windows end to end: opened, reminded, escalated, closed, across restarts."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from monitor.cli.app import main
from monitor.replies.links import LinkError, LinkSigner
from monitor.service.daemon import Service
from monitor.service.status import collect, render
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.web.one_click import WebServer, WindowLinks
from tests.support.clock import Clock
from tests.support.world import World, world

MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
QUERY = ("q1", "Could you tell me what time the Year 4 trip gets back?")  # posted Mon 08:00 GMT
PRAISE = ("p1", "Thank you, what an amazing sports day!")
REPLY = ("r1", "Hi, the coach is due back at 3.15pm. The office")  # posted Mon 08:01 by the school


def _own_account(w: World) -> None:
    w.raw["schools"][0]["sources"][0]["opens_windows"] = True


def _run(w: World, clock: Clock) -> Service:
    service = Service(w.config, clock=clock)
    service.run_once()
    service.stop()
    return service


def _tick(w: World, clock: Clock) -> None:
    """A daemon that starts, runs the reply clock and the dispatcher once, and stops."""
    service = Service(w.config, clock=clock)
    service.prepare()
    service.reply_clock.tick()
    service.dispatcher.run_once()
    service.stop()


def _windows(service: Service) -> list[models.ReplyWindow]:
    with service.db.session() as session:
        return list(session.scalars(select(models.ReplyWindow)))


def _subjects(w: World) -> list[str]:
    return [str(m["Subject"]).strip() for _, m in w.smtp.messages]


def test_a_comment_on_a_school_account_opens_a_window_due_24_hours_later(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        _own_account(w)
        w.serve(QUERY)
        service = _run(w, Clock(MONDAY_9))
        [window] = _windows(service)
        assert window.status == "open"
        assert window.due_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
        assert window.opened_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        text = w.messages_to("j.smith@school.example")[0].get_body(("plain",)).get_content()
        assert "I have replied: http://localhost:8080/w/" in text
        assert f"(item {window.item_id})" in text


def test_searches_of_third_party_sites_and_praise_open_no_window(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(QUERY)
        assert _windows(_run(w, Clock(MONDAY_9))) == []
    (tmp_path / "praise").mkdir()
    with world(tmp_path / "praise", database_url) as w:
        _own_account(w)
        w.serve(PRAISE)
        assert _windows(_run(w, Clock(MONDAY_9))) == []


def test_reminder_and_breach_are_sent_once_each_across_restarts(
    tmp_path: Path, database_url: str
) -> None:
    clock = Clock(MONDAY_9)
    with world(tmp_path, database_url) as w:
        _own_account(w)
        w.serve(QUERY)
        _run(w, clock)
        assert len(w.smtp.messages) == 1  # the query alert to the lead
        clock.set(datetime(2026, 11, 24, 3, 59, tzinfo=UTC))
        _tick(w, clock)
        assert len(w.smtp.messages) == 1
        for minute in (1, 30):  # 4 h before due, then a restart half an hour later
            clock.set(datetime(2026, 11, 24, 4, minute, tzinfo=UTC))
            _tick(w, clock)
        assert len(w.smtp.messages) == 2
        assert w.recipients()[-1] == "j.smith@school.example"
        assert "reply due Tue 24 Nov 08:00 (3 h 59 min left)" in _subjects(w)[-1]
        for minute in (1, 30):  # due time passes; the daemon restarts again
            clock.set(datetime(2026, 11, 24, 8, minute, tzinfo=UTC))
            _tick(w, clock)
        escalations = [s for s in _subjects(w) if "breached" in s]
        summaries = [s for s in _subjects(w) if "still open past their due time" in s]
        assert len(escalations) == 2 and len(summaries) == 2
        assert sorted(w.recipients()[2:]) == [
            "head@school.example",
            "head@school.example",
            "j.smith@school.example",
            "j.smith@school.example",
        ]
        clock.set(datetime(2026, 11, 25, 8, 5, tzinfo=UTC))  # the next morning: one more summary
        _tick(w, clock)
        assert len(w.smtp.messages) == 8


def test_the_schools_reply_in_the_thread_closes_the_window_and_cancels_its_reminder(
    tmp_path: Path, database_url: str
) -> None:
    clock = Clock(MONDAY_9)
    with world(tmp_path, database_url) as w:
        _own_account(w)
        w.serve(QUERY)
        _run(w, clock)
        clock.set(datetime(2026, 11, 24, 4, 1, tzinfo=UTC))
        service = Service(w.config, clock=clock)
        service.prepare()
        service.reply_clock.tick()  # the reminder is queued...
        service.stop()
        w.raw["schools"][0]["sources"][0]["by_school_authors"] = ["Parent 1"]
        w.serve(QUERY, REPLY)  # ...and the school's reply is seen before it goes out
        service = _run(w, clock)
        [window] = _windows(service)
        assert (window.status, window.closed_by) == ("answered", "reply seen on blog")
        assert window.first_reply_at == datetime(2026, 11, 23, 8, 1, tzinfo=UTC)
        with service.db.session() as session:
            reminder = session.scalars(
                select(models.OutboxMessage).where(models.OutboxMessage.kind == "reminder")
            ).one()
        assert reminder.status == "cancelled"
        assert len(w.smtp.messages) == 1


def test_respond_and_dismiss_close_windows_from_the_command_line(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with world(tmp_path, database_url) as w:
        _own_account(w)
        w.serve(QUERY, ("q2", "Is there an after-school club on Friday?"), PRAISE)
        service = _run(w, Clock(MONDAY_9))
        first, second = sorted(w.item_id for w in _windows(service))
        with service.db.session() as session:
            (praise,) = set(session.scalars(select(models.Item.id))) - {first, second}
        config = ["--config", str(w.config_path)]
        assert main([*config, "status"]) == 0
        assert f"item {first} (st-marys, blog): " in capsys.readouterr().out
        assert main([*config, "respond", str(first), "--note", "rang the parent"]) == 0
        assert "closed as answered" in capsys.readouterr().out
        assert main([*config, "respond", str(first)]) == 1
        assert "already closed (answered" in capsys.readouterr().err
        assert main([*config, "dismiss", str(second), "--reason", "answered in class"]) == 0
        assert main([*config, "dismiss", "999", "--reason", "x"]) == 1
        assert "item 999 does not exist" in capsys.readouterr().err
        assert main([*config, "respond", str(praise)]) == 1
        assert f"item {praise} has no reply window (it needs no reply)" in capsys.readouterr().err
        by_item = {w.item_id: w for w in _windows(service)}
        assert by_item[first].first_reply_at is not None
        assert (by_item[second].status, by_item[second].close_note) == (
            "dismissed",
            "answered in class",
        )
        assert by_item[second].first_reply_at is None


def test_status_lists_open_windows_with_time_left(tmp_path: Path, database_url: str) -> None:
    with world(tmp_path, database_url) as w:
        _own_account(w)
        w.serve(QUERY)
        service = _run(w, Clock(MONDAY_9))
        text = render(collect(service.db, w.config), "Europe/London", MONDAY_9)
        assert "Open reply windows: 1" in text
        assert "23 h 00 min left, due Tue 24 Nov 08:00" in text
        late = render(
            collect(service.db, w.config),
            "Europe/London",
            datetime(2026, 11, 24, 9, 30, tzinfo=UTC),
        )
        assert "OVERDUE by 1 h 30 min" in late


def _token(w: World) -> str:
    text = w.smtp.messages[0][1].get_body(("plain",)).get_content()
    match = re.search(r"I have replied: \S+/w/(\S+)", text)
    assert match is not None
    return match.group(1)


def test_the_one_click_link_asks_first_closes_once_and_refuses_tampering(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="monitor.web.one_click")
    with world(tmp_path, database_url) as w:
        _own_account(w)
        w.serve(("q1", "Could you reply? <script>alert(1)</script>"))
        service = _run(w, Clock(MONDAY_9))
        token = _token(w)
        web = WebServer(WindowLinks(service.db, service.signer), "127.0.0.1:0")
        web.start()
        try:
            base = f"http://{web.address}/w/"
            page = httpx.get(base + token + "?utm_source=outlook&utm_medium=email")
            assert page.status_code == 200 and '<form method="post"' in page.text
            assert page.headers["X-Frame-Options"] == "DENY"
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
            assert "&lt;script&gt;" in page.text and "<script>" not in page.text
            assert _windows(service)[0].status == "open"  # a mail scanner's GET changes nothing
            done = httpx.post(base + token)
            assert done.status_code == 200 and "I have replied" in done.text
            assert httpx.post(base + token).status_code == 409
            tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
            assert httpx.post(base + tampered).status_code == 400
            assert httpx.get(f"http://{web.address}/healthz").text == "ok"
        finally:
            web.stop()
        assert token not in caplog.text and "/w/<token>" in caplog.text  # even at DEBUG
        [window] = _windows(service)
        assert (window.status, window.closed_by) == ("answered", "one-click link")


def test_a_link_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = LinkSigner("secret", max_age_days=1)
    token = signer.token(7, "dismissed")
    assert signer.read(token).window_id == 7
    later = datetime.now(UTC).timestamp() + 2 * 86400
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    with pytest.raises(LinkError, match="expired"):
        signer.read(token)
    with pytest.raises(LinkError, match="not valid"):
        LinkSigner("another secret", 1).read(token)


def test_listening_on_every_interface_without_tls_is_warned_about(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    links = WindowLinks(Database(database_url), LinkSigner("s", max_age_days=1))
    web = WebServer(links, "0.0.0.0:0")
    web.start()
    web.stop()
    assert "listen on every interface without TLS" in caplog.text
    assert "service.public_url" in caplog.text


def _plain(message: EmailMessage) -> str:
    return str(message.get_body(("plain",)).get_content())


def test_the_alert_says_when_the_reply_is_due_and_how_long_is_left(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        _own_account(w)
        w.serve(QUERY)
        _run(w, Clock(MONDAY_9))
        (message,) = w.messages_to("j.smith@school.example")
        due = "Reply by Tue 24 Nov, 08:00 (London time) — 23 h 00 min left"
        assert due in _plain(message)
        assert due in str(message.get_body(("html",)).get_content())


def test_reminders_say_how_long_is_left_and_breaches_by_how_much_it_was_missed(
    tmp_path: Path, database_url: str
) -> None:
    clock = Clock(MONDAY_9)
    with world(tmp_path, database_url) as w:
        _own_account(w)
        w.serve(QUERY)
        _run(w, clock)
        clock.set(datetime(2026, 11, 24, 4, 1, tzinfo=UTC))
        _tick(w, clock)
        reminder = _plain(w.smtp.messages[-1][1])
        assert "Reply by Tue 24 Nov, 08:00 (London time) — 3 h 59 min left" in reminder
        clock.set(datetime(2026, 11, 24, 8, 20, tzinfo=UTC))
        _tick(w, clock)
        breaches = [_plain(m) for _, m in w.smtp.messages if "breached" in str(m["Subject"])]
        assert breaches and all(
            "Reply was due Tue 24 Nov, 08:00 (London time) — missed by 0 h 20 min" in text
            for text in breaches
        )


ANSWERED = "Already answered by Parent 1 at 08:01 on Mon 23 Nov (London time)"


def test_a_reply_seen_in_the_same_poll_is_never_asked_for(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        _own_account(w)
        w.raw["schools"][0]["sources"][0]["by_school_authors"] = ["Parent 1"]
        w.serve(QUERY, REPLY)
        _run(w, Clock(MONDAY_9))
        (message,) = w.messages_to("j.smith@school.example")
        text = _plain(message)
        assert ANSWERED in text
        assert "I have replied" not in text and "No reply needed:" not in text
        assert "Reply by" not in text and "Reply on the platform" not in text


def test_whether_a_reply_is_still_owed_is_decided_when_the_alert_is_sent(
    tmp_path: Path, database_url: str
) -> None:
    clock = Clock(MONDAY_9)
    with world(tmp_path, database_url) as w:
        _own_account(w)
        w.serve(QUERY)
        service = Service(w.config, clock=clock)
        service.prepare()
        service.pipeline.poll("blog")
        service.pipeline.assess_pending()  # the alert is queued while the window is open
        service.stop()
        w.raw["schools"][0]["sources"][0]["by_school_authors"] = ["Parent 1"]
        w.serve(QUERY, REPLY)  # the school's reply arrives before the dispatcher runs
        clock.set(MONDAY_9.replace(minute=1))
        service = Service(w.config, clock=clock)
        service.prepare()
        service.pipeline.poll("blog")
        service.pipeline.assess_pending()
        service.dispatcher.run_once()
        service.stop()
        (message,) = w.messages_to("j.smith@school.example")
        text = _plain(message)
        assert ANSWERED in text and "I have replied" not in text and "Reply by" not in text
        assert ANSWERED in str(message.get_body(("html",)).get_content())
