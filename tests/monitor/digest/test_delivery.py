"""Delivery: Monday 07:00 through the outbox, once, with a missed digest sent on start."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import select

from monitor.cli.app import main
from monitor.config.schema import OrmConfig
from monitor.delivery.channels import ChannelCache
from monitor.delivery.dispatcher import Dispatcher
from monitor.delivery.journal import SentJournal
from monitor.digest.delivery import DigestJob
from monitor.service.daemon import Service
from monitor.storage import models
from monitor.storage.engine import Database
from tests.support.clock import Clock
from tests.support.digest_week import NOW, populate, school_config

SPAN = "16\u201322 Nov 2026"


def digest_mails(mail_dir: Path) -> list[EmailMessage]:
    """Digest emails written to the maildir (alerts about items are left out)."""
    found = []
    for path in sorted((mail_dir / "new").glob("*")) if (mail_dir / "new").exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["Subject"]).startswith("Weekly ORM digest"):
            found.append(message)
    return found


def deliver(db: Database, config: OrmConfig, clock: Clock) -> int:
    channels = ChannelCache()
    journal = SentJournal(Path(config.service.state_dir) / "sent-journal.tsv")
    report = Dispatcher(db, config, channels.get, journal, clock=clock).run_once()
    return report.delivered


def digests(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        rows = session.execute(select(models.Digest.scope, models.Digest.week)).all()
    return sorted((row.scope, row.week) for row in rows)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> OrmConfig:
    return school_config(database_url, tmp_path)


def test_at_monday_seven_slt_get_one_email_with_charts_inline_and_the_pdf(
    db: Database, config: OrmConfig, tmp_path: Path
) -> None:
    populate(db, config)
    clock = Clock(NOW)
    assert DigestJob(db, config, clock=clock).run() == 1
    assert deliver(db, config, clock) == 1  # SLT is Rob Hughes alone
    (mail,) = digest_mails(tmp_path / "mail")
    assert mail["To"] == "Rob Hughes <head@school.example>"
    assert mail["Subject"] == f"Weekly ORM digest: St Mary's C of E Primary School, {SPAN}"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    assert "Replied in time</p>" in html.get_content()
    assert "3 of 5</p>" in html.get_content()
    related = [part for part in mail.walk() if part.get_content_type() == "image/png"]
    assert {str(p["Content-ID"]) for p in related} == {
        "<chart-volume-0@orm-monitor>",
        "<chart-sentiment-0@orm-monitor>",
    }
    (pdf,) = [a for a in mail.iter_attachments() if a.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "orm-digest-st-marys-2026-W47.pdf"
    assert pdf.get_content().startswith(b"%PDF-")
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None and "Time to first reply: median 2 h 00 min" in text.get_content()


def test_the_digest_is_sent_once_however_often_the_job_runs_or_the_service_restarts(
    db: Database, config: OrmConfig, tmp_path: Path
) -> None:
    populate(db, config)
    clock = Clock(NOW)
    assert DigestJob(db, config, clock=clock).run() == 1
    deliver(db, config, clock)
    for _ in range(3):
        clock.advance(hours=1)
        assert DigestJob(db, config, clock=clock).run() == 0  # a new job: as after a restart
        assert deliver(db, config, clock) == 0
    assert len(digest_mails(tmp_path / "mail")) == 1
    assert digests(db) == [("st-marys", "2026-W47")]


def test_before_monday_seven_the_newest_due_digest_is_the_week_before(
    db: Database, config: OrmConfig
) -> None:
    populate(db, config)
    clock = Clock(NOW - timedelta(minutes=1))
    DigestJob(db, config, clock=clock).run()
    assert digests(db) == [("st-marys", "2026-W46")]
    clock.set(NOW)
    DigestJob(db, config, clock=clock).run()
    assert digests(db) == [("st-marys", "2026-W46"), ("st-marys", "2026-W47")]


def test_a_digest_missed_while_the_service_was_down_is_sent_when_it_starts(
    db: Database, config: OrmConfig, tmp_path: Path
) -> None:
    populate(db, config)
    clock = Clock(NOW + timedelta(days=1, hours=3))  # the server was off until Tuesday 10:00
    service = Service(config, clock=clock)
    service.run_once()
    service.stop()
    (mail,) = digest_mails(tmp_path / "mail")
    assert SPAN in str(mail["Subject"])
    restarted = Service(config, clock=clock)
    restarted.run_once()
    restarted.stop()
    assert len(digest_mails(tmp_path / "mail")) == 1


def test_a_school_added_after_the_send_time_gets_no_digest_for_weeks_it_was_not_watched(
    db: Database, config: OrmConfig
) -> None:
    populate(db, config)
    with db.session() as session:
        session.get_one(models.School, "st-marys").created_at = NOW + timedelta(hours=1)
    assert DigestJob(db, config, clock=Clock(NOW + timedelta(hours=2))).run() == 0
    assert digests(db) == []


def test_the_send_day_and_time_are_configurable_and_a_disabled_digest_never_goes(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    friday = school_config(database_url, tmp_path, digest={"weekday": "friday", "send_at": "16:30"})
    populate(db, friday)
    clock = Clock(NOW + timedelta(days=4, hours=9, minutes=29))  # Friday 16:29
    assert DigestJob(db, friday, clock=clock).run() == 1
    assert digests(db) == [("st-marys", "2026-W46")]
    clock.advance(60)
    assert DigestJob(db, friday, clock=clock).run() == 1
    off = school_config(database_url, tmp_path, digest={"enabled": False})
    clock.advance(hours=24 * 7)
    assert DigestJob(db, off, clock=clock).run() == 0


def test_teams_channels_get_a_short_card_with_the_headline_figures(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    config = school_config(
        database_url,
        tmp_path,
        channels={
            "mail": {"type": "maildir", "path": str(tmp_path / "mail")},
            "slt-team": {"type": "teams", "webhook_url_credential": "SLT_WEBHOOK"},
        },
        email_channel="mail",
        digest={"teams": ["slt-team"]},
    )
    populate(db, config)
    DigestJob(db, config, clock=Clock(NOW)).run()
    with db.session() as session:
        card = session.scalars(
            select(models.OutboxMessage).where(models.OutboxMessage.channel == "slt-team")
        ).one()
    assert card.kind == "digest"
    assert card.payload["headline"] == f"Weekly ORM digest, {SPAN}"
    assert card.payload["summary"].startswith(
        "Items: 12 (+4 on last week); Flagged high/critical: 2 (2 critical, 0 high"
    )
    assert card.payload["digest_id"] is None  # a card, not the email with its PDF


def write_config(config: OrmConfig, path: Path) -> Path:
    path.write_text(tomli_w.dumps(config.model_dump(mode="json", exclude_none=True)))
    return path


def test_the_digest_command_writes_pdf_html_or_text_for_any_week(
    db: Database, config: OrmConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(db, config)
    path = write_config(config, tmp_path / "config.toml")
    for name in ("w47.pdf", "w47.html", "w47.txt"):
        out = tmp_path / name
        assert main(["--config", str(path), "digest", "--week", "2026-W47", "--out", str(out)]) == 0
        assert f"wrote {out}" in capsys.readouterr().out
    assert (tmp_path / "w47.pdf").read_bytes().startswith(b"%PDF-")
    assert "data:image/png;base64," in (tmp_path / "w47.html").read_text()
    assert "Items: 12 (+4 on last week)" in (tmp_path / "w47.txt").read_text()
    assert main(["--config", str(path), "digest", "--week", "2026-W47"]) == 0
    assert "WEEKLY ORM DIGEST" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--week", "2026-47"], "is not an ISO week; write it like 2026-W47"),
        (["--week", "2026-W54"], "2026 has no week 54"),
        (["--out", "digest.docx"], "name a .pdf, .html or .txt file"),
        (["--school", "nowhere"], "no school 'nowhere' in the config"),
    ],
)
def test_the_digest_command_explains_a_wrong_argument_in_one_line(
    config: OrmConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    path = write_config(config, tmp_path / "config.toml")
    assert main(["--config", str(path), "digest", *arguments]) == 1
    error = capsys.readouterr().err
    assert message in error
    assert len(error.strip().splitlines()) == 1


def test_digest_send_delivers_now_and_never_twice(
    db: Database, config: OrmConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(db, config)
    path = write_config(config, tmp_path / "config.toml")
    command = ["--config", str(path), "digest", "--week", "2026-W47", "--send"]
    assert main(command) == 0
    assert "queued for 1 recipient(s); delivered 1" in capsys.readouterr().out
    assert main(command) == 0
    assert "was already sent" in capsys.readouterr().out
    assert len(digest_mails(tmp_path / "mail")) == 1


def test_closing_an_incident_records_who_and_why_for_the_next_digest(
    db: Database, config: OrmConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(db, config)
    path = write_config(config, tmp_path / "config.toml")
    with db.session() as session:
        open_one = session.scalars(
            select(models.Incident.id).where(models.Incident.status == "open")
        ).one()
    close = ["--config", str(path), "incident", "close", str(open_one), "--note", "Police informed"]
    assert main([*close, "--by", "apatel"]) == 0
    assert f"incident {open_one} closed" in capsys.readouterr().out
    assert main([*close, "--by", "apatel"]) == 1
    assert "already closed" in capsys.readouterr().err
    with db.session() as session:
        entry = session.scalars(
            select(models.AuditEntry).where(models.AuditEntry.action == "incident.closed")
        ).all()[-1]
    assert (entry.actor, entry.detail["note"]) == ("apatel", "Police informed")
