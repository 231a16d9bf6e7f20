"""What the "Handled" and "Not a threat (teach the classifier)" links of a serious alert do.

A serious alert (threat, safeguarding, sexual, extremism) says "do not engage", so it offers no
"I have replied": "Handled" closes the item's case, and "Not a threat" records the classifier's
mistake as a correction that `orm-monitor classifier train` learns from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.classify.base import Label
from monitor.corrections import feedback
from monitor.flow.incidents import close_incident
from monitor.replies import windows
from monitor.replies.links import WindowAction
from monitor.replies.reminders import HANDLED_LINK, mistaken_label
from monitor.storage import models

ACTOR = "one-click link"
HANDLED_AUDIT = "item.handled"


def verb(action: WindowAction) -> str:
    """The button's words: "Handled" or "Not a threat (teach the classifier)"."""
    return HANDLED_LINK if action.action == "handled" else mistaken_label(action.labels)


def what_it_does(action: WindowAction) -> str:
    """One sentence on the confirmation page."""
    if action.action == "handled":
        return "This closes the item's incident and any reply window, and records who did it:"
    return "This tells the classifier it was wrong about this post, so that it learns:"


def already_done(session: Session, action: WindowAction) -> str | None:
    """Why the link cannot be used again, or None if it can."""
    item_id = action.item_id
    if action.action == "handled":
        done = session.scalar(
            select(models.AuditEntry.id).where(
                models.AuditEntry.item_id == item_id, models.AuditEntry.action == HANDLED_AUDIT
            )
        )
        return "Already recorded as handled." if done is not None else None
    wrong = session.scalars(
        select(models.Correction.label).where(
            models.Correction.item_id == item_id, models.Correction.present.is_(False)
        )
    ).all()
    if action.labels and set(action.labels) <= set(wrong):
        return "This correction is already recorded."
    return None


def perform(session: Session, action: WindowAction, now: datetime) -> str:
    """Record the action in the caller's transaction; returns what was done."""
    assert action.item_id is not None
    if action.action == "mistaken":
        labels = [Label(label) for label in action.labels]
        feedback.record(session, action.item_id, wrong=labels, by=ACTOR)
        return f"Recorded: “{verb(action)}”. The next classifier training learns from it."
    return _handle(session, action.item_id, action.nonce, now)


def _handle(session: Session, item_id: int, nonce: str, now: datetime) -> str:
    incidents = session.scalars(
        select(models.Incident.id).where(
            models.Incident.item_id == item_id, models.Incident.status == "open"
        )
    ).all()
    for incident_id in incidents:
        close_incident(session, incident_id, ACTOR, "handled", now)
    window = session.scalar(select(models.ReplyWindow).where(models.ReplyWindow.item_id == item_id))
    if window is not None and window.status == windows.OPEN:
        windows.close(session, item_id, how=windows.DISMISSED, by=ACTOR, note="handled", now=now)
    item = session.get_one(models.Item, item_id)
    session.add(
        models.AuditEntry(
            at=now,
            actor=ACTOR,
            action=HANDLED_AUDIT,
            school_id=item.school_id,
            item_id=item_id,
            detail={"link": nonce, "incidents_closed": list(incidents)},
        )
    )
    return "Recorded as handled. Thank you."
