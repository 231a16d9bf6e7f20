"""Reply windows: the 24-hour rule kept for the account manager, from opening to closing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time
from functools import cache
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from monitor.calendar.working_days import Nation, WorkingCalendar, calendar_for, due_at
from monitor.classify.base import Assessment, Label
from monitor.config.schema import SchoolConfig, SourceConfig
from monitor.storage import models

log = logging.getLogger(__name__)

URGENT_LABELS = frozenset({Label.THREAT, Label.SAFEGUARDING, Label.EXTREMISM})
OPEN, ANSWERED, DISMISSED = "open", "answered", "dismissed"


class WindowError(LookupError):
    """A window cannot be found or changed; the message says why."""


@cache
def _calendar(
    nation: Nation,
    closures: tuple[str, ...],
    ics: str | None,
    terms: tuple[str, ...],
    terms_closed: bool,
    end_of_day: time,
) -> WorkingCalendar:
    return calendar_for(
        nation,
        closures=closures,
        closure_ics=Path(ics) if ics else None,
        term_holidays=terms,
        term_holidays_closed=terms_closed,
        end_of_day=end_of_day,
    )


def school_calendar(school: SchoolConfig) -> WorkingCalendar:
    """The school's working-day calendar (built once per distinct setting)."""
    c = school.calendar
    return _calendar(
        school.nation,
        tuple(c.closures),
        c.closures_ics,
        tuple(c.term_holidays),
        c.term_holidays_closed,
        c.end_of_day,
    )


def opens_window(
    school: SchoolConfig,
    source: SourceConfig,
    own_account: bool,
    item: models.Item,
    assessment: Assessment,
) -> bool:
    """Whether an item is owed a reply: a comment or mention made through a school account."""
    settings = school.reply_windows
    opens = source.opens_windows if source.opens_windows is not None else own_account
    if not opens or item.by_school or item.kind not in settings.kinds:
        return False
    quiet = {Label.PRAISE} if not settings.praise_opens else set()
    quiet |= {Label.SPAM} if not settings.spam_opens else set()
    labels = assessment.labels
    return not labels or not labels <= quiet


def open_window(
    session: Session, school: SchoolConfig, item: models.Item, assessment: Assessment
) -> models.ReplyWindow:
    """Open the item's window with its due time; closed at once if the school already replied."""
    received = item.created_at or item.first_seen_at
    urgent = any(assessment.alerts_now(label) for label in URGENT_LABELS)
    due = due_at(received, school_calendar(school), hours=school.reply_windows.hours, urgent=urgent)
    window = models.ReplyWindow(
        item_id=item.id,
        school_id=school.id,
        source_id=item.source_id,
        opened_at=received,
        due_at=due,
        status=OPEN,
        urgent=urgent,
    )
    session.add(window)
    session.flush()
    reply = _earlier_reply(session, item)
    if reply is not None:
        _close(
            session,
            window,
            ANSWERED,
            f"reply seen on {item.source_id}",
            reply.created_at or reply.first_seen_at,
            None,
            reply.first_seen_at,
        )
    return window


def _earlier_reply(session: Session, item: models.Item) -> models.Item | None:
    """A reply by the school in the item's thread, stored before the item was assessed."""
    query = select(models.Item).where(
        models.Item.source_id == item.source_id,
        models.Item.by_school.is_(True),
        or_(
            models.Item.parent_id == item.external_id,
            models.Item.thread_id == item.external_id,
            *([models.Item.thread_id == item.thread_id] if item.thread_id else []),
        ),
    )
    replies = [r for r in session.scalars(query) if _after(r, item)]
    return min(replies, key=lambda r: r.created_at or r.first_seen_at, default=None)


def _after(reply: models.Item, item: models.Item) -> bool:
    if reply.created_at is None or item.created_at is None:
        return True
    return reply.created_at >= item.created_at


def close_by_reply(session: Session, reply: models.Item, now: datetime) -> list[int]:
    """The school replied in a thread: close its open windows there; returns their ids."""
    keys = {k for k in (reply.parent_id, reply.thread_id) if k}
    if not keys:
        return []
    query = (
        select(models.ReplyWindow, models.Item)
        .join(models.Item, models.Item.id == models.ReplyWindow.item_id)
        .where(
            models.ReplyWindow.status == OPEN,
            models.Item.source_id == reply.source_id,
            or_(models.Item.external_id.in_(keys), models.Item.thread_id.in_(keys)),
        )
    )
    closed = []
    for window, item in session.execute(query):
        if _after(reply, item):
            _close(
                session,
                window,
                ANSWERED,
                f"reply seen on {reply.source_id}",
                reply.created_at or now,
                None,
                now,
            )
            closed.append(window.id)
    return closed


def close(
    session: Session, item_id: int, *, how: str, by: str, note: str | None, now: datetime
) -> models.ReplyWindow:
    """Close an item's window by hand (`respond` or `dismiss`); WindowError if it cannot be."""
    window = session.scalar(select(models.ReplyWindow).where(models.ReplyWindow.item_id == item_id))
    if window is None and session.get(models.Item, item_id) is None:
        raise WindowError(
            f"item {item_id} does not exist: alerts and `orm-monitor status` show item numbers"
        )
    if window is None:
        raise WindowError(f"item {item_id} has no reply window (it needs no reply)")
    if window.status != OPEN:
        raise WindowError(
            f"item {item_id}'s window is already closed ({window.status} by {window.closed_by})"
        )
    first_reply = now if how == ANSWERED else None
    _close(session, window, how, by, first_reply, note, now)
    return window


def _close(
    session: Session,
    window: models.ReplyWindow,
    status: str,
    by: str,
    first_reply_at: datetime | None,
    note: str | None,
    closed_at: datetime,
) -> None:
    window.status, window.closed_by, window.close_note = status, by, note
    window.closed_at = closed_at
    window.first_reply_at = first_reply_at
    cancelled = session.execute(
        update(models.OutboxMessage)
        .where(
            models.OutboxMessage.window_id == window.id, models.OutboxMessage.status == "pending"
        )
        .values(status="cancelled", last_error="reply window closed first")
        .execution_options(synchronize_session=False)
    )
    session.add(
        models.AuditEntry(
            actor=by,
            action=f"window.{status}",
            school_id=window.school_id,
            item_id=window.item_id,
            detail={
                "window_id": window.id,
                "note": note,
                "cancelled_alerts": int(getattr(cancelled, "rowcount", 0) or 0),
            },
        )
    )
    log.info("window %d (item %d) closed: %s by %s", window.id, window.item_id, status, by)


@dataclass(frozen=True)
class OpenWindow:
    """An open window as `orm-monitor status` lists it."""

    item_id: int
    school_id: str
    source_id: str | None
    due_at: datetime
    urgent: bool
    excerpt: str


def open_windows(session: Session, school_ids: list[str]) -> list[OpenWindow]:
    """Every open window of these schools, soonest due first."""
    query = (
        select(models.ReplyWindow, models.Item.text)
        .join(models.Item, models.Item.id == models.ReplyWindow.item_id)
        .where(models.ReplyWindow.status == OPEN, models.ReplyWindow.school_id.in_(school_ids))
        .order_by(models.ReplyWindow.due_at)
    )
    return [
        OpenWindow(
            w.item_id, w.school_id, w.source_id, w.due_at, w.urgent, " ".join(text.split())[:80]
        )
        for w, text in session.execute(query)
    ]
