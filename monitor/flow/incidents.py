"""Incidents: a high or critical item opens one (the case log); staff close it with a note."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage import models

OPEN, CLOSED = "open", "closed"


class IncidentError(LookupError):
    """An incident cannot be found or changed; the message says why."""


def open_incident(
    session: Session, school_id: str, item_id: int, severity: str, summary: str, now: datetime
) -> bool:
    """Open the item's incident in the caller's transaction, unless it has one already."""
    exists = session.scalar(select(models.Incident.id).where(models.Incident.item_id == item_id))
    if exists is not None:
        return False
    session.add(
        models.Incident(
            school_id=school_id,
            item_id=item_id,
            severity=severity,
            status=OPEN,
            summary=summary,
            opened_at=now,
        )
    )
    return True


def close_incident(
    session: Session, incident_id: int, by: str, note: str, now: datetime
) -> models.Incident:
    """Close an incident, recording who closed it and why."""
    incident = session.get(models.Incident, incident_id)
    if incident is None:
        raise IncidentError(f"no incident {incident_id}; 'orm-monitor status' lists open ones")
    if incident.status != OPEN:
        raise IncidentError(f"incident {incident_id} is already {incident.status}")
    incident.status, incident.closed_at = CLOSED, now
    session.add(
        models.AuditEntry(
            at=now,
            actor=by,
            action="incident.closed",
            school_id=incident.school_id,
            item_id=incident.item_id,
            detail={"incident_id": incident.id, "note": note},
        )
    )
    return incident
