"""What the classifier said about an item, as stored: one row per item version, signals as JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.classify.base import Assessment, Label, Severity, Signal
from monitor.storage import models


def record(
    session: Session, item: models.Item, assessment: Assessment, severity: Severity
) -> models.Assessment:
    """Store the assessment of the item's current version (in the caller's transaction)."""
    row = models.Assessment(
        item_id=item.id,
        item_version=item.version,
        sentiment=None if assessment.sentiment is None else str(assessment.sentiment),
        sentiment_score=assessment.sentiment_score,
        labels=signals_json(assessment.signals),
        severity=str(severity),
        model_version=assessment.model_version,
        profile=assessment.profile or None,
    )
    session.add(row)
    item.assessed_version = item.version
    return row


def signals_json(signals: Iterable[Signal]) -> list[dict[str, Any]]:
    """Signals as the `labels` column keeps them."""
    return [
        {
            "label": str(s.label),
            "score": s.score,
            "layer": s.layer,
            "rule": s.rule,
            "evidence": s.evidence,
            "confident": s.confident,
        }
        for s in signals
    ]


def signals_from_json(rows: Iterable[Mapping[str, Any]]) -> tuple[Signal, ...]:
    """Signals read back (rows stored before confidence was recorded count as confident)."""
    return tuple(
        Signal(
            Label(row["label"]),
            float(row["score"]),
            str(row["layer"]),
            str(row["rule"]),
            str(row.get("evidence") or ""),
            bool(row.get("confident", True)),
        )
        for row in rows
    )


def alerted_labels(session: Session, item_id: int) -> set[Label]:
    """The labels the item's latest stored assessment alerted on (those held for review not)."""
    query = (
        select(models.Assessment.labels)
        .where(models.Assessment.item_id == item_id)
        .order_by(models.Assessment.id.desc())
        .limit(1)
    )
    latest = Assessment(signals_from_json(session.scalar(query) or []))
    return {label for label in latest.labels if latest.alerts_now(label)}
