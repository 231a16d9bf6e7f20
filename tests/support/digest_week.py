"""A generated week with known figures: ISO week 2026-W47 (16-22 Nov, GMT) at St Mary's.

`populate` writes it; the module's constants say what the digest must report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from monitor.config.schema import OrmConfig
from monitor.config.watchlist import school_key, write_list
from monitor.digest.week import Week
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.ingest import sync_config
from tests.support.config import build, raw_config

WEEK = Week(2026, 47)
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
"""Monday 07:00 (GMT): when the week's digest is due."""
LONG_AGO = datetime(2026, 9, 1, tzinfo=UTC)
PUPIL = "Amelia Brown"
PUPIL_KEY_CREDENTIAL = "ORM_MONITOR_TEST_PUPIL_HASH_KEY"
PUPIL_KEY = "a test key for the digest week, 32 characters or more"
SECRET = "SECRET-SAFEGUARDING-TEXT"
HOSTILE = (
    '<script>alert("pwned")</script><img src=x onerror=alert(1)> **bold** '
    "[click](javascript:alert(1)) {{ 7*7 }} {% if true %}JINJA{% endif %} &amp; ${7*7}"
)
SOURCES = [
    {"id": "facebook", "name": "Facebook page", "lead": "jsmith"},
    {"id": "alerts", "name": "Google Alerts", "lead": "jsmith"},
    {"id": "x", "name": "X mentions", "lead": "jsmith"},
]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026 (UTC is UK time in November)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Post:
    """One item of the week and what the classifier said about it."""

    number: int
    source: str
    kind: str
    when: datetime
    text: str
    sentiment: str
    labels: tuple[tuple[str, float], ...] = ()
    severity: str = "info"
    sentiment_score: float = 0.5
    author: str = "A Parent"
    url: str | None = None


POSTS = [
    Post(
        1,
        "facebook",
        "comment",
        at(16, 9),
        "What time does the Christmas fair start?",
        "neutral",
        (("query", 0.9),),
        "low",
    ),
    Post(
        2,
        "facebook",
        "comment",
        at(17, 14),
        "Is the school open on Friday?",
        "neutral",
        (("query", 0.9),),
        "low",
    ),
    Post(
        3,
        "facebook",
        "comment",
        at(18, 10),
        "Why has nobody answered my email? Third time.",
        "negative",
        (("query", 0.8), ("criticism", 0.7)),
        "low",
    ),
    Post(
        4,
        "facebook",
        "comment",
        at(20, 16),
        "Where do we collect lost property?",
        "neutral",
        (("query", 0.9),),
        "low",
    ),
    Post(
        5,
        "facebook",
        "comment",
        at(16, 11),
        HOSTILE,
        "negative",
        (("insult", 0.8), ("criticism", 0.6)),
        "medium",
        url="javascript:alert(1)",
    ),
    Post(
        6,
        "x",
        "mention",
        at(19, 8),
        "@stmarys what time is pick-up on the last day?",
        "neutral",
        (("query", 0.9),),
        "low",
        url="https://x.example/parent/status/6",
    ),
    Post(
        7,
        "facebook",
        "comment",
        at(21, 10),
        "Win a free phone!!! click bit.ly/win",
        "neutral",
        (("spam", 0.9),),
        "info",
    ),
    Post(
        8,
        "alerts",
        "article",
        at(17, 20),
        "Someone should teach Mr Hughes a lesson, I know where he parks",
        "negative",
        (("threat", 0.95),),
        "critical",
        url="https://forum.example/t/8",
    ),
    Post(
        9,
        "alerts",
        "article",
        at(18, 21),
        f"{SECRET} {PUPIL} in year 4 is being hurt at home",
        "negative",
        (("safeguarding", 0.9), ("personal_data", 1.0)),
        "critical",
        author="Worried Neighbour",
        url="https://forum.example/t/9",
    ),
    Post(
        10,
        "x",
        "mention",
        at(19, 12),
        f"Well done to {PUPIL} and the choir, a wonderful concert!",
        "positive",
        (("praise", 0.9),),
        "info",
        0.95,
    ),
    Post(
        11,
        "facebook",
        "comment",
        at(20, 18),
        "Thank you to every member of staff for the nativity",
        "positive",
        (("praise", 0.9),),
        "info",
        0.85,
    ),
    Post(
        12,
        "alerts",
        "article",
        at(21, 9),
        "St Mary's pupils raise £1,200 for the food bank",
        "positive",
        (("praise", 0.8),),
        "info",
        0.75,
        url="https://news.example/12",
    ),
]
"""The week: 12 items seen (the school's own reply and a W48 item are not counted)."""

