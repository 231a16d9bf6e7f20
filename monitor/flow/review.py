"""Paging labels held for review: stored with the assessment, summarised to the DSL each morning.

A threat, disclosure, extremist or sexual post that the classifier is not confident about pages
nobody. It is kept here, and every working-day morning (`reply_windows.morning_summary`, 08:00
by default) each DSL gets one message listing what was held since the last one: once, even
across restarts, because the summary and the marks on its reviews are written together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.base import Recipient
from monitor.classify.base import Assessment, Label
from monitor.config.people import resolve
from monitor.config.schema import OrmConfig, SchoolConfig
from monitor.delivery.notices import review_alert
from monitor.delivery.outbox import enqueue
from monitor.replies.windows import school_calendar
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.models import utcnow


def hold(
    session: Session,
    item: models.Item,
    labels: Iterable[Label],
    assessment: Assessment,
    now: datetime,
) -> None:
    """Keep each label for the DSL's review, once per item and label (an edit adds none)."""
    for label in labels:
        held = select(models.Review.id).where(
            models.Review.item_id == item.id, models.Review.label == str(label)
        )
        if session.scalar(held) is None:
            session.add(
                models.Review(
                    school_id=item.school_id,
                    item_id=item.id,
                    label=str(label),
                    score=assessment.score(label),
                    created_at=now,
                )
            )


class ReviewSummary:
    """Queues each school's morning review summary for its DSLs, at most once a day."""

    def __init__(
        self, db: Database, config: OrmConfig, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db, self.config, self.clock = db, config, clock
        self.zone = ZoneInfo(config.service.timezone)

    def tick(self) -> int:
        """Summarise every school whose morning it is; how many summaries were queued."""
        now = self.clock()
        queued = 0
        for school in self.config.schools:
            with self.db.session() as session:
                queued += self._summarise(session, school, now)
        return queued

    def _summarise(self, session: Session, school: SchoolConfig, now: datetime) -> int:
        local = now.astimezone(self.zone)
        if school.email_channel is None or local.time() < school.reply_windows.morning_summary:
            return 0
        if not school_calendar(school).is_working_day(local.date()):
            return 0
        stem = f"review:{school.id}:{local.date()}"
        sent_today = select(models.OutboxMessage.id).where(
            models.OutboxMessage.idempotency_key.like(f"{stem}:%")
        )
        if session.scalar(sent_today.limit(1)) is not None:
            return 0  # what was held since waits for tomorrow's summary
        pending = self._pending(session, school, now)
        if not pending:
            return 0
        alert = review_alert(school, pending, now.astimezone(self.zone))
        for person in resolve(school, None, "dsl"):
            enqueue(
                session,
                school_id=school.id,
                item_id=None,
                kind=alert.kind,
                channel=school.email_channel,
                recipient=Recipient(person.email, person.name),
                severity=alert.severity,
                alert=alert,
                key=f"{stem}:{person.email}",
                now=now,
            )
        for review, _ in pending:
            review.summarised_at = now
        return 1

    def _pending(
        self, session: Session, school: SchoolConfig, now: datetime
    ) -> list[tuple[models.Review, models.Item]]:
        query = (
            select(models.Review, models.Item)
            .join(models.Item, models.Item.id == models.Review.item_id)
            .where(
                models.Review.school_id == school.id,
                models.Review.summarised_at.is_(None),
                models.Review.created_at <= now,
            )
            .order_by(models.Review.score.desc(), models.Review.id)
        )
        return [(review, item) for review, item in session.execute(query)]
