"""End to end: a feed entry on a real HTTP server becomes an email in a real SMTP server."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors import default_registry
from monitor.cli.app import main
from monitor.flow.pipeline import Pipeline
from monitor.storage import models
from monitor.storage.engine import Database
from tests.support.http import Reply
from tests.support.world import FEED_PATH, world

THREAT = ("t1", "Mrs Patel better watch her back, I will stab her after school")
QUERY = ("q1", "Could you tell me what time the Year 4 trip gets back?")
PRAISE = ("p1", "Thank you to all the staff, what an amazing sports day!")
HOSTILE = ("h1", "I will kill you <script>alert(1)</script> {{DATE(2026-01-01)}} **bold**")


def _count(db: Database, table: type[models.Base]) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_a_threat_reaches_the_dsls_and_slt_and_a_query_reaches_the_lead(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(THREAT, QUERY, PRAISE)
        service = w.service()
        service.run_once()
        service.stop()
        assert sorted(w.recipients()) == [
            "deputy@school.example",
            "dsl@school.example",
            "head@school.example",
            "j.smith@school.example",
        ]
        to_dsl = w.messages_to("dsl@school.example")[0]["Subject"]
        to_lead = w.messages_to("j.smith@school.example")[0]["Subject"]
        assert to_dsl.startswith("[CRITICAL]") and "threat" in to_dsl
        assert "query" in to_lead and "threat" not in to_lead.lower()


def test_post_text_is_escaped_in_the_email_the_dsl_receives(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(HOSTILE)
        service = w.service()
        service.run_once()
        service.stop()
        message = w.messages_to("dsl@school.example")[0]
        html = message.get_body(("html",)).get_content()
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "{{DATE(2026-01-01)}}" in message.get_body(("plain",)).get_content()


def test_the_same_feed_polled_twice_stores_and_alerts_each_entry_once(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(THREAT, QUERY)
        for _ in range(2):
            service = w.service()
            service.run_once()
            service.stop()
        assert _count(service.db, models.Item) == 2
        assert _count(service.db, models.ItemVersion) == 2
        assert len(w.smtp.messages) == 4


def test_the_cursor_is_saved_with_the_items_and_sent_back(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.feeds.route(
            "GET",
            FEED_PATH,
            [
                Reply(
                    200,
                    "<rss version='2.0'><channel><title>t</title><item><guid>g1</guid>"
                    "<description>hello</description></item></channel></rss>",
                    {"ETag": '"v1"'},
                ),
                Reply(304),
            ],
        )
        service = w.service()
        service.prepare()
        first = service.pipeline.poll("blog")
        second = service.pipeline.poll("blog")
        service.stop()
        assert first.counts.new == 1 and second.not_modified
        assert w.feeds.requests_to(FEED_PATH)[1].headers["if-none-match"] == '"v1"'
        with service.db.session() as session:
            state = session.get_one(models.ConnectorState, "blog")
            assert state.cursor["etag"] == '"v1"' and state.last_success_at is not None


def test_items_stored_before_a_crash_are_classified_and_alerted_after_it(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(THREAT)
        service = w.service()
        service.prepare()
        service.pipeline.poll("blog")  # the process dies here, before classifying
        service.stop()
        assert _count(service.db, models.Assessment) == 0
        restarted = w.service()
        restarted.run_once()
        restarted.stop()
        assert _count(restarted.db, models.Assessment) == 1
        assert len(w.smtp.messages) == 3


def test_an_edit_alerts_again_only_for_labels_it_adds(tmp_path: Path, database_url: str) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(("c1", "Could you tell me when the trip gets back?"))
        service = w.service()
        service.run_once()
        w.serve(("c1", "Could you tell me when the trip gets back? I will stab you"))
        service.run_once()
        service.stop()
        assert sorted(w.recipients()) == [
            "deputy@school.example",
            "dsl@school.example",
            "head@school.example",
            "j.smith@school.example",
        ]
        assert _count(service.db, models.ItemVersion) == 2


def test_the_schools_own_replies_alert_nobody(tmp_path: Path, database_url: str) -> None:
    with world(tmp_path, database_url) as w:
        w.raw["schools"][0]["sources"][0]["by_school_authors"] = ["Parent 0"]
        w.serve(("own", "Could you all reply by Friday please?"))
        service = w.service()
        service.run_once()
        service.stop()
        assert w.smtp.messages == []
        assert _count(service.db, models.Assessment) == 1


def test_a_failing_source_backs_off_logs_once_and_logs_recovery_once(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with world(tmp_path, database_url) as w:
        w.feeds.route(
            "GET",
            FEED_PATH,
            [
                Reply(500),
                Reply(500),
                Reply(200, "<rss version='2.0'><channel><title>t</title></channel></rss>"),
            ],
        )
        service = w.service()
        service.prepare()
        delays = []
        for _ in range(3):
            service.pipeline.poll("blog")
            with service.db.session() as session:
                state = session.get_one(models.ConnectorState, "blog")
                delays.append((state.next_poll_at - state.last_poll_at).total_seconds())
        service.stop()
        assert delays[1] > delays[0] * 1.5
        warnings = [
            r
            for r in caplog.records
            if "source blog" in r.getMessage() and r.levelno == logging.WARNING
        ]
        assert len(warnings) == 1
        assert sum("recovered after 2 failed" in r.getMessage() for r in caplog.records) == 1


def test_refused_credentials_stop_the_source_and_tell_the_it_lead_once(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.feeds.route("GET", FEED_PATH, Reply(401))
        service = w.service()
        service.run_once()
        service.run_once()
        service.stop()
        assert w.recipients() == ["head@school.example"]
        assert "credentials were refused" in w.smtp.messages[0][1]["Subject"]
        with service.db.session() as session:
            assert session.get_one(models.ConnectorState, "blog").auth_failed


def test_poll_dry_run_prints_labels_and_stores_nothing(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(THREAT, PRAISE)
        assert main(["--config", str(w.config_path), "poll", "blog", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "2 item(s) fetched (dry run: nothing stored)" in out
        assert "[critical]" in out and "threat" in out and "Anita Patel" in out
        db = Database(database_url)
        assert _count(db, models.Item) == 0
        db.dispose()


def test_poll_stores_and_classifies_without_sending(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(THREAT, PRAISE)
        assert main(["--config", str(w.config_path), "poll", "blog"]) == 0
        out = capsys.readouterr().out
        assert "2 new, 0 edited, 0 unchanged; 2 classified" in out
        assert "- [critical] threat → Anita Patel, Ben Jones, Rob Hughes" in out
        assert "- [info] praise → nobody" in out
        assert w.smtp.messages == []
        db = Database(database_url)
        assert _count(db, models.OutboxMessage) == 3
        db.dispose()


def test_poll_of_an_unknown_source_names_the_configured_ones(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with world(tmp_path, database_url) as w:
        assert main(["--config", str(w.config_path), "poll", "facebook"]) == 1
        assert "no source 'facebook' in the config (configured: blog)" in capsys.readouterr().err


def test_a_connector_bug_marks_the_source_failed_without_stopping_the_pipeline(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(THREAT)
        service = w.service()
        service.prepare()
        pipeline = Pipeline(service.db, w.config, default_registry())
        pipeline.connector("blog").fetch = lambda state: 1 / 0  # type: ignore[method-assign]
        outcome = pipeline.poll("blog")
        service.stop()
        assert outcome.error is not None and "ZeroDivisionError" in outcome.error