TREND = {40: 2, 41: 3, 42: 4, 43: 5, 44: 6, 45: 7, 46: 8, 47: 12}
LAST_WEEK_BY_SOURCE = {"Facebook page": 5, "Google Alerts": 3}
EXPECTED: dict[str, Any] = {
    "items": 12,
    "delta": "+4",
    "by_source": {"Facebook page": (7, 5), "Google Alerts": (3, 3), "X mentions": (2, 0)},
    "by_kind": {"comment": 7, "article": 3, "mention": 2},
    "sentiment": {"negative": 4, "neutral": 5, "positive": 3},
    "flagged_items": 2,
    "flagged_critical": 2,
    "flagged_high": 0,
    "blind_hours": "63.0",
    "held_by_dsl": 1,
    "windows_opened": 7,
    "in_time": 3,
    "late": 1,
    "still_open_late": 1,
    "pending": 1,
    "dismissed": 1,
    "share_in_time": "60%",
    "median": "2 h 00 min",
    "p90": "26 h 00 min",
    "breached_items": (3, 5),
    "top_order": (9, 8),
    "praise_order": (10, 11, 12),
}
# (item, opened, due, status, replied or closed)
WINDOWS = [
    (1, at(16, 9), at(17, 9), "answered", at(16, 10)),
    (2, at(17, 14), at(18, 14), "answered", at(17, 17)),
    (3, at(18, 10), at(19, 10), "answered", at(19, 12)),
    (6, at(19, 8), at(20, 8), "answered", at(19, 8, 30)),
    (5, at(16, 11), at(17, 11), "open", None),
    (4, at(20, 16), at(23, 17), "open", None),
    (7, at(21, 10), at(23, 17), "dismissed", at(21, 12)),
]


def school_config(database_url: str, tmp_path: Path, **overrides: Any) -> OrmConfig:
    """St Mary's with three sources, a maildir channel and a pupil watch list."""
    hashes = tmp_path / "pupils.txt"
    # The digest reads the key as the service does, from the environment or the credentials dir.
    os.environ.setdefault(PUPIL_KEY_CREDENTIAL, PUPIL_KEY)
    key = school_key(PUPIL_KEY, "st-marys")
    hashes.write_text("\n".join(write_list([PUPIL], key, "st-marys")) + "\n", encoding="utf-8")
    sources = [{**s, "type": "rss", "url": f"file://{tmp_path}/{s['id']}.xml"} for s in SOURCES]
    overrides.setdefault("channels", {"mail": {"type": "maildir", "path": str(tmp_path / "mail")}})
    raw = raw_config(
        database_url=database_url,
        sources=sources,
        pupil_name_hashes_file=str(hashes),
        pupil_hash_key_credential=PUPIL_KEY_CREDENTIAL,
        **overrides,
    )
    raw["service"]["state_dir"] = str(tmp_path)
    return build(raw)


def populate(db: Database, config: OrmConfig, school_id: str = "st-marys") -> None:
    """Write the week (and the seven before it) into the database."""
    with db.session() as session:
        sync_config(session, config)
        _backdate(session, config)
        items = {p.number: _item(session, school_id, p) for p in POSTS}
        _history(session, school_id)
        _extras(session, school_id)
        session.flush()
        for number, opened, due, status, closed in WINDOWS:
            _window(session, school_id, items[number], opened, due, status, closed)
        _incidents(session, school_id, items)
        _health(session, school_id)


def _backdate(session: Session, config: OrmConfig) -> None:
    for school in config.schools:
        session.get_one(models.School, school.id).created_at = LONG_AGO
    session.flush()
    for _, source in config.sources():
        session.get_one(models.Account, source.id).created_at = LONG_AGO


def _item(session: Session, school_id: str, post: Post, by_school: bool = False) -> models.Item:
    item = models.Item(
        source_id=_source(school_id, post.source),
        school_id=school_id,
        external_id=f"{school_id}-{post.source}-{post.number}-{post.when.isoformat()}",
        kind=post.kind,
        url=post.url,
        author_name=post.author,
        by_school=by_school,
        text=post.text,
        created_at=post.when,
        first_seen_at=post.when + timedelta(minutes=2),
        version=1,
        content_sha256="0" * 64,
        assessed_version=1,
    )
    session.add(item)
    session.flush()
    session.add(
        models.Assessment(
            item_id=item.id,
            item_version=1,
            sentiment=post.sentiment,
            sentiment_score=post.sentiment_score,
            labels=[{"label": name, "score": score} for name, score in post.labels],
            severity=post.severity,
            model_version="test",
        )
    )
    return item


