"""The reply clock's tick: reminders before a window runs out, escalation on breach, a summary."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.base import Alert, Recipient
from monitor.calendar.clock import duration_text, short_local
from monitor.classify.base import PAGING_LABELS, Label
from monitor.config.people import resolve
from monitor.config.schema import OrmConfig, Person, SchoolConfig
from monitor.delivery.notices import about, window_item
from monitor.delivery.outbox import enqueue
from monitor.delivery.reply_status import NO_REPLY_LINK, REPLIED_LINK, REPLY_ACTION, due_line
from monitor.replies.links import LinkSigner, window_url
from monitor.replies.windows import OPEN, school_calendar
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.models import utcnow

log = logging.getLogger(__name__)

HANDLED_LINK = "Handled"


@dataclass(frozen=True)
class TickReport:
    """What one tick queued."""

    reminders: int = 0
    breaches: int = 0
    summaries: int = 0


class ReplyClock:
    """Queues each reminder, escalation and morning summary once, surviving restarts."""

    def __init__(
        self,
        db: Database,
        config: OrmConfig,
        signer: LinkSigner,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.config, self.signer, self.clock = db, config, signer, clock
        self.zone = ZoneInfo(config.service.timezone)

    def tick(self) -> TickReport:
        """Check every school's open windows once."""
        now = self.clock()
        counts = [0, 0, 0]
        for school in self.config.schools:
            with self.db.session() as session:
                counts[0] += self._remind(session, school, now)
                counts[1] += self._escalate(session, school, now)
                counts[2] += self._summarise(session, school, now)
        return TickReport(*counts)

    def _open(
        self, session: Session, school: SchoolConfig
    ) -> list[tuple[models.ReplyWindow, models.Item]]:
        query = (
            select(models.ReplyWindow, models.Item)
            .join(models.Item, models.Item.id == models.ReplyWindow.item_id)
            .where(models.ReplyWindow.school_id == school.id, models.ReplyWindow.status == OPEN)
            .order_by(models.ReplyWindow.due_at)
        )
        return list(session.execute(query))

    def _remind(self, session: Session, school: SchoolConfig, now: datetime) -> int:
        before = timedelta(hours=school.reply_windows.remind_before_hours)
        sent = 0
        for window, item in self._open(session, school):
            if window.reminded_at is None and window.due_at - before <= now < window.due_at:
                window.reminded_at = now
                alert = self._window_alert("reminder", school, window, item, now)
                sent += self._send(session, school, window, alert, self._leads(school, item))
        return sent

    def _escalate(self, session: Session, school: SchoolConfig, now: datetime) -> int:
        sent = 0
        for window, item in self._open(session, school):
            if window.breached_at is None and window.due_at <= now:
                window.breached_at = now
                alert = self._window_alert("breach", school, window, item, now)
                people = self._leads(school, item) + resolve(school, None, "slt")
                sent += self._send(session, school, window, alert, people)
        return sent

    def _summarise(self, session: Session, school: SchoolConfig, now: datetime) -> int:
        local = now.astimezone(self.zone)
        if local.time() < school.reply_windows.morning_summary:
            return 0
        if not school_calendar(school).is_working_day(local.date()):
            return 0
        breached = [(w, i) for w, i in self._open(session, school) if w.breached_at is not None]
        if not breached:
            return 0
        alert = self._summary_alert(school, breached, now)
        people = resolve(school, None, "slt") + resolve(school, None, "account_manager")
        return self._send(session, school, None, alert, people, f"summary:{local.date()}")

    def _send(
        self,
        session: Session,
        school: SchoolConfig,
        window: models.ReplyWindow | None,
        alert: Alert,
        people: list[Person],
        key: str | None = None,
    ) -> int:
        if school.email_channel is None:
            return 0
        queued = 0
        for person in {p.id: p for p in people}.values():
            stem = key or f"{alert.kind}:{window.id if window else ''}"
            queued += enqueue(
                session,
                school_id=school.id,
                item_id=window.item_id if window else None,
                kind=alert.kind,
                channel=school.email_channel,
                recipient=Recipient(person.email, person.name),
                severity=alert.severity,
                alert=alert,
                key=f"window-{stem}:{school.id}:{person.email}",
                now=self.clock(),
                window_id=window.id if window else None,
            )
        return 1 if queued else 0

    def _leads(self, school: SchoolConfig, item: models.Item) -> list[Person]:
        source = next((s for s in school.sources if s.id == item.source_id), None)
        return resolve(school, source, "lead")

    def _window_alert(
        self,
        kind: str,
        school: SchoolConfig,
        window: models.ReplyWindow,
        item: models.Item,
        now: datetime,
    ) -> Alert:
        due = short_local(window.due_at, self.zone)
        left = window.due_at - now
        if kind == "reminder":
            headline = f"reply due {due} ({duration_text(left)} left) on {item.source_id}"
            summary = (
                f"A reply to item {item.id} is owed by {due}; {duration_text(left)} remain under "
                "the reply rule."
            )
            severity = "medium"
        else:
            headline = f"reply window breached on {item.source_id} (due {due})"
            summary = f"No reply to item {item.id} was seen by {due}: the reply rule is breached."
            severity = "high"
        return Alert(
            kind=kind,
            school_name=school.name,
            severity=severity,
            headline=headline,
            items=(window_item(item),),
            summary=summary,
            reply_status=due_line(window.due_at, now, self.zone),
            action=REPLY_ACTION,
            links=self.links(window.id),
        )

    def _summary_alert(
        self,
        school: SchoolConfig,
        breached: list[tuple[models.ReplyWindow, models.Item]],
        now: datetime,
    ) -> Alert:
        shown = breached[: self.config.alerts.flood.examples]
        return Alert(
            kind="breach_summary",
            school_name=school.name,
            severity="high",
            headline=f"{len(breached)} reply window(s) still open past their due time",
            items=tuple(window_item(item) for _, item in shown),
            summary=f"Open breaches as of {now.astimezone(self.zone):%a %d %b %H:%M}.",
            action="Reply to each, or close it with 'orm-monitor respond' or 'dismiss'.",
            extra_count=len(breached) - len(shown),
        )

    def links(
        self, window_id: int | None, item_id: int | None = None, labels: Iterable[str] = ()
    ) -> tuple[tuple[str, str], ...]:
        """The one-click links for an alert: "Handled" / "Not a threat" for a serious item,
        else "I have replied" / "No reply needed" for its open window, else none."""
        base = self.config.service.public_url
        serious = tuple(str(label) for label in labels if label in PAGING_LABELS)
        if serious and item_id is not None:
            handled = self.signer.item_token(item_id, "handled")
            mistaken = self.signer.item_token(item_id, "mistaken", serious)
            return (
                (HANDLED_LINK, window_url(base, handled)),
                (mistaken_label(serious), window_url(base, mistaken)),
            )
        if window_id is None:
            return ()
        return (
            (REPLIED_LINK, window_url(base, self.signer.token(window_id, "answered"))),
            (NO_REPLY_LINK, window_url(base, self.signer.token(window_id, "dismissed"))),
        )


def mistaken_label(labels: Iterable[str]) -> str:
    """`Not a threat (teach the classifier)`: the link that records a wrong serious label."""
    return f"Not {' or '.join(about(Label(label)) for label in labels)} (teach the classifier)"
