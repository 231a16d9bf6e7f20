"""What an alert says about the reply it asks for: due when and how long is left, or who answered.

The line is written when the alert is queued and written again just before it is sent, so an
alert that waited in the outbox (a retry, a slow poll) never asks for a reply already given.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from alerts.base import Alert
from monitor.calendar.clock import LONDON, duration_text, time_zone
from monitor.storage import models

REPLIED_LINK, NO_REPLY_LINK = "I have replied", "No reply needed"
REPLY_LINKS = frozenset({REPLIED_LINK, NO_REPLY_LINK})
"""The labels of the one-click links that close a reply window."""
QUERY_ACTION = "Reply on the platform, even if only to acknowledge."
CRITICISM_ACTION = "Acknowledge and offer to take the conversation to the complaints route."
REPLY_ACTION = (
    f'Reply on the platform (a short acknowledgement is enough), then click "{REPLIED_LINK}" '
    f"(or run 'orm-monitor respond ITEM'); if no reply is needed, click \"{NO_REPLY_LINK}\"."
)
ANSWERED_ACTION = "No reply is needed now: open the post if you want to read the answer given."
REPLY_ACTIONS = frozenset({QUERY_ACTION, CRITICISM_ACTION, REPLY_ACTION})
"""Actions that only ask for a reply: replaced once the window is closed."""
NO_LONGER_NEEDED = "no reply needed any more"
OPEN, ANSWERED = "open", "answered"


def zone_name(zone: ZoneInfo) -> str:
    """How a time zone is named after a time: "London time" for Europe/London."""
    return "London time" if zone.key == LONDON else zone.key


def day_and_time(moment: datetime, zone: ZoneInfo) -> str:
    """`Mon 23 Nov, 18:00` in `zone`."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b, %H:%M}"


def due_line(due_at: datetime, now: datetime, zone: ZoneInfo) -> str:
    """`Reply by Mon 23 Nov, 18:00 (London time) — 23 h 40 min left`, or `missed by 2 h 05 min`."""
    when = f"{day_and_time(due_at, zone)} ({zone_name(zone)})"
    if now >= due_at:
        return f"Reply was due {when} — missed by {duration_text(now - due_at)}"
    return f"Reply by {when} — {duration_text(due_at - now)} left"


def closed_line(window: models.ReplyWindow, answered_by: str | None, zone: ZoneInfo) -> str:
    """Who closed the window and when: `Already answered by @stmarys at 14:02 on Mon 23 Nov …`."""
    at = window.first_reply_at or window.closed_at or window.opened_at
    local = at.astimezone(zone)
    when = f"at {local:%H:%M} on {local:%a} {local.day} {local:%b} ({zone_name(zone)})"
    if window.status != ANSWERED:
        return f"No reply needed: marked so by {window.closed_by or 'staff'} {when}"
    who = answered_by or f"{window.closed_by or 'staff'} (recorded)"
    return f"Already answered by {who} {when} — no reply is needed"


def window_line(session: Session, window: models.ReplyWindow, now: datetime, zone: ZoneInfo) -> str:
    """The reply line for a window as it stands at `now`."""
    if window.status == OPEN:
        return due_line(window.due_at, now, zone)
    return closed_line(window, _answered_by(session, window), zone)


def before_send(
    session: Session, row: models.OutboxMessage, alert: Alert, now: datetime, timezone: str
) -> Alert:
    """The alert as it is true when sent: time left now, or "already answered" without links."""
    if not alert.reply_status:
        return alert
    window = _window_of(session, row)
    if window is None:
        return alert
    zone = time_zone(timezone)
    line = window_line(session, window, now, zone)
    if window.status == OPEN:
        return replace(alert, reply_status=line)
    return replace(
        alert,
        reply_status=line,
        headline=_closed_headline(alert),
        action=ANSWERED_ACTION if alert.action in REPLY_ACTIONS else alert.action,
        links=tuple(link for link in alert.links if link[0] not in REPLY_LINKS),
    )


def _closed_headline(alert: Alert) -> str:
    # A reminder's or breach's headline counts down to a reply that is no longer owed.
    if alert.kind in ("reminder", "breach"):
        return NO_LONGER_NEEDED
    return alert.headline


def _window_of(session: Session, row: models.OutboxMessage) -> models.ReplyWindow | None:
    if row.window_id is not None:
        return session.get(models.ReplyWindow, row.window_id)
    if row.item_id is None:
        return None
    return session.scalar(
        select(models.ReplyWindow).where(models.ReplyWindow.item_id == row.item_id)
    )


def _answered_by(session: Session, window: models.ReplyWindow) -> str | None:
    """The school account whose reply in the thread closed the window, as `@handle`."""
    item = session.get(models.Item, window.item_id)
    if item is None or not (window.closed_by or "").startswith("reply seen"):
        return None
    query = (
        select(models.Item)
        .where(
            models.Item.source_id == item.source_id,
            models.Item.by_school.is_(True),
            or_(
                models.Item.parent_id == item.external_id,
                models.Item.thread_id == item.external_id,
                *([models.Item.thread_id == item.thread_id] if item.thread_id else []),
            ),
            *([_not_before(item.created_at)] if item.created_at else []),
        )
        .order_by(models.Item.created_at, models.Item.id)
        .limit(1)
    )
    reply = session.scalar(query)
    return account_name(reply) if reply is not None else None


def _not_before(moment: datetime) -> ColumnElement[bool]:
    return or_(models.Item.created_at.is_(None), models.Item.created_at >= moment)


def account_name(item: models.Item) -> str:
    """The author as staff know the account: `@handle`, else the display name."""
    if item.author_handle:
        handle = item.author_handle
        return handle if handle.startswith("@") else f"@{handle}"
    return item.author_name or item.author_id or "the school's account"
