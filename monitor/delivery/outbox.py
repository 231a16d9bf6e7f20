"""The durable outbox: alerts are written with the decision that owes them and delivered once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerts.base import Alert, Recipient
from monitor.storage import models
from monitor.storage.models import utcnow

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"


def enqueue(
    session: Session,
    *,
    school_id: str,
    item_id: int | None,
    kind: str,
    channel: str,
    recipient: Recipient,
    severity: str,
    alert: Alert,
    key: str,
    window_id: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Add an outbox row in the caller's transaction; False if that key is already owed."""
    exists = session.scalar(
        select(models.OutboxMessage.id).where(models.OutboxMessage.idempotency_key == key)
    )
    if exists is not None:
        return False
    session.add(
        models.OutboxMessage(
            idempotency_key=key,
            school_id=school_id,
            item_id=item_id,
            kind=kind,
            channel=channel,
            recipient=recipient.address,
            recipient_name=recipient.name,
            severity=severity,
            payload=alert.to_json(),
            status=PENDING,
            attempts=0,
            next_attempt_at=now or utcnow(),
            created_at=now or utcnow(),
            window_id=window_id,
        )
    )
    return True


def doubt(confirmed: bool | None) -> str:
    """Why a row interrupted while sending goes out again (the channel could not confirm it)."""
    if confirmed is False:
        return "interrupted while sending; not delivered"
    return "interrupted while sending; resent with the same message id"


def settle_expired(
    session: Session, row: models.OutboxMessage, now: datetime, values: dict[str, object]
) -> bool:
    """Settle a row only if it is still the claim whose lease ran out (nobody renewed it)."""
    settled = session.execute(
        update(models.OutboxMessage)
        .where(
            models.OutboxMessage.id == row.id,
            models.OutboxMessage.status == SENDING,
            models.OutboxMessage.claim_token == row.claim_token,  # IS NULL for an old claim
            models.OutboxMessage.claimed_until < now,
        )
        .values(claimed_until=None, claim_token=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(settled.rowcount == 1)  # type: ignore[attr-defined]