def _source(school_id: str, source: str) -> str:
    return source if school_id == "st-marys" else f"{school_id}-{source}"


def _history(session: Session, school_id: str) -> None:
    """Weeks 40-46: neutral comments (W46: 5 on Facebook, 3 Google Alerts articles)."""
    number = 100
    for week, count in TREND.items():
        if week == 47:
            continue
        monday = Week(2026, week).monday
        for n in range(count):
            google = week == 46 and n >= 5
            when = datetime(monday.year, monday.month, monday.day, 12, tzinfo=UTC)
            post = Post(
                number,
                "alerts" if google else "facebook",
                "article" if google else "comment",
                when + timedelta(hours=n),
                f"An ordinary week {week} post {n}",
                "neutral",
            )
            _item(session, school_id, post)
            number += 1


def _extras(session: Session, school_id: str) -> None:
    """The school's own reply (never counted) and an item of the next week (not this one's)."""
    _item(
        session,
        school_id,
        Post(900, "facebook", "comment", at(16, 10), "Thanks, it starts at 2pm!", "positive"),
        by_school=True,
    )
    _item(
        session,
        school_id,
        Post(901, "facebook", "comment", at(23, 0, 30), "Next week's comment", "neutral"),
    )


def _window(
    session: Session,
    school_id: str,
    item: models.Item,
    opened: datetime,
    due: datetime,
    status: str,
    closed: datetime | None,
) -> None:
    session.add(
        models.ReplyWindow(
            item_id=item.id,
            school_id=school_id,
            source_id=item.source_id,
            opened_at=opened,
            due_at=due,
            status=status,
            closed_at=closed,
            closed_by="jsmith" if closed else None,
            first_reply_at=closed if status == "answered" else None,
            breached_at=due if status == "open" and due < NOW else None,
        )
    )


def _incidents(session: Session, school_id: str, items: dict[int, models.Item]) -> None:
    """Item 8's incident: the DSL alerted, then closed; item 9's: alerted, still open."""
    for number, opened in ((8, at(17, 20, 5)), (9, at(18, 21, 5))):
        item = items[number]
        session.add(
            models.Incident(
                school_id=school_id,
                item_id=item.id,
                severity="critical",
                status="open" if number == 9 else "closed",
                summary=f"{'threat' if number == 8 else 'safeguarding'} (item {item.id})",
                opened_at=opened,
                closed_at=at(18, 9) if number == 8 else None,
            )
        )
        row = models.OutboxMessage(
            idempotency_key=f"test:{school_id}:{number}",
            school_id=school_id,
            item_id=item.id,
            kind="item",
            channel="mail",
            recipient="dsl@school.example",
            recipient_name="Anita Patel",
            severity="critical",
            payload={},
            status="delivered",
        )
        session.add(row)
        session.flush()
        session.add(
            models.AuditEntry(
                at=opened + timedelta(minutes=1),
                actor="dispatcher",
                action="delivery.delivered",
                school_id=school_id,
                item_id=item.id,
                detail={"outbox_id": row.id, "channel": "mail"},
            )
        )
    session.add(
        models.AuditEntry(
            at=at(18, 9),
            actor="rhughes",
            action="incident.closed",
            school_id=school_id,
            item_id=items[8].id,
            detail={"note": "Reported to the police, ref 4471"},
        )
    )


def _health(session: Session, school_id: str) -> None:
    """Facebook healthy; Google Alerts rate-limited for 3 h; X's read budget spent from Fri noon."""
    for source in ("facebook", "alerts", "x"):
        session.add(
            models.ConnectorState(
                source_id=_source(school_id, source),
                cursor={},
                last_poll_at=NOW - timedelta(minutes=5),
                last_success_at=NOW - timedelta(minutes=5),
                consecutive_failures=0,
                auth_failed=False,
            )
        )
    session.add(
        models.SourceOutage(
            source_id=_source(school_id, "alerts"),
            kind="rate_limited",
            reason="429",
            started_at=at(17, 2),
            ended_at=at(17, 5),
        )
    )
    session.add(
        models.SourceOutage(
            source_id=_source(school_id, "x"),
            kind="budget",
            reason="X read budget spent",
            started_at=at(20, 12),
        )
    )
