"""What `orm-monitor status` shows: each source's health, the outbox, and open reply windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from monitor.calendar.clock import duration_text, short_local
from monitor.config.schema import OrmConfig
from monitor.replies.windows import OpenWindow, open_windows
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.models import utcnow


@dataclass(frozen=True)
class SourceHealth:
    """One source's line in the status report."""

    source_id: str
    school_id: str
    enabled: bool
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    next_poll_at: datetime | None
    stopped: bool
    items: int


@dataclass(frozen=True)
class Report:
    """The whole status report."""

    sources: list[SourceHealth]
    outbox: dict[str, int]
    undelivered: list[tuple[int, str, str, str | None]]
    open_windows: list[OpenWindow]


def collect(db: Database, config: OrmConfig) -> Report:
    """Read the status report from the database."""
    with db.session() as session:
        states = {s.source_id: s for s in session.scalars(select(models.ConnectorState))}
        counts: dict[str, int] = {
            source: n
            for source, n in session.execute(
                select(models.Item.source_id, func.count()).group_by(models.Item.source_id)
            )
        }
        outbox: dict[str, int] = {
            status: n
            for status, n in session.execute(
                select(models.OutboxMessage.status, func.count()).group_by(
                    models.OutboxMessage.status
                )
            )
        }
        failed = session.execute(
            select(
                models.OutboxMessage.id,
                models.OutboxMessage.channel,
                models.OutboxMessage.recipient,
                models.OutboxMessage.last_error,
            )
            .where(models.OutboxMessage.status == "failed")
            .order_by(models.OutboxMessage.id.desc())
            .limit(10)
        ).all()
        windows = open_windows(session, [s.id for s in config.schools])
    sources = [
        _health(
            school.id, source.id, source.enabled, states.get(source.id), counts.get(source.id, 0)
        )
        for school, source in config.sources()
    ]
    undelivered = [(r.id, r.channel, r.recipient, r.last_error) for r in failed]
    return Report(sources, outbox, undelivered, windows)


@dataclass(frozen=True)
class Classified:
    """An item as the classifier and router left it, for printing."""

    severity: str
    labels: list[str]
    recipients: list[str]
    kind: str
    external_id: str
    url: str | None
    text: str


def classified(db: Database, item_ids: Sequence[int]) -> list[Classified]:
    """The stored items with their latest assessment and the people alerts were queued for."""
    found = []
    with db.session() as session:
        items = session.scalars(
            select(models.Item).where(models.Item.id.in_(item_ids)).order_by(models.Item.id)
        )
        for item in items:
            assessment = session.scalars(
                select(models.Assessment)
                .where(models.Assessment.item_id == item.id)
                .order_by(models.Assessment.id.desc())
            ).first()
            queued = session.scalars(
                select(models.OutboxMessage.recipient_name)
                .where(models.OutboxMessage.item_id == item.id)
                .distinct()
            ).all()
            labels = sorted({entry["label"] for entry in assessment.labels}) if assessment else []
            severity = assessment.severity if assessment else "not classified"
            found.append(
                Classified(
                    severity,
                    labels,
                    sorted(queued),
                    item.kind,
                    item.external_id,
                    item.url,
                    item.text,
                )
            )
    return found


def _health(
    school_id: str, source_id: str, enabled: bool, state: models.ConnectorState | None, items: int
) -> SourceHealth:
    if state is None:
        return SourceHealth(source_id, school_id, enabled, None, None, None, None, False, items)
    return SourceHealth(
        source_id,
        school_id,
        enabled,
        state.last_success_at,
        state.last_error_at,
        state.last_error,
        state.next_poll_at,
        state.auth_failed,
        items,
    )


def _time_left(due: datetime, now: datetime) -> str:
    return (
        f"{duration_text(due - now)} left"
        if due >= now
        else f"OVERDUE by {duration_text(now - due)}"
    )


def render(report: Report, timezone: str, now: datetime | None = None) -> str:
    """The report as text for a terminal, times in the school's time zone."""
    zone = ZoneInfo(timezone)
    now = now or utcnow()
    lines = ["Sources:"]
    for s in report.sources:
        state = (
            "disabled"
            if not s.enabled
            else "STOPPED (credentials refused)"
            if s.stopped
            else "failing"
            if _failing(s)
            else "ok"
            if s.last_success_at
            else "not polled yet"
        )
        lines.append(f"  {s.source_id} ({s.school_id}): {state}; {s.items} item(s)")
        lines.append(
            f"    last success {_when(s.last_success_at, zone)}, "
            f"next poll {_when(s.next_poll_at, zone)}"
        )
        if _failing(s):
            lines.append(f"    last error {_when(s.last_error_at, zone)}: {s.last_error}")
    backlog = report.outbox.get("pending", 0) + report.outbox.get("sending", 0)
    lines.append(
        f"Outbox: {backlog} waiting, {report.outbox.get('delivered', 0)} delivered, "
        f"{report.outbox.get('failed', 0)} failed"
    )
    for row_id, channel, recipient, error in report.undelivered:
        lines.append(f"  failed #{row_id} via {channel} to {recipient}: {error}")
    lines.append(f"Open reply windows: {len(report.open_windows)}")
    for window in report.open_windows:
        lines.append(
            f"  item {window.item_id} ({window.school_id}, {window.source_id}): "
            f"{_time_left(window.due_at, now)}, due {_when(window.due_at, zone)}"
            f"{' [urgent]' if window.urgent else ''}"
        )
        lines.append(f"    {window.excerpt!r}")
    return "\n".join(lines)


def _failing(s: SourceHealth) -> bool:
    if s.last_error_at is None:
        return False
    return s.last_success_at is None or s.last_error_at > s.last_success_at


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    return short_local(at, zone) if at else "never"
