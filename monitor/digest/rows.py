"""The items a digest counts, each with its newest assessment, and what "flagged" means."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from monitor.classify.base import Label, Severity
from monitor.digest.week import Week
from monitor.storage import models

FLAGGED_FROM = Severity.HIGH
"""An item is *flagged* when its severity is high or critical: the items that open an incident.

Every "flagged" figure the digest shows (tiles, tables, text part, PDF, Teams card, the trust's
comparison) counts these items, each once.
"""
AREAS: dict[str, tuple[Label, ...]] = {
    "content": (Label.HATE, Label.EXTREMISM, Label.SEXUAL),
    "contact": (Label.THREAT, Label.SAFEGUARDING),
    "conduct": (Label.HARASSMENT, Label.INSULT, Label.DEFAMATION, Label.PERSONAL_DATA),
    "commerce": (Label.SPAM,),
    "reputation": (Label.CRITICISM, Label.QUERY, Label.PRAISE),
}
"""KCSIE's four areas of risk, and the reputation labels that are no risk in themselves."""
RISK_LABELS = frozenset(
    label for area in ("content", "contact", "conduct", "commerce") for label in AREAS[area]
)
LABEL_NAMES = frozenset(str(label) for label in Label)
HELD_BY_DSL = frozenset({Label.SAFEGUARDING, Label.PERSONAL_DATA})
"""Labels whose posts the SLT digest shows only as counts (`digest.show_sensitive_text`)."""


@dataclass(frozen=True)
class Row:
    """One item with its newest assessment."""

    id: int
    week: Week
    source_id: str
    kind: str
    sentiment: str | None
    sentiment_score: float | None
    labels: tuple[Label, ...]
    score: float
    severity: Severity

    @property
    def flagged(self) -> bool:
        """High or critical (`FLAGGED_FROM`)."""
        return self.severity >= FLAGGED_FROM

    @property
    def held_by_dsl(self) -> bool:
        """Safeguarding or personal data: its text is the DSL's."""
        return bool(HELD_BY_DSL.intersection(self.labels))


def rows_between(
    session: Session, school_id: str, start: datetime, end: datetime, zone: ZoneInfo
) -> list[Row]:
    """The school's items (not its own posts) dated in [start, end)."""
    when = func.coalesce(models.Item.created_at, models.Item.first_seen_at)
    where = and_(
        models.Item.school_id == school_id,
        models.Item.by_school.is_(False),
        when >= start,
        when < end,
        models.Item.deleted_at.is_(None),
    )
    return _rows(session, where, zone)


def rows_by_id(session: Session, ids: Iterable[int], zone: ZoneInfo) -> list[Row]:
    """Particular items (an open incident's, from an earlier week), whatever their date."""
    wanted = sorted(set(ids))
    return _rows(session, models.Item.id.in_(wanted), zone) if wanted else []


def _rows(session: Session, where: ColumnElement[bool], zone: ZoneInfo) -> list[Row]:
    item, assessment = models.Item, models.Assessment
    when = func.coalesce(item.created_at, item.first_seen_at)
    query = (
        select(
            item.id,
            when.label("when"),
            item.source_id,
            item.kind,
            assessment.sentiment,
            assessment.sentiment_score,
            assessment.labels,
            assessment.severity,
        )
        .outerjoin(
            assessment,
            and_(assessment.item_id == item.id, assessment.item_version == item.assessed_version),
        )
        .where(where)
        .order_by(assessment.id)
    )
    newest: dict[int, Row] = {}
    for row in session.execute(query):
        newest[row.id] = _row(row, zone)
    return list(newest.values())


def _row(row: Any, zone: ZoneInfo) -> Row:
    signals = row.labels or []
    named = (s.get("label") for s in signals)
    labels = tuple(dict.fromkeys(Label(n) for n in named if n in LABEL_NAMES))
    return Row(
        id=row.id,
        week=Week.containing(row.when.astimezone(zone).date()),
        source_id=row.source_id,
        kind=row.kind,
        sentiment=row.sentiment,
        sentiment_score=row.sentiment_score,
        labels=labels,
        score=max((float(s.get("score") or 0) for s in signals), default=0.0),
        severity=Severity.parse(row.severity) if row.severity else Severity.INFO,
    )
