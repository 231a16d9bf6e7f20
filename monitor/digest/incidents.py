"""Incidents: the case log of serious items, with the actions taken as the audit log shows them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from monitor.calendar.clock import short_local
from monitor.flow.incidents import OPEN
from monitor.storage import models


@dataclass(frozen=True)
class IncidentView:
    """An incident as the digest lists it."""

    id: int
    item_id: int | None
    opened: str
    severity: str
    status: str
    summary: str
    actions: tuple[str, ...]


def incidents(
    session: Session, school_id: str, start: datetime, end: datetime, zone: ZoneInfo
) -> tuple[IncidentView, ...]:
    """Incidents opened in the week or still open at its end, each with its actions so far."""
    incident = models.Incident
    rows = session.scalars(
        select(incident)
        .where(incident.school_id == school_id, incident.opened_at < end)
        .where(
            or_(
                incident.opened_at >= start,
                incident.status == OPEN,
                incident.closed_at >= start,
            )
        )
        .order_by(incident.opened_at)
    ).all()
    actions = _actions(session, [r.item_id for r in rows if r.item_id is not None], end, zone)
    return tuple(
        IncidentView(
            id=r.id,
            item_id=r.item_id,
            opened=short_local(r.opened_at, zone),
            severity=r.severity,
            status=r.status if r.closed_at is None or r.closed_at < end else OPEN,
            summary=r.summary,
            actions=tuple(actions.get(r.item_id or -1, ())),
        )
        for r in rows
    )


def _actions(
    session: Session, item_ids: list[int], end: datetime, zone: ZoneInfo
) -> dict[int, list[str]]:
    if not item_ids:
        return {}
    entries = session.scalars(
        select(models.AuditEntry)
        .where(models.AuditEntry.item_id.in_(item_ids), models.AuditEntry.at < end)
        .order_by(models.AuditEntry.at, models.AuditEntry.id)
    ).all()
    outbox_ids = [e.detail.get("outbox_id") for e in entries if e.detail.get("outbox_id")]
    named = select(models.OutboxMessage.id, models.OutboxMessage.recipient_name).where(
        models.OutboxMessage.id.in_(outbox_ids)
    )
    recipients = {row.id: row.recipient_name for row in session.execute(named)}
    found: dict[int, list[str]] = defaultdict(list)
    for entry in entries:
        text = _action_text(entry, recipients)
        if text and entry.item_id is not None:
            found[entry.item_id].append(f"{short_local(entry.at, zone)} {text}")
    return found


def _action_text(entry: models.AuditEntry, recipients: dict[int, str]) -> str | None:
    detail = entry.detail or {}
    if entry.action == "delivery.delivered":
        who = recipients.get(int(detail.get("outbox_id") or 0)) or "someone"
        return f"alert delivered to {who} ({detail.get('channel')})"
    if entry.action == "delivery.failed":
        return f"alert could not be delivered ({detail.get('channel')})"
    if entry.action.startswith("window."):
        what = {"window.answered": "reply recorded", "window.dismissed": "marked no reply needed"}
        return f"{what.get(entry.action, entry.action)} by {entry.actor}"
    if entry.action == "incident.closed":
        note = detail.get("note") or ""
        return f"incident closed by {entry.actor}" + (f": {note}" if note else "")
    return None
