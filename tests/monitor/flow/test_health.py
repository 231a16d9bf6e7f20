"""Source outages: every stretch a source could not be seen is recorded, with its kind and reason.

The digest reads these rows so that a blind week is never reported as a quiet one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors import default_registry
from connectors.base import (
    AuthError,
    ConnectorError,
    PermanentError,
    RateLimited,
    RetriableError,
    SourceUnavailable,
    SourceWarning,
)
from monitor.config.schema import OrmConfig
from monitor.flow import health
from monitor.flow.pipeline import Pipeline
from monitor.service.daemon import Service
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config
from tests.support.clock import Clock
from tests.support.config import build, raw_config, rss_source
from tests.support.http import Reply, local_server
from tests.support.world import FEED_PATH, rss_feed

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
BUDGET_SPENT = SourceWarning(
    key="budget-spent:2026-11",
    message="X read budget spent: 10,000 of 10,000 posts (~$50.00) in 2026-11",
    fix="wait for next month, or raise monthly_read_budget to resume now",
    blind=True,
)
TOKEN_EXPIRING = SourceWarning(
    key="token-expiry:2026-12-01",
    message="the page token expires on 1 December",
    fix="renew the token",
)


def _config(db: Database, *sources: dict[str, Any], **school: Any) -> OrmConfig:
    sources_list = list(sources) or [
        rss_source("https://school.example/feed", "blog"),
        rss_source("https://school.example/news", "news"),
    ]
    return build(raw_config(database_url=db.url, sources=sources_list, **school))


@pytest.fixture
def config(db: Database) -> OrmConfig:
    """One school with two RSS sources, written to the schools and accounts tables."""
    config = _config(db)
    with db.session() as session:
        sync_config(session, config)
    return config


def _outages(db: Database, source_id: str = "blog") -> list[models.SourceOutage]:
    with db.session() as session:
        return list(
            session.scalars(
                select(models.SourceOutage)
                .where(models.SourceOutage.source_id == source_id)
                .order_by(models.SourceOutage.id)
            )
        )


def _fail(
    db: Database, config: OrmConfig, error: Exception, at: datetime, source: str = "blog"
) -> str:
    school, source_config = config.source(source)
    with db.session() as session:
        return health.failed(session, school, source_config, error, at)


def _succeed(
    db: Database,
    config: OrmConfig,
    at: datetime,
    warnings: tuple[SourceWarning, ...] = (),
    source: str = "blog",
) -> None:
    _, source_config = config.source(source)
    with db.session() as session:
        health.succeeded(session, source_config, {"seen": "x"}, at, warnings=warnings)


def _spans(db: Database, source_id: str = "blog") -> list[tuple[str, datetime, datetime | None]]:
    return [(o.kind, o.started_at, o.ended_at) for o in _outages(db, source_id)]


# What kind of blindness an error means


@pytest.mark.parametrize(
    "error, kind",
    [
        (AuthError("token revoked"), "auth"),
        (RateLimited("HTTP 429", retry_at=NOW + HOUR), "rate_limited"),
        (SourceUnavailable("HTTP 503: a server error"), "unavailable"),
        (RetriableError("timed out"), "unavailable"),
        (PermanentError("HTTP 404: no feed at this address"), "rejected"),
        (ConnectorError("something the connector could not name"), "error"),
        (ZeroDivisionError("division by zero"), "error"),
    ],
)
def test_each_error_is_recorded_as_its_kind_of_outage(
    db: Database, config: OrmConfig, error: Exception, kind: str
) -> None:
    assert health.outage_kind(error) == kind
    _fail(db, config, error, NOW)
    (outage,) = _outages(db)
    assert (outage.kind, outage.started_at, outage.ended_at) == (kind, NOW, None)


# Failures


def test_a_failed_poll_opens_an_outage_with_the_one_line_error(
    db: Database, config: OrmConfig
) -> None:
    error = SourceUnavailable("https://school.example/feed answered HTTP 503: a server error")
    message = _fail(db, config, error, NOW)

    (outage,) = _outages(db)
    assert outage.reason == message == error.one_line()
    assert "HTTP 503" in outage.reason and "(fix: " in outage.reason
    assert _outages(db, "news") == []


def test_a_connector_bug_is_an_error_outage_naming_the_bug(db: Database, config: OrmConfig) -> None:
    _fail(db, config, KeyError("entries"), NOW)
    (outage,) = _outages(db)
    assert outage.kind == "error"
    assert outage.reason == "bug: KeyError('entries')"


def test_repeated_failures_of_one_kind_keep_one_open_outage_with_the_latest_reason(
    db: Database, config: OrmConfig
) -> None:
    _fail(db, config, SourceUnavailable("HTTP 502: a server error"), NOW)
    _fail(db, config, SourceUnavailable("timed out after 20s"), NOW + HOUR)
    _fail(db, config, RetriableError("connection reset"), NOW + 2 * HOUR)

    (outage,) = _outages(db)
    assert (outage.kind, outage.started_at, outage.ended_at) == ("unavailable", NOW, None)
    assert outage.reason.startswith("connection reset")


def test_a_failure_of_another_kind_closes_the_outage_and_opens_a_new_one(
    db: Database, config: OrmConfig
) -> None:
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW)
    _fail(db, config, AuthError("HTTP 401: access denied"), NOW + HOUR)

    assert _spans(db) == [("unavailable", NOW, NOW + HOUR), ("auth", NOW + HOUR, None)]
    assert _outages(db)[1].reason.startswith("HTTP 401: access denied")


def test_kinds_may_alternate_and_each_change_is_a_new_outage(
    db: Database, config: OrmConfig
) -> None:
    _fail(db, config, RateLimited("HTTP 429"), NOW)
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW + HOUR)
    _fail(db, config, RateLimited("HTTP 429"), NOW + 2 * HOUR)

    assert _spans(db) == [
        ("rate_limited", NOW, NOW + HOUR),
        ("unavailable", NOW + HOUR, NOW + 2 * HOUR),
        ("rate_limited", NOW + 2 * HOUR, None),
    ]


# Successes


def test_a_successful_poll_closes_the_open_outage(db: Database, config: OrmConfig) -> None:
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW)
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW + HOUR)
    _succeed(db, config, NOW + 2 * HOUR)

    assert _spans(db) == [("unavailable", NOW, NOW + 2 * HOUR)]


def test_a_healthy_source_has_no_outages(db: Database, config: OrmConfig) -> None:
    _succeed(db, config, NOW)
    _succeed(db, config, NOW + HOUR)
    assert _outages(db) == []


def test_a_success_closes_only_its_own_sources_outage(db: Database, config: OrmConfig) -> None:
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW, source="blog")
    _fail(db, config, PermanentError("HTTP 404"), NOW, source="news")
    _succeed(db, config, NOW + HOUR, source="blog")

    assert _spans(db, "blog") == [("unavailable", NOW, NOW + HOUR)]
    assert _spans(db, "news") == [("rejected", NOW, None)]


def test_a_failure_after_recovery_is_a_new_outage(db: Database, config: OrmConfig) -> None:
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW)
    _succeed(db, config, NOW + HOUR)
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW + 3 * HOUR)

    assert _spans(db) == [
        ("unavailable", NOW, NOW + HOUR),
        ("unavailable", NOW + 3 * HOUR, None),
    ]


# A poll that succeeds but sees nothing (the X read budget spent)


def test_a_blind_poll_opens_a_budget_outage_with_the_warning(
    db: Database, config: OrmConfig
) -> None:
    _succeed(db, config, NOW, warnings=(TOKEN_EXPIRING, BUDGET_SPENT))

    (outage,) = _outages(db)
    assert (outage.kind, outage.started_at, outage.ended_at) == ("budget", NOW, None)
    assert outage.reason == BUDGET_SPENT.message


def test_blind_polls_keep_one_budget_outage_until_a_poll_sees_again(
    db: Database, config: OrmConfig
) -> None:
    for hours in range(3):
        _succeed(db, config, NOW + hours * HOUR, warnings=(BUDGET_SPENT,))
    _succeed(db, config, NOW + 5 * HOUR)

    assert _spans(db) == [("budget", NOW, NOW + 5 * HOUR)]


def test_a_warning_that_is_not_blind_does_not_open_an_outage(
    db: Database, config: OrmConfig
) -> None:
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW)
    _succeed(db, config, NOW + HOUR, warnings=(TOKEN_EXPIRING,))

    assert _spans(db) == [("unavailable", NOW, NOW + HOUR)]


def test_a_failing_source_that_turns_blind_changes_outage_kind(
    db: Database, config: OrmConfig
) -> None:
    _fail(db, config, RateLimited("HTTP 429"), NOW)
    _succeed(db, config, NOW + HOUR, warnings=(BUDGET_SPENT,))
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW + 2 * HOUR)

    assert _spans(db) == [
        ("rate_limited", NOW, NOW + HOUR),
        ("budget", NOW + HOUR, NOW + 2 * HOUR),
        ("unavailable", NOW + 2 * HOUR, None),
    ]


# The service was not running


def _resume(db: Database, config: OrmConfig, at: datetime, gap: timedelta) -> None:
    _, source = config.source("blog")
    with db.session() as session:
        health.resume_on_start(session, source, at, gap)


def test_a_restart_after_a_long_stop_records_the_gap_as_a_closed_stopped_outage(
    db: Database, config: OrmConfig
) -> None:
    _succeed(db, config, NOW)
    _resume(db, config, NOW + 3 * HOUR, gap=timedelta(minutes=40))

    (outage,) = _outages(db)
    assert (outage.kind, outage.started_at, outage.ended_at) == (
        "stopped",
        NOW,
        NOW + 3 * HOUR,
    )
    assert outage.reason == "orm-monitor was not running"


def test_a_silence_inside_an_open_outage_is_not_recorded_again_as_stopped(
    db: Database, config: OrmConfig
) -> None:
    _succeed(db, config, NOW)
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW + HOUR)
    _resume(db, config, NOW + 4 * HOUR, gap=timedelta(minutes=40))

    assert [(o.kind, o.started_at, o.ended_at) for o in _outages(db)] == [
        ("unavailable", NOW + HOUR, None)
    ]


def test_a_quick_restart_records_no_outage(db: Database, config: OrmConfig) -> None:
    _succeed(db, config, NOW)
    _resume(db, config, NOW + timedelta(minutes=40), gap=timedelta(minutes=40))
    assert _outages(db) == []


def test_a_source_never_polled_has_no_gap_to_record(db: Database, config: OrmConfig) -> None:
    _resume(db, config, NOW + 24 * HOUR, gap=timedelta(minutes=40))
    assert _outages(db) == []


def test_a_stopped_outage_is_closed_so_the_next_failure_opens_its_own(
    db: Database, config: OrmConfig
) -> None:
    _succeed(db, config, NOW)
    _resume(db, config, NOW + 3 * HOUR, gap=timedelta(minutes=40))
    _fail(db, config, SourceUnavailable("HTTP 503"), NOW + 3 * HOUR)

    assert _spans(db) == [
        ("stopped", NOW, NOW + 3 * HOUR),
        ("unavailable", NOW + 3 * HOUR, None),
    ]


def test_a_restart_to_pick_up_a_renewed_token_does_not_claim_the_service_was_stopped(
    db: Database, config: OrmConfig
) -> None:
    # The fix the IT lead is told: renew the token, then restart orm-monitor. Until then the
    # service ran on, with this source paused; the outage that explains the silence is "auth".
    _fail(db, config, AuthError("HTTP 401: access denied"), NOW)
    _resume(db, config, NOW + 26 * HOUR, gap=timedelta(minutes=40))

    assert [o.kind for o in _outages(db)] == ["auth"]


# Through the real pipeline and service


def test_the_pipeline_records_a_failing_feed_and_its_recovery(db: Database) -> None:
    clock = Clock(NOW)
    with local_server() as feeds:
        config = _config(db, rss_source(feeds.url(FEED_PATH)))
        with db.session() as session:
            sync_config(session, config)
        pipeline = Pipeline(db, config, default_registry(), clock=clock)
        feeds.route("GET", FEED_PATH, Reply(503, "down for maintenance"))

        assert pipeline.poll("blog").error is not None
        clock.advance(hours=1)
        pipeline.poll("blog")
        (outage,) = _outages(db)
        assert (outage.kind, outage.ended_at) == ("unavailable", None)
        assert "HTTP 503" in outage.reason

        feeds.route("GET", FEED_PATH, Reply(200, rss_feed(("g1", "Lovely assembly"))))
        clock.advance(hours=1)
        assert pipeline.poll("blog").error is None

    assert _spans(db) == [("unavailable", NOW, NOW + 2 * HOUR)]


def test_an_x_source_with_its_budget_spent_is_recorded_as_blind(db: Database) -> None:
    x_source = {
        "id": "x",
        "type": "x",
        "name": "X account",
        "lead": "jsmith",
        "user_id": "1234567890",
        "username": "StMarysAnytown",
        "bearer_token_credential": "X_BEARER_TOKEN",
        "monthly_read_budget": 0,
    }
    config = _config(db, x_source)
    with db.session() as session:
        sync_config(session, config)
    clock = Clock(NOW)
    pipeline = Pipeline(
        db, config, default_registry(), secrets={"X_BEARER_TOKEN": "t"}.__getitem__, clock=clock
    )

    assert pipeline.poll("x").error is None
    clock.advance(hours=1)
    pipeline.poll("x")

    (outage,) = _outages(db, "x")
    assert (outage.kind, outage.started_at, outage.ended_at) == ("budget", NOW, None)
    assert outage.reason.startswith("X read budget spent")


def test_the_service_records_the_time_it_was_not_running(tmp_path: Path, db: Database) -> None:
    raw = raw_config(
        database_url=db.url,
        sources=[rss_source("https://school.example/feed", interval_minutes=15)],
        channels={"mail": {"type": "maildir", "path": str(tmp_path / "mail")}},
    )
    raw["service"]["state_dir"] = str(tmp_path / "state")
    config = build(raw)
    with db.session() as session:
        sync_config(session, config)
    _succeed(db, config, NOW)

    # Expected gap: two intervals and the start-up slack; 30 minutes later is no outage.
    service = Service(config, clock=lambda: NOW + timedelta(minutes=30))
    service.prepare()
    service.stop()
    assert _outages(db) == []

    service = Service(config, clock=lambda: NOW + 5 * HOUR)
    service.prepare()
    service.stop()
    assert _spans(db) == [("stopped", NOW, NOW + 5 * HOUR)]
