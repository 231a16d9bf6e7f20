"""Spikes: an hourly check of negative or flagged volume against the school's own baseline."""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from alerts.base import Alert, Recipient
from monitor.config.people import resolve
from monitor.config.schema import OrmConfig, SchoolConfig, SpikeConfig
from monitor.delivery.notices import window_item
from monitor.delivery.outbox import enqueue
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """The numbers behind one check: recent volume against the baseline's windows."""

    recent: int
    mean: float
    sd: float
    threshold: float

    @property
    def spike(self) -> bool:
        """True when the recent volume reaches the threshold."""
        return self.recent >= self.threshold


def judge(hourly: Sequence[int], settings: SpikeConfig) -> Verdict:
    """Compare the last `recent_hours` with same-length windows of the hours before them.

    The threshold is the largest of `min_count`, mean + k * sd and `min_ratio` * mean, so a
    quiet school needs a real burst and a busy one a real departure from its usual.
    """
    width = settings.recent_hours
    recent = sum(hourly[-width:])
    baseline = hourly[:-width]
    windows = [sum(baseline[i : i + width]) for i in range(0, len(baseline) - width + 1, width)]
    mean = statistics.fmean(windows) if windows else 0.0
    sd = statistics.pstdev(windows) if len(windows) > 1 else 0.0
    threshold = max(float(settings.min_count), mean + settings.k * sd, settings.min_ratio * mean)
    return Verdict(recent, mean, sd, threshold)


class SpikeWatch:
    """Raises one "possible crisis" alert to SLT per spike, with a cool-down between them."""

    def __init__(
        self, db: Database, config: OrmConfig, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db, self.config, self.clock = db, config, clock
        self.settings = config.alerts.spike

    def check(self) -> dict[str, Verdict]:
        """Check every school once; returns each school's verdict (none when switched off)."""
        verdicts: dict[str, Verdict] = {}
        if not self.settings.enabled:  # [alerts.spike] enabled = false
            return verdicts
        now = self.clock()
        for school in self.config.schools:
            with self.db.session() as session:
                verdicts[school.id] = self._check(session, school, now)
        return verdicts

    def _check(self, session: Session, school: SchoolConfig, now: datetime) -> Verdict:
        hours = self.settings.baseline_days * 24 + self.settings.recent_hours
        items = _flagged_since(session, school.id, now - timedelta(hours=hours), now)
        verdict = judge(_hourly(items, now, hours), self.settings)
        log.debug("school %s: spike check %s", school.id, verdict)
        if verdict.spike and not self._cooling_down(session, school.id, now):
            start = now - timedelta(hours=self.settings.recent_hours)
            self._raise(session, school, verdict, [i for i in items if _when(i) > start], now)
        return verdict

    def _cooling_down(self, session: Session, school_id: str, now: datetime) -> bool:
        since = now - timedelta(hours=self.settings.cooldown_hours)
        query = select(models.OutboxMessage.id).where(
            models.OutboxMessage.school_id == school_id,
            models.OutboxMessage.kind == "spike",
            models.OutboxMessage.created_at > since,
        )
        return session.scalars(query).first() is not None

    def _raise(
        self,
        session: Session,
        school: SchoolConfig,
        verdict: Verdict,
        recent: list[models.Item],
        now: datetime,
    ) -> None:
        log.warning(
            "school %s: possible crisis: %d negative or flagged items in %d h (usual %.1f ± %.1f)",
            school.id,
            verdict.recent,
            self.settings.recent_hours,
            verdict.mean,
            verdict.sd,
        )
        if school.email_channel is None:
            return
        examples = self.config.alerts.flood.examples
        alert = spike_alert(school, verdict, recent, self.settings, examples)
        for person in {p.id: p for p in resolve(school, None, "slt")}.values():
            enqueue(
                session,
                school_id=school.id,
                item_id=None,
                kind="spike",
                channel=school.email_channel,
                recipient=Recipient(person.email, person.name),
                severity="high",
                alert=alert,
                now=now,
                key=f"spike:{school.id}:{now:%Y-%m-%dT%H}:{person.email}",
            )


def spike_alert(
    school: SchoolConfig,
    verdict: Verdict,
    recent: list[models.Item],
    settings: SpikeConfig,
    examples: int,
) -> Alert:
    """The "possible crisis" alert, with the items behind it."""
    shown = sorted(recent, key=_when, reverse=True)[:examples]
    return Alert(
        kind="spike",
        school_name=school.name,
        severity="high",
        headline=f"possible crisis: {verdict.recent} negative or flagged items in "
        f"{settings.recent_hours} h",
        items=tuple(window_item(item) for item in shown),
        summary=(
            f"{verdict.recent} negative or flagged items in the last {settings.recent_hours} "
            f"hours, against a usual {verdict.mean:.1f} (± {verdict.sd:.1f}) over the last "
            f"{settings.baseline_days} days."
        ),
        action=(
            "Check what is being said and agree one response; the account manager keeps "
            "replies consistent. Consider the school's crisis communication plan."
        ),
        extra_count=len(recent) - len(shown),
    )


def _flagged_since(
    session: Session, school_id: str, since: datetime, now: datetime
) -> list[models.Item]:
    query = (
        select(models.Item)
        .join(models.Assessment, models.Assessment.item_id == models.Item.id)
        .where(
            models.Item.school_id == school_id,
            models.Item.by_school.is_(False),
            func.coalesce(models.Item.created_at, models.Item.first_seen_at) > since,
            or_(
                models.Assessment.sentiment == "negative",
                models.Assessment.severity.not_in(["info"]),
            ),
        )
        .distinct()
    )
    return [i for i in session.scalars(query) if since < _when(i) <= now]


def _when(item: models.Item) -> datetime:
    return item.created_at or item.first_seen_at


def _hourly(items: list[models.Item], now: datetime, hours: int) -> list[int]:
    counts = [0] * hours
    for item in items:
        age = int((now - _when(item)).total_seconds() // 3600)
        if 0 <= age < hours:
            counts[hours - 1 - age] += 1
    return counts
