"""The outbox and dispatcher: delivered once, retried with backoff, never dropped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import tomli_w
from sqlalchemy import select

from alerts.base import Alert, Recipient
from monitor.delivery.channels import ChannelCache
from monitor.delivery.dispatcher import Dispatcher
from monitor.delivery.journal import SentJournal
from monitor.delivery.outbox import enqueue
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config
from tests.support.clock import Clock
from tests.support.world import World, world

THREAT = ("t1", "I will stab you after school")
LEASE = 10  # alerts.lease_seconds, its smallest allowed value


def _dispatcher(w: World, db: Database, clock: Clock) -> Dispatcher:
    journal = SentJournal(w.state_dir / "sent-journal.tsv")
    return Dispatcher(db, w.config, ChannelCache().get, journal, clock=clock)


def _queue(w: World, db: Database, *recipients: str, severity: str = "high") -> None:
    with db.session() as session:
        sync_config(session, w.config)
    with db.session() as session:
        for address in recipients:
            alert = Alert(
                kind="item",
                school_name="St Mary's",
                severity=severity,
                headline=f"test for {address}",
            )
            enqueue(
                session,
                school_id="st-marys",
                item_id=None,
                kind="item",
                channel="email",
                recipient=Recipient(address, address),
                severity=severity,
                alert=alert,
                key=f"test:{address}",
            )


def _rows(db: Database) -> list[models.OutboxMessage]:
    with db.session() as session:
        return list(session.scalars(select(models.OutboxMessage).order_by(models.OutboxMessage.id)))


def test_a_delivered_alert_stores_its_result_and_is_never_sent_again(
    tmp_path: Path, db: Database
) -> None:
    clock = Clock()
    with world(tmp_path, db.url) as w:
        _queue(w, db, "dsl@school.example")
        assert _dispatcher(w, db, clock).run_once().delivered == 1
        clock.advance(3600)
        assert _dispatcher(w, db, clock).run_once().delivered == 0
        assert len(w.smtp.messages) == 1
        row = _rows(db)[0]
        assert (row.status, row.attempts) == ("delivered", 1)
        assert row.provider_message_id == w.smtp.messages[0][1]["Message-ID"]


def test_enqueue_refuses_a_key_already_owed(tmp_path: Path, db: Database) -> None:
    with world(tmp_path, db.url) as w:
        _queue(w, db, "dsl@school.example")
        _queue(w, db, "dsl@school.example")
        assert len(_rows(db)) == 1


def test_a_temporary_failure_is_retried_with_growing_delays_then_delivered(
    tmp_path: Path, db: Database
) -> None:
    clock = Clock()
    with world(tmp_path, db.url) as w:
        w.raw["alerts"].update(max_attempts=5, backoff_initial_seconds=60, backoff_max_seconds=600)
        _queue(w, db, "dsl@school.example")
        w.smtp.fail_with = "451 4.3.0 try again later"
        dispatcher = _dispatcher(w, db, clock)
        delays = []
        for _ in range(2):
            assert dispatcher.run_once().retried == 1
            row = _rows(db)[0]
            delays.append((row.next_attempt_at - clock.now).total_seconds())
            assert dispatcher.run_once().retried == 0  # not due yet
            clock.advance(delays[-1] + 1)
        assert 54 <= delays[0] <= 66 and 108 <= delays[1] <= 132
        w.smtp.fail_with = None
        assert dispatcher.run_once().delivered == 1
        row = _rows(db)[0]
        assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
        assert len(w.smtp.messages) == 1


def test_when_every_attempt_fails_the_alert_goes_to_the_fallback_channel(
    tmp_path: Path, db: Database
) -> None:
    clock = Clock()
    with world(tmp_path, db.url) as w:
        _queue(w, db, "dsl@school.example")
        w.smtp.fail_with = "451 4.3.0 try again later"
        dispatcher = _dispatcher(w, db, clock)
        for _ in range(3):
            dispatcher.run_once()
            clock.advance(3600)
        dispatcher.run_once()
        original, fallback = _rows(db)
        assert (original.status, original.attempts) == ("failed", 3)
        assert "451" in (original.last_error or "")
        assert (fallback.channel, fallback.recipient, fallback.status) == (
            "backup",
            "dsl@school.example",
            "delivered",
        )
        assert fallback.fallback_of == original.id
        assert len(list((tmp_path / "mail" / "new").iterdir())) == 1


def test_a_permanent_refusal_falls_back_at_once(tmp_path: Path, db: Database) -> None:
    with world(tmp_path, db.url) as w:
        _queue(w, db, "nobody@school.example")
        w.smtp.refuse_recipients_with = "550 5.1.1 no such user"
        _dispatcher(w, db, Clock()).run_once()
        original, fallback = _rows(db)
        assert (original.status, original.attempts) == ("failed", 1)
        assert fallback.status == "delivered"


def test_the_most_severe_alerts_are_delivered_first(tmp_path: Path, db: Database) -> None:
    with world(tmp_path, db.url) as w:
        _queue(w, db, "lead@school.example", severity="low")
        _queue(w, db, "dsl@school.example", severity="critical")
        _dispatcher(w, db, Clock()).run_once()
        assert w.recipients() == ["dsl@school.example", "lead@school.example"]


def test_an_interrupted_send_found_in_the_journal_is_not_sent_again(
    tmp_path: Path, db: Database
) -> None:
    clock = Clock()
    with world(tmp_path, db.url) as w:
        _queue(w, db, "dsl@school.example")
        journal = SentJournal(w.state_dir / "sent-journal.tsv")
        with db.session() as session:  # as a crash after send and before mark leaves it
            row = session.scalars(select(models.OutboxMessage)).one()
            row.status, row.attempts, row.claimed_until = "sending", 1, clock.now
        journal.record("test:dsl@school.example", "<id@school.example>")
        clock.advance(1)
        report = _dispatcher(w, db, clock).run_once()
        assert report.reconciled == 1 and report.delivered == 0
        assert w.smtp.messages == []
        assert _rows(db)[0].status == "delivered"


def test_an_interrupted_send_the_journal_does_not_know_is_sent_again(
    tmp_path: Path, db: Database
) -> None:
    clock = Clock()
    with world(tmp_path, db.url) as w:
        _queue(w, db, "dsl@school.example")
        with db.session() as session:  # a crash after claiming, before the provider answered
            row = session.scalars(select(models.OutboxMessage)).one()
            row.status, row.attempts, row.claimed_until = "sending", 1, clock.now
        clock.advance(1)
        report = _dispatcher(w, db, clock).run_once()
        assert (report.reconciled, report.delivered) == (1, 1)
        assert w.recipients() == ["dsl@school.example"]


def test_the_journal_forgets_what_the_database_has_settled(tmp_path: Path, db: Database) -> None:
    with world(tmp_path, db.url) as w:
        _queue(w, db, "dsl@school.example")
        dispatcher = _dispatcher(w, db, Clock())
        dispatcher.run_once()
        assert dispatcher.journal.lookup("test:dsl@school.example") is not None
        dispatcher.prune_journal()
        assert dispatcher.journal.lookup("test:dsl@school.example") is None


def _run(w: World, *args: str, failpoint: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ORM_MONITOR_FAILPOINT"}
    if failpoint:
        env["ORM_MONITOR_FAILPOINT"] = failpoint
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(w.config_path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_dispatcher_killed_between_send_and_mark_sends_exactly_once_after_restart(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.raw["alerts"]["lease_seconds"] = LEASE
        w.config_path.write_text(tomli_w.dumps(w.raw), encoding="utf-8")
        w.serve(THREAT)
        crashed = _run(w, "run", "--once", failpoint="dispatch-after-send")
        assert crashed.returncode == 70, crashed.stderr
        assert len(w.smtp.messages) == 1  # the first alert went out, then the process died
        # Its claims stand until their lease runs out: a live dispatcher could still hold them.
        assert "interruption" not in _run(w, "run", "--once").stderr
        assert len(w.smtp.messages) == 1
        time.sleep(LEASE + 0.5)
        restarted = _run(w, "run", "--once")
        assert restarted.returncode == 0, restarted.stderr
        assert sorted(w.recipients()) == [
            "deputy@school.example",
            "dsl@school.example",
            "head@school.example",
        ]
        assert "delivered before the interruption (confirmed by the journal)" in restarted.stderr
        db = Database(database_url)
        assert {row.status for row in _rows(db)} == {"delivered"}
        db.dispose()
