"""How a school kept its reply rule in a week: windows opened, and those due judged once."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from monitor.calendar.clock import short_local
from monitor.config.people import resolve
from monitor.config.schema import SchoolConfig
from monitor.replies.windows import ANSWERED, DISMISSED, OPEN
from monitor.storage import models


@dataclass(frozen=True)
class Breach:
    """A reply window the school missed, and whose account it was."""

    item_id: int
    source: str
    received: str
    due: str
    replied: str
    responsible: str


@dataclass(frozen=True)
class ReplyStats:
    """How the school kept its reply rule: windows opened this week, and those due in it."""

    opened: int
    in_time: int
    late: int
    dismissed: int
    pending: int
    still_open_late: int
    median_hours: float | None
    p90_hours: float | None
    breaches: tuple[Breach, ...]

    @property
    def share_in_time(self) -> float | None:
        """Answered within the window, of those answered or breached (None if none were)."""
        counted = self.in_time + self.late + self.still_open_late
        return self.in_time / counted if counted else None


def reply_stats(
    session: Session, school: SchoolConfig, start: datetime, until: datetime, zone: ZoneInfo
) -> ReplyStats:
    """Windows opened in [start, until), and how those due in it were met (each counted once)."""
    window = models.ReplyWindow
    windows = session.scalars(
        select(window)
        .where(window.school_id == school.id)
        .where(
            or_(
                and_(window.opened_at >= start, window.opened_at < until),
                and_(window.due_at >= start, window.due_at < until),
            )
        )
        .order_by(window.opened_at)
    ).all()
    opened = [w for w in windows if start <= w.opened_at < until]
    # Performance counts each window once: in the week its reply was due.
    due = [w for w in windows if start <= w.due_at < until]
    answered = [(w, _replied_at(w)) for w in due if w.status == ANSWERED]
    hours = sorted((at - w.opened_at).total_seconds() / 3600 for w, at in answered if at)
    late = [w for w, at in answered if at is None or at > w.due_at]
    open_late = [w for w in due if w.status == OPEN]
    return ReplyStats(
        opened=len(opened),
        in_time=len(answered) - len(late),
        late=len(late),
        dismissed=sum(1 for w in opened if w.status == DISMISSED),
        pending=sum(1 for w in opened if w.status == OPEN and w.due_at >= until),
        still_open_late=len(open_late),
        median_hours=statistics.median(hours) if hours else None,
        p90_hours=_nearest_rank(hours, 0.9),
        breaches=tuple(
            _breach(school, w, zone) for w in sorted([*late, *open_late], key=lambda w: w.due_at)
        ),
    )


def _replied_at(window: models.ReplyWindow) -> datetime | None:
    return window.first_reply_at or window.closed_at


def _nearest_rank(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile: a time that really occurred, never interpolated."""
    if not values:
        return None
    return values[max(0, math.ceil(share * len(values)) - 1)]


def _breach(school: SchoolConfig, window: models.ReplyWindow, zone: ZoneInfo) -> Breach:
    source = next((s for s in school.sources if s.id == window.source_id), None)
    replied = _replied_at(window) if window.status == ANSWERED else None
    return Breach(
        item_id=window.item_id,
        source=source.display_name if source else (window.source_id or "unknown"),
        received=short_local(window.opened_at, zone),
        due=short_local(window.due_at, zone),
        replied=short_local(replied, zone) if replied else "no reply yet",
        responsible=", ".join(p.name for p in resolve(school, source, "lead")) or "nobody set",
    )
