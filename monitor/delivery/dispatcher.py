"""The dispatcher: claims due outbox rows, delivers each through its channel once, records why."""

from __future__ import annotations

import base64
import logging
import os
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerts.base import (
    Alert,
    Attachment,
    Channel,
    DeliveryResult,
    DeliveryStatus,
    Recipient,
    Report,
)
from monitor.classify.base import Severity
from monitor.config.schema import AlertsConfig, OrmConfig, SchoolConfig
from monitor.delivery.journal import SentJournal
from monitor.delivery.outbox import (
    DELIVERED,
    FAILED,
    PENDING,
    SENDING,
    doubt,
    enqueue,
    settle_expired,
)
from monitor.delivery.reply_status import before_send
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.models import utcnow

log = logging.getLogger(__name__)

FAILPOINT_ENV = "ORM_MONITOR_FAILPOINT"
BATCH = 50
TAKEN_OVER = "taken over"
"""A claimed row another dispatcher took after the claim's lease ran out: not sent here."""


@dataclass(frozen=True)
class DispatchReport:
    """What one dispatcher run did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    reconciled: int = 0
    taken_over: int = 0


ChannelFactory = Callable[[SchoolConfig, str], Channel]


class Dispatcher:
    """Claims due outbox rows, delivers them, and stores each recipient's result."""

    def __init__(
        self,
        db: Database,
        config: OrmConfig,
        channel_for: ChannelFactory,
        journal: SentJournal,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db, self.config, self.channel_for, self.clock = db, config, channel_for, clock
        self.journal = journal
        self.settings: AlertsConfig = config.alerts
        self._lock = threading.Lock()  # one delivery run at a time per process

    @property
    def busy(self) -> bool:
        """True while a delivery run is in progress."""
        return self._lock.locked()

    def run_once(self, stop: Callable[[], bool] = lambda: False) -> DispatchReport:
        """Reconcile interrupted sends, then deliver everything due, most severe first."""
        with self._lock:
            return self._run(stop)

    def _run(self, stop: Callable[[], bool]) -> DispatchReport:
        counts = {DELIVERED: 0, "retry": 0, FAILED: 0, TAKEN_OVER: 0}
        reconciled = self._reconcile()
        while not stop():
            token = uuid.uuid4().hex  # fencing: each claim is this run's until it is settled
            claimed = self._claim(BATCH, token)
            if not claimed:
                break
            for index, row_id in enumerate(claimed):
                if stop():
                    self._release(claimed[index:], token)
                    break
                counts[self._deliver(row_id, token)] += 1
        return DispatchReport(
            counts[DELIVERED], counts["retry"], counts[FAILED], reconciled, counts[TAKEN_OVER]
        )

    def reconcile(self) -> int:
        """Rows whose claim's lease ran out: delivered if journal or channel confirm, else resent.

        A row still within its lease is never touched, at start included: the dispatcher that
        claimed it may still be sending it (it renews the lease right before each send).
        """
        with self._lock:
            return self._reconcile()

    def _reconcile(self) -> int:
        now = self.clock()
        query = select(models.OutboxMessage).where(
            models.OutboxMessage.status == SENDING, models.OutboxMessage.claimed_until < now
        )
        with self.db.session() as session:
            stale = session.scalars(query).all()
            return sum(self._settle_in_doubt(session, row, now) for row in stale)

    def _settle_in_doubt(self, session: Session, row: models.OutboxMessage, now: datetime) -> bool:
        journalled = self.journal.lookup(row.idempotency_key)
        confirmed = (
            True if journalled is not None else self._channel(row).confirm(row.idempotency_key)
        )
        if confirmed:
            settled = {"status": DELIVERED, "delivered_at": now}
            settled["provider_message_id"] = journalled or row.provider_message_id
        else:
            settled = {"status": PENDING, "next_attempt_at": now, "last_error": doubt(confirmed)}
        if not settle_expired(session, row, now, settled):
            return False  # its holder renewed the lease or settled it meanwhile
        if confirmed:
            log.info(
                "outbox %d: delivered before the interruption (confirmed by the %s)",
                row.id,
                "journal" if journalled is not None else f"{row.channel} channel",
            )
        else:
            log.warning("outbox %d: %s", row.id, settled["last_error"])
        return True

    def _claim(self, limit: int, token: str) -> list[int]:
        now = self.clock()
        until = now + timedelta(seconds=self.settings.lease_seconds)
        with self.db.session() as session:
            due = session.execute(
                select(models.OutboxMessage.id, models.OutboxMessage.severity)
                .where(
                    models.OutboxMessage.status == PENDING,
                    models.OutboxMessage.next_attempt_at <= now,
                )
                .order_by(models.OutboxMessage.id)
                .limit(limit)
            ).all()
            ordered = sorted(due, key=lambda r: _urgency(r.severity, r.id))
            return [r.id for r in ordered if self._take(session, r.id, until, token)]

    def prune_journal(self) -> None:
        """Forget journal lines whose rows the database has settled."""
        with self._lock, self.db.session() as session:
            unsettled = session.scalars(
                select(models.OutboxMessage.idempotency_key).where(
                    models.OutboxMessage.status == SENDING
                )
            ).all()
            self.journal.prune(unsettled)

    def _release(self, row_ids: list[int], token: str) -> None:
        """Hand back rows claimed but not attempted (the service is stopping)."""
        with self.db.session() as session:
            session.execute(
                update(models.OutboxMessage)
                .where(
                    models.OutboxMessage.id.in_(row_ids),
                    models.OutboxMessage.status == SENDING,
                    models.OutboxMessage.claim_token == token,
                )
                .values(
                    status=PENDING,
                    claimed_until=None,
                    claim_token=None,
                    attempts=models.OutboxMessage.attempts - 1,
                )
                .execution_options(synchronize_session=False)
            )

    def _take(self, session: Session, row_id: int, until: datetime, token: str) -> bool:
        """Claim one row; another dispatcher that got there first wins."""
        taken = session.execute(
            update(models.OutboxMessage)
            .where(models.OutboxMessage.id == row_id, models.OutboxMessage.status == PENDING)
            .values(
                status=SENDING,
                claimed_until=until,
                claim_token=token,
                attempts=models.OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]

    def _still_ours(self, row_id: int, token: str) -> bool:
        """Right before a send: renew the lease if the claim is still ours (fencing)."""
        until = self.clock() + timedelta(seconds=self.settings.lease_seconds)
        with self.db.session() as session:
            held = session.execute(
                update(models.OutboxMessage)
                .where(
                    models.OutboxMessage.id == row_id,
                    models.OutboxMessage.status == SENDING,
                    models.OutboxMessage.claim_token == token,
                )
                .values(claimed_until=until)
                .execution_options(synchronize_session=False)
            )
        if held.rowcount == 1:  # type: ignore[attr-defined]
            return True
        log.warning(
            "outbox %d: its claim ran out (alerts.lease_seconds) and another dispatcher took it "
            "over; not sending it from here",
            row_id,
        )
        return False

    def _deliver(self, row_id: int, token: str) -> str:
        if not self._still_ours(row_id, token):
            return TAKEN_OVER
        with self.db.session() as session:
            row = session.get_one(models.OutboxMessage, row_id)
            alert = Alert.from_json(row.payload)
            if alert.digest_id is not None:
                alert = replace(alert, report=_report(session, alert.digest_id))
            alert = before_send(session, row, alert, self.clock(), self.config.service.timezone)
        recipient = Recipient(row.recipient, row.recipient_name)
        try:
            result = self._channel(row).send(alert, recipient, row.idempotency_key)
        except Exception as error:  # a bug in a channel must not lose the alert
            log.exception("outbox %d: %s channel raised", row.id, row.channel)
            result = DeliveryResult.retry(f"bug in channel: {error!r}")
        if result.status is DeliveryStatus.DELIVERED:
            self.journal.record(row.idempotency_key, result.provider_message_id)
        _failpoint("dispatch-after-send")
        with self.db.session() as session:
            row = session.get_one(models.OutboxMessage, row_id, with_for_update=True)
            if (row.status, row.claim_token) != (SENDING, token):
                return self._record_late(row, result)
            return self._record(session, row, result)

    def _record_late(self, row: models.OutboxMessage, result: DeliveryResult) -> str:
        """A send that outlived its lease: the row is no longer ours, so its result is only kept
        where it stops a second send (a delivery to a row handed back but not yet re-claimed)."""
        log.warning(
            "outbox %d: the send took longer than alerts.lease_seconds and the row was handed "
            "to another dispatcher meanwhile (%s here)",
            row.id,
            result.status,
        )
        if result.status is not DeliveryStatus.DELIVERED or row.status != PENDING:
            return TAKEN_OVER
        row.status, row.delivered_at, row.claimed_until = DELIVERED, self.clock(), None
        row.provider_message_id, row.last_error = result.provider_message_id, None
        return DELIVERED

    def _record(self, session: Session, row: models.OutboxMessage, result: DeliveryResult) -> str:
        now = self.clock()
        row.claimed_until, row.claim_token = None, None
        session.add(
            models.AuditEntry(
                actor="dispatcher",
                action=f"delivery.{result.status}",
                school_id=row.school_id,
                item_id=row.item_id,
                detail={
                    "outbox_id": row.id,
                    "channel": row.channel,
                    "attempt": row.attempts,
                    "error": result.error,
                },
            )
        )
        if result.status is DeliveryStatus.DELIVERED:
            row.status, row.delivered_at = DELIVERED, now
            row.provider_message_id, row.last_error = result.provider_message_id, None
            return DELIVERED
        row.last_error = result.error
        if result.status is DeliveryStatus.RETRY and row.attempts < self.settings.max_attempts:
            row.status = PENDING
            row.next_attempt_at = self._next_attempt(row.attempts, result.retry_after, now)
            log.warning(
                "outbox %d to %s via %s: %s (attempt %d, next at %s)",
                row.id,
                row.recipient,
                row.channel,
                result.error,
                row.attempts,
                row.next_attempt_at.isoformat(timespec="seconds"),
            )
            return "retry"
        row.status = FAILED
        log.error(
            "outbox %d to %s via %s failed for good: %s",
            row.id,
            row.recipient,
            row.channel,
            result.error,
        )
        self._fall_back(session, row)
        return FAILED

    def _next_attempt(self, attempts: int, retry_after: datetime | None, now: datetime) -> datetime:
        delay = min(
            self.settings.backoff_initial_seconds * 2 ** (attempts - 1),
            self.settings.backoff_max_seconds,
        )
        at = now + timedelta(seconds=delay * random.uniform(0.9, 1.1))
        return max(at, retry_after) if retry_after else at

    def _fall_back(self, session: Session, row: models.OutboxMessage) -> None:
        """An alert every retry failed to deliver goes to the school's fallback channel."""
        school = self.config.school(row.school_id)
        fallback = school.fallback_channel
        if fallback is None or fallback == row.channel or row.fallback_of is not None:
            return
        for recipient in self._fallback_recipients(school, fallback, row):
            enqueue(
                session,
                school_id=row.school_id,
                item_id=row.item_id,
                kind=row.kind,
                channel=fallback,
                recipient=recipient,
                severity=row.severity,
                alert=Alert.from_json(row.payload),
                key=f"{row.idempotency_key}:fallback:{recipient.address}",
            )
        session.flush()
        for extra in session.scalars(
            select(models.OutboxMessage).where(
                models.OutboxMessage.idempotency_key.like(f"{row.idempotency_key}:fallback:%")
            )
        ):
            extra.fallback_of = row.id
        log.warning("outbox %d: handed to the fallback channel %s", row.id, fallback)

    def _fallback_recipients(
        self, school: SchoolConfig, fallback: str, row: models.OutboxMessage
    ) -> list[Recipient]:
        if not self.channel_for(school, fallback).delivers_to_people:
            return [Recipient(fallback, f"Teams: {fallback}")]
        if "@" in row.recipient:
            return [Recipient(row.recipient, row.recipient_name)]
        return [Recipient(p.email, p.name) for p in school.people_with("account_manager")]

    def _channel(self, row: models.OutboxMessage) -> Channel:
        return self.channel_for(self.config.school(row.school_id), row.channel)


def _report(session: Session, digest_id: int) -> Report | None:
    """A built digest as the email channels send it: HTML, text, charts inline, PDF attached."""
    digest = session.get(models.Digest, digest_id)
    if digest is None:
        log.warning("digest %d is no longer stored; sending its headline only", digest_id)
        return None
    charts = tuple(
        Attachment(f"{c['name']}.png", "image/png", base64.b64decode(c["png"]), c["cid"])
        for c in digest.images.get("charts", ())
    )
    pdf = Attachment(f"orm-digest-{digest.scope}-{digest.week}.pdf", "application/pdf", digest.pdf)
    return Report(digest.subject, digest.html, digest.text, (*charts, pdf))


def _urgency(severity_name: str, row_id: int) -> tuple[int, int]:
    try:
        severity = Severity.parse(severity_name)
    except KeyError:
        severity = Severity.LOW
    return (-int(severity), row_id)


def _failpoint(name: str) -> None:
    """Crash-test hook: `ORM_MONITOR_FAILPOINT=<name>` kills the process here, like a power cut."""
    if os.environ.get(FAILPOINT_ENV) == name:
        log.critical("failpoint %s reached: exiting without cleanup", name)
        os._exit(70)
