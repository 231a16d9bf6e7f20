"""Pile-ons become one grouped alert; a spike above the baseline raises one crisis alert."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from monitor.config.schema import SpikeConfig
from monitor.flow.spikes import SpikeWatch, judge
from monitor.service.daemon import Service
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config
from tests.support.clock import Clock
from tests.support.config import build, raw_config, rss_source
from tests.support.world import world

INSULTS = [
    "You lot are pathetic clowns",
    "Useless idiots running this school",
    "What a joke, pathetic staff",
    "Clowns, the lot of you",
]


def _pile_on(n: int, start: int = 0) -> list[tuple[str, str]]:
    return [(f"p{i}", f"{INSULTS[i % len(INSULTS)]} ({i})") for i in range(start, start + n)]


def _count(db: Database, table: type[models.Base]) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def test_a_pile_on_of_200_comments_is_one_grouped_alert(tmp_path: Path, database_url: str) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(*_pile_on(200))
        service = Service(w.config)
        service.run_once()
        assert _count(service.db, models.Assessment) == 200
        assert w.recipients() == ["j.smith@school.example"]
        message = w.smtp.messages[0][1]
        assert "pile-on: 200 flagged items on one thread of School blog" in str(message["Subject"])
        text = message.get_body(("plain",)).get_content()
        assert "200 flagged items within 60 minutes: 200 insult" in text
        assert "+195 more not shown here" in text
        w.serve(*_pile_on(220))  # twenty more in the same hour: no second alert
        service.run_once()
        service.stop()
        assert _count(service.db, models.Assessment) == 220
        assert len(w.smtp.messages) == 1


def test_a_threat_inside_a_pile_on_still_reaches_the_dsl_on_its_own(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(*_pile_on(30), ("t1", "I will stab the head teacher tomorrow"))
        service = Service(w.config)
        service.run_once()
        service.stop()
        assert sorted(w.recipients()) == [
            "deputy@school.example",
            "dsl@school.example",
            "head@school.example",
            "j.smith@school.example",
        ]
        assert "[CRITICAL]" in str(w.messages_to("dsl@school.example")[0]["Subject"])


def test_a_few_comments_on_a_thread_alert_one_by_one(tmp_path: Path, database_url: str) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(*_pile_on(4))
        service = Service(w.config)
        service.run_once()
        service.stop()
        assert len(w.smtp.messages) == 4


SETTINGS = SpikeConfig()


def test_the_threshold_is_the_largest_of_floor_spread_and_ratio() -> None:
    quiet = judge([0] * 168 + [4, 3, 4], SETTINGS)
    assert (quiet.recent, quiet.threshold, quiet.spike) == (11, 10.0, True)
    steady = judge([2] * 168 + [3, 3, 3], SETTINGS)
    assert steady.mean == 6 and steady.sd == 0 and steady.threshold == 18
    assert not steady.spike


def _busy_hour(moment: datetime, rng: random.Random) -> int:
    """A busy school's negative chatter: weekday days and evenings, quiet nights and weekends."""
    weekend, hour = moment.weekday() >= 5, moment.hour
    if 8 <= hour < 21:
        base = 2 if weekend else 5
    elif 21 <= hour < 23:
        base = 1 if weekend else 3
    else:
        base = 0
    return max(0, base + rng.randint(-2, 2)) if base else rng.choice([0, 0, 0, 1])


def _insert(db: Database, moments: list[datetime]) -> None:
    with db.session() as session:
        for n, moment in enumerate(moments):
            item = models.Item(
                source_id="blog",
                school_id="st-marys",
                external_id=f"x{moment:%Y%m%d%H%M%S}{n}",
                kind="comment",
                text="negative chatter",
                created_at=moment,
                first_seen_at=moment,
                version=1,
                assessed_version=1,
                content_sha256="0" * 64,
            )
            session.add(item)
            session.flush()
            session.add(
                models.Assessment(
                    item_id=item.id,
                    item_version=1,
                    sentiment="negative",
                    sentiment_score=0.9,
                    labels=[{"label": "criticism"}],
                    severity="low",
                    model_version="test",
                )
            )


def _spikes(db: Database) -> int:
    with db.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(models.OutboxMessage)
                .where(models.OutboxMessage.kind == "spike")
            )
            or 0
        )


def test_a_normal_busy_week_raises_nothing_and_a_crisis_raises_exactly_one_alert(
    db: Database,
) -> None:
    config = build(raw_config(database_url=db.url, sources=[rss_source("https://e.org/f")]))
    with db.session() as session:
        sync_config(session, config)
    rng = random.Random(2026)
    start = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday; two weeks of history follow
    moments = []
    for hour in range(14 * 24):
        at = start + timedelta(hours=hour)
        moments += [at + timedelta(minutes=rng.randint(0, 59)) for _ in range(_busy_hour(at, rng))]
    _insert(db, moments)
    clock = Clock(start + timedelta(days=7))
    watch = SpikeWatch(db, config, clock=clock)
    verdicts = []
    for _ in range(7 * 24):  # every hourly check of the second, normal week
        clock.advance(hours=1)
        verdicts.append(watch.check()["st-marys"])
    assert _spikes(db) == 0
    assert max(v.recent / v.threshold for v in verdicts) < 1
    crisis_start = clock.now
    _insert(db, [crisis_start + timedelta(minutes=3 * n) for n in range(40)])  # 40 in two hours
    crisis = []
    for _ in range(12):  # the checks during and after the crisis, inside the cool-down
        clock.advance(hours=1)
        crisis.append(watch.check()["st-marys"])
    assert sum(v.spike for v in crisis) >= 2  # still high an hour later...
    assert _spikes(db) == 1  # ...but SLT hears once
    with db.session() as session:
        row = session.scalars(
            select(models.OutboxMessage).where(models.OutboxMessage.kind == "spike")
        ).one()
    assert row.recipient == "head@school.example"
    assert "possible crisis" in row.payload["headline"]
    assert len(row.payload["items"]) == 5 and row.payload["extra_count"] > 30


def test_a_switched_off_spike_check_raises_nothing(db: Database) -> None:
    raw = raw_config(database_url=db.url, sources=[rss_source("https://e.org/f")])
    raw["alerts"] = {**raw.get("alerts", {}), "spike": {"enabled": False}}
    config = build(raw)
    with db.session() as session:
        sync_config(session, config)
    now = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    _insert(db, [now - timedelta(minutes=3 * n) for n in range(1, 41)])  # 40 in two hours
    assert SpikeWatch(db, config, clock=lambda: now).check() == {}
    assert _spikes(db) == 0
    switched_on = build(raw_config(database_url=db.url, sources=[rss_source("https://e.org/f")]))
    assert SpikeWatch(db, switched_on, clock=lambda: now).check()["st-marys"].spike
    assert _spikes(db) == 1
