"""A plausible week (and the seven before it) of mentions for any number of schools.

Used by bench/digest.py to time the digest and to build the example under docs/examples/.
Rows go in with bulk inserts: a trust of 50 schools and 10,000 items a week loads in seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update

from monitor.config.schema import OrmConfig, SchoolConfig
from monitor.digest.week import Week
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config

LONDON = ZoneInfo("Europe/London")
TRENDS = (0.55, 0.6, 0.7, 0.8, 0.75, 0.9, 0.85, 1.0)
"""Each of the eight weeks' volume as a share of the reported week's."""


@dataclass(frozen=True)
class Kind:
    """A sort of post: its labels, severity, sentiment and some texts."""

    labels: tuple[str, ...]
    severity: str
    sentiment: str
    weight: float
    texts: tuple[str, ...]


KINDS = (
    Kind(
        ("praise",),
        "info",
        "positive",
        0.22,
        (
            "Thank you to all the staff for a wonderful nativity, the children loved it.",
            "Huge well done to the netball team on reaching the county final!",
            "Our son has settled in so well this term, thank you Mrs Patel.",
            "Lovely to see the carol singers at the market this morning.",
        ),
    ),
    Kind(
        ("query",),
        "low",
        "neutral",
        0.24,
        (
            "What time does the Christmas fair start on Saturday?",
            "Is there an after-school club on the last day of term?",
            "Where do we hand in the permission slips for the trip?",
            "Has the date for parents' evening been confirmed?",
        ),
    ),
    Kind(
        ("query", "criticism"),
        "low",
        "negative",
        0.08,
        (
            "Why has nobody replied to my email about the bus? Third time asking.",
            "Can someone explain why the trip was cancelled with one day's notice?",
        ),
    ),
    Kind(
        ("criticism",),
        "low",
        "negative",
        0.10,
        (
            "The car park at pick-up is chaos again, someone will get hurt.",
            "Disappointed the school still has not fixed the heating in the hall.",
        ),
    ),
    Kind(
        (),
        "info",
        "neutral",
        0.26,
        (
            "St Mary's choir will sing at the town hall on Friday.",
            "Road closure near the school next week for resurfacing.",
            "Anytown schools publish new term dates for 2027.",
        ),
    ),
    Kind(
        ("insult",),
        "medium",
        "negative",
        0.04,
        ("The head is a useless clown, no idea what he is doing.",),
    ),
    Kind(
        ("spam",), "info", "neutral", 0.035, ("Win a free iPhone!!! Click bit.ly/free-phone-now",)
    ),
    Kind(
        ("harassment", "insult"),
        "high",
        "negative",
        0.012,
        ("Everyone should tell that teacher what they think of her, every day, until she leaves.",),
    ),
    Kind(
        ("defamation",),
        "high",
        "negative",
        0.008,
        ("Everyone knows the deputy head covered up the complaint and lied to parents.",),
    ),
    Kind(
        ("threat",),
        "critical",
        "negative",
        0.003,
        ("Someone should teach Mr Hughes a lesson, I know where he parks.",),
    ),
    Kind(
        ("safeguarding",),
        "critical",
        "negative",
        0.002,
        ("A child in year 5 told my daughter she is scared to go home.",),
    ),
)
REPLIES = (0.3, 0.8, 1.5, 2, 3, 4, 6, 9, 20, 30)
"""Hours to first reply, drawn at random: most in the window, some late."""


def populate(db: Database, config: OrmConfig, week: Week, per_school: int, seed: int = 7) -> int:
    """Write `per_school` items per school in `week` (fewer in the weeks before); returns all."""
    random.seed(seed)
    start = week.bounds(LONDON)[0]
    with db.session() as session:
        sync_config(session, config)
        long_ago = start - timedelta(weeks=20)
        session.execute(update(models.School).values(created_at=long_ago))
        session.execute(update(models.Account).values(created_at=long_ago))
    total = 0
    for school in config.schools:
        total += _school(db, school, week, per_school, start)
    return total


def _school(
    db: Database, school: SchoolConfig, week: Week, per_school: int, start: datetime
) -> int:
    sources = [s.id for s in school.sources]
    items: list[dict[str, Any]] = []
    kinds: list[Kind] = []
    for back, share in enumerate(reversed(TRENDS)):
        week_start = start - timedelta(weeks=back)
        for _ in range(int(per_school * share)):
            kind = random.choices(KINDS, weights=[k.weight for k in KINDS])[0]
            items.append(_item(school.id, random.choice(sources), week_start, len(items), kind))
            kinds.append(kind)
    with db.session() as session:
        ids = session.scalars(insert(models.Item).returning(models.Item.id), items).all()
        session.execute(
            insert(models.Assessment),
            [_assessment(item_id, kind) for item_id, kind in zip(ids, kinds, strict=True)],
        )
        this_week = [
            (i, row, kind)
            for i, row, kind in zip(ids, items, kinds, strict=True)
            if row["created_at"] >= start
        ]
        _windows(session, school.id, this_week, start + timedelta(weeks=1))
        _incidents(session, school.id, this_week)
        _health(session, sources, start)
    return len(items)


def _item(
    school_id: str, source_id: str, week_start: datetime, n: int, kind: Kind
) -> dict[str, Any]:
    when = week_start + timedelta(seconds=random.randrange(7 * 24 * 3600))
    return {
        "source_id": source_id,
        "school_id": school_id,
        "external_id": f"{source_id}-{week_start:%Y%m%d}-{n}",
        "kind": random.choice(("comment", "comment", "mention", "article")),
        "url": f"https://example.org/{source_id}/{n}",
        "author_name": random.choice(("A Parent", "Local Resident", "Former Pupil", "Grandparent")),
        "by_school": False,
        "text": random.choice(kind.texts),
        "created_at": when,
        "first_seen_at": when + timedelta(minutes=3),
        "version": 1,
        "content_sha256": "0" * 64,
        "assessed_version": 1,
    }


def _assessment(item_id: int, kind: Kind) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "item_version": 1,
        "sentiment": kind.sentiment,
        "sentiment_score": round(random.uniform(0.6, 0.99), 2),
        "labels": [
            {"label": label, "score": round(random.uniform(0.6, 0.99), 2)} for label in kind.labels
        ],
        "severity": kind.severity,
        "model_version": "sample",
    }


def _windows(session: Any, school_id: str, rows: list[Any], end: datetime) -> None:
    owed = [
        (i, row) for i, row, kind in rows if "query" in kind.labels or "criticism" in kind.labels
    ]
    windows = []
    for item_id, row in owed:
        opened = row["created_at"]
        hours = random.choice(REPLIES)
        replied = opened + timedelta(hours=hours)
        answered = replied < end and random.random() > 0.05
        windows.append(
            {
                "item_id": item_id,
                "school_id": school_id,
                "source_id": row["source_id"],
                "opened_at": opened,
                "due_at": opened + timedelta(hours=24),
                "status": "answered" if answered else "open",
                "closed_at": replied if answered else None,
                "closed_by": "reply seen" if answered else None,
                "first_reply_at": replied if answered else None,
                "urgent": False,
            }
        )
    if windows:
        session.execute(insert(models.ReplyWindow), windows)


def _incidents(session: Any, school_id: str, rows: list[Any]) -> None:
    """Each serious item's incident, with its alert to the DSL in the audit log."""
    serious = [(i, row, k) for i, row, k in rows if k.severity in ("high", "critical")]
    if not serious:
        return
    incidents, alerts, entries = [], [], []
    for i, row, k in serious:
        incidents.append(
            {
                "school_id": school_id,
                "item_id": i,
                "severity": k.severity,
                "status": "open",
                "summary": f"{', '.join(k.labels)} (item {i})",
                "opened_at": row["first_seen_at"] + timedelta(minutes=1),
            }
        )
        alerts.append(
            {
                "idempotency_key": f"sample:{i}",
                "school_id": school_id,
                "item_id": i,
                "kind": "item",
                "channel": "mail",
                "recipient": "dsl@school.example",
                "recipient_name": "the DSL",
                "severity": k.severity,
                "payload": {},
                "status": "delivered",
            }
        )
    session.execute(insert(models.Incident), incidents)
    outbox = session.scalars(
        insert(models.OutboxMessage).returning(models.OutboxMessage.id), alerts
    )
    for (i, row, _k), outbox_id in zip(serious, outbox.all(), strict=True):
        entries.append(
            {
                "at": row["first_seen_at"] + timedelta(minutes=2),
                "actor": "dispatcher",
                "action": "delivery.delivered",
                "school_id": school_id,
                "item_id": i,
                "detail": {"outbox_id": outbox_id, "channel": "mail"},
            }
        )
    session.execute(insert(models.AuditEntry), entries)


def _health(session: Any, sources: list[str], start: datetime) -> None:
    session.execute(
        insert(models.ConnectorState),
        [
            {
                "source_id": s,
                "cursor": {},
                "last_poll_at": start + timedelta(weeks=1),
                "last_success_at": start + timedelta(weeks=1),
                "consecutive_failures": 0,
                "auth_failed": False,
            }
            for s in sources
        ],
    )
    if len(sources) > 1 and random.random() < 0.3:
        began = start + timedelta(hours=random.randrange(24, 120))
        session.execute(
            insert(models.SourceOutage),
            [
                {
                    "source_id": sources[-1],
                    "kind": "rate_limited",
                    "reason": "429",
                    "started_at": began,
                    "ended_at": began + timedelta(hours=2),
                }
            ],
        )
