"""Corrections to the classifier: each one a labelled example the school's heads learn from."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.classify.base import Label, Sentiment, assessable_text
from monitor.classify.corpus import Example
from monitor.storage import models


class CorrectionError(Exception):
    """A correction that cannot be recorded (unknown item, nothing to record)."""


def record(
    session: Session,
    item_id: int,
    *,
    wrong: Sequence[Label] = (),
    missed: Sequence[Label] = (),
    sentiment: Sentiment | None = None,
    by: str,
) -> list[models.Correction]:
    """Store "not LABEL", "missed: LABEL" and "the tone is S" for an item, with an audit entry."""
    if not (wrong or missed or sentiment):
        raise CorrectionError("nothing to record: give --not LABEL, --missed LABEL or --sentiment")
    item = session.get(models.Item, item_id)
    if item is None:
        raise CorrectionError(f"no item {item_id}: use the number shown in alerts and status")
    text = assessable_text(item.title, item.text)
    rows = [_row(item, text, by, label=label, present=False) for label in wrong]
    rows += [_row(item, text, by, label=label, present=True) for label in missed]
    if sentiment is not None:
        rows.append(_row(item, text, by, sentiment=sentiment))
    session.add_all(rows)
    detail = {"not": [str(x) for x in wrong], "missed": [str(x) for x in missed]}
    session.add(
        models.AuditEntry(
            actor=by,
            action="classifier.corrected",
            school_id=item.school_id,
            item_id=item.id,
            detail={**detail, "sentiment": str(sentiment) if sentiment else None},
        )
    )
    return rows


def _row(
    item: models.Item,
    text: str,
    by: str,
    *,
    label: Label | None = None,
    present: bool | None = None,
    sentiment: Sentiment | None = None,
) -> models.Correction:
    return models.Correction(
        school_id=item.school_id,
        item_id=item.id,
        text=text,
        label=str(label) if label else None,
        present=present,
        sentiment=str(sentiment) if sentiment else None,
        by=by,
    )


def school_examples(session: Session, school_id: str) -> list[Example]:
    """Every correction made for a school, oldest first; a later one overrides an earlier one."""
    rows = session.scalars(
        select(models.Correction)
        .where(models.Correction.school_id == school_id)
        .order_by(models.Correction.id)
    )
    latest: dict[tuple[int, str], Example] = {}
    for row in rows:
        key = (row.item_id, row.label or "sentiment")
        latest[key] = Example(
            row.text,
            Label(row.label) if row.label else None,
            row.present,
            Sentiment(row.sentiment) if row.sentiment else None,
        )
    return list(latest.values())
