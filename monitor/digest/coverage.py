"""What each source could see in a week: so that a quiet week is never mistaken for a blind one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from monitor.calendar.clock import short_local
from monitor.config.schema import SchoolConfig, SourceConfig
from monitor.storage import models

OUTAGE_TEXT = {
    "auth": "token expired or revoked",
    "rate_limited": "rate-limited by the platform",
    "budget": "X read budget spent",
    "unavailable": "platform unreachable or failing",
    "rejected": "requests rejected (check the source's settings)",
    "error": "polling failed (see the service log)",
    "stopped": "orm-monitor was not running",
}
SLACK = timedelta(minutes=1)


@dataclass(frozen=True)
class SourceCoverage:
    """One source's week: `healthy`, `partial` (blind for a while) or `blind` (saw nothing)."""

    source: str
    platform: str
    status: str
    blind_hours: float
    reasons: tuple[str, ...]


Span = tuple[datetime, datetime, str]


def coverage(
    session: Session, school: SchoolConfig, start: datetime, until: datetime, zone: ZoneInfo
) -> tuple[SourceCoverage, ...]:
    """Each configured source's coverage between `start` and `until`."""
    return tuple(_source(session, source, start, until, zone) for source in school.sources)


def _source(
    session: Session, source: SourceConfig, start: datetime, until: datetime, zone: ZoneInfo
) -> SourceCoverage:
    spans = _blind_spans(session, source, start, until, zone)
    blind = _union_seconds([(a, b) for a, b, _ in spans])
    total = (until - start).total_seconds()
    if blind >= total - SLACK.total_seconds():
        status = "blind"
    else:
        status = "partial" if blind > SLACK.total_seconds() else "healthy"
    reasons = tuple(dict.fromkeys(reason for _, _, reason in spans)) if status != "healthy" else ()
    return SourceCoverage(source.display_name, source.type, status, blind / 3600, reasons)


def _blind_spans(
    session: Session, source: SourceConfig, start: datetime, until: datetime, zone: ZoneInfo
) -> list[Span]:
    if not source.enabled:
        return [(start, until, "disabled in the config")]
    account = session.get(models.Account, source.id)
    state = session.get(models.ConnectorState, source.id)
    if account is None or account.created_at >= until:
        return [(start, until, "not watched yet")]
    if state is None or state.last_success_at is None:
        return [(start, until, "never polled successfully")]
    spans = [_span(o, start, until, zone) for o in _outages(session, source.id, start, until)]
    if account.created_at > start:
        spans.append(
            (
                start,
                account.created_at,
                f"watched only from {short_local(account.created_at, zone)}",
            )
        )
    return spans


def _outages(
    session: Session, source_id: str, start: datetime, until: datetime
) -> list[models.SourceOutage]:
    outage = models.SourceOutage
    query = select(outage).where(
        outage.source_id == source_id,
        outage.started_at < until,
        or_(outage.ended_at.is_(None), outage.ended_at > start),
    )
    return list(session.scalars(query.order_by(outage.started_at)))


def _span(outage: models.SourceOutage, start: datetime, until: datetime, zone: ZoneInfo) -> Span:
    begin, end = max(outage.started_at, start), min(outage.ended_at or until, until)
    what = OUTAGE_TEXT.get(outage.kind, outage.kind)
    when = (
        f"{short_local(begin, zone)} to {short_local(end, zone)}"
        if outage.ended_at
        else f"since {short_local(begin, zone)}"
    )
    return (begin, end, f"{what} ({when})")


def _union_seconds(spans: list[tuple[datetime, datetime]]) -> float:
    """Seconds covered by at least one span (outages may overlap)."""
    total, reach = 0.0, None
    for begin, end in sorted(spans):
        if reach is not None and begin < reach:
            begin = reach
        if end > begin:
            total += (end - begin).total_seconds()
            reach = end
    return total
