"""Each source's cursor and health: when to poll next; failures and recoveries logged once."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.base import Alert, Recipient
from connectors.base import (
    AuthError,
    ConnectorError,
    JSONValue,
    PermanentError,
    RateLimited,
    RetriableError,
    SourceWarning,
)
from monitor.config.people import resolve
from monitor.config.schema import SchoolConfig, SourceConfig
from monitor.delivery.outbox import enqueue
from monitor.storage import models

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
JITTER = 0.1
STOPPED = "stopped"
"""The outage kind of a source the service did not poll because the service was not running."""


def state_of(session: Session, source_id: str) -> models.ConnectorState:
    """The source's state row, created on first use."""
    state = session.get(models.ConnectorState, source_id)
    if state is None:
        state = models.ConnectorState(
            source_id=source_id, cursor={}, consecutive_failures=0, auth_failed=False
        )
        session.add(state)
    return state


def cursor(session: Session, source_id: str) -> dict[str, JSONValue]:
    """The cursor saved after the last successful poll."""
    state = session.get(models.ConnectorState, source_id)
    return dict(state.cursor) if state and state.cursor else {}


def interval(source: SourceConfig, default_minutes: float) -> timedelta:
    """The source's polling interval."""
    return timedelta(minutes=source.interval_minutes or default_minutes)


def jittered(delay: timedelta) -> timedelta:
    """`delay` ± 10 %, so that sources do not poll in lockstep."""
    return delay * (1 + random.uniform(-JITTER, JITTER))


def succeeded(
    session: Session,
    source: SourceConfig,
    new_cursor: dict[str, Any],
    now: datetime,
    default_minutes: float = 15,
    warnings: tuple[SourceWarning, ...] = (),
) -> None:
    """Save the cursor; log recovery once; a poll that saw nothing (budget spent) is blind."""
    blind = next((w for w in warnings if w.blind), None)
    if blind is None:
        _end_outage(session, source.id, now)
    else:
        _outage(session, source.id, "budget", blind.message, now)
    state = state_of(session, source.id)
    if state.consecutive_failures:
        log.info(
            "source %s: recovered after %d failed poll(s)", source.id, state.consecutive_failures
        )
    state.cursor = new_cursor
    state.last_poll_at = state.last_success_at = now
    state.consecutive_failures = 0
    state.auth_failed = False
    state.next_poll_at = now + jittered(interval(source, default_minutes))


def failed(
    session: Session,
    school: SchoolConfig,
    source: SourceConfig,
    error: Exception,
    now: datetime,
    default_minutes: float = 15,
) -> str:
    """Record a failed poll and when to try again; returns the one-line error."""
    state = state_of(session, source.id)
    message = error.one_line() if isinstance(error, ConnectorError) else f"bug: {error!r}"
    _outage(session, source.id, outage_kind(error), message, now)
    first = state.consecutive_failures == 0
    state.consecutive_failures += 1
    state.last_poll_at = state.last_error_at = now
    state.last_error = message
    if isinstance(error, AuthError):
        state.auth_failed = True
        state.next_poll_at = None
        _tell_it_lead(session, school, source, message, now)
        log.error("source %s: %s; polling stops until the config changes", source.id, message)
        return message
    state.next_poll_at = now + backoff(source, state.consecutive_failures, error, default_minutes)
    if first:
        log.warning("source %s: %s", source.id, message)
    return message


def backoff(
    source: SourceConfig, failures: int, error: Exception, default_minutes: float
) -> timedelta:
    """Exponential backoff from the interval, capped, never before a rate limit resets."""
    delay = min(interval(source, default_minutes) * 2 ** (failures - 1), MAX_BACKOFF)
    delay = jittered(delay)
    retry_at = error.retry_at if isinstance(error, RetriableError) else None
    if retry_at is not None:
        delay = max(delay, retry_at - models.utcnow())
    return delay


def _tell_it_lead(
    session: Session, school: SchoolConfig, source: SourceConfig, message: str, now: datetime
) -> None:
    tell_it_lead(
        session,
        school,
        source,
        headline=f"{source.display_name} stopped: its credentials were refused",
        summary=message,
        action="Renew the token or permission for this source, then restart orm-monitor.",
        key=f"auth:{now.date().isoformat()}",
        now=now,
    )


def tell_it_lead(
    session: Session,
    school: SchoolConfig,
    source: SourceConfig,
    *,
    headline: str,
    summary: str,
    action: str,
    key: str,
    now: datetime,
) -> None:
    """Email the IT lead (else the account managers) once per `key` for this source."""
    if school.email_channel is None:
        return
    alert = Alert(
        kind="source_error",
        school_name=school.name,
        severity="high",
        headline=headline,
        summary=summary,
        action=action,
    )
    for person in resolve(school, source, "it_lead"):
        enqueue(
            session,
            school_id=school.id,
            item_id=None,
            kind="source_error",
            channel=school.email_channel,
            recipient=Recipient(person.email, person.name),
            severity="high",
            alert=alert,
            key=f"source:{source.id}:{key}:{person.email}",
            now=now,
        )


def warned(
    session: Session,
    school: SchoolConfig,
    source: SourceConfig,
    warnings: tuple[SourceWarning, ...],
    now: datetime,
) -> None:
    """Pass a connector's warnings (token expiry, budget) to the IT lead, each once."""
    for warning in warnings:
        log.warning("source %s: %s (fix: %s)", source.id, warning.message, warning.fix)
        tell_it_lead(
            session,
            school,
            source,
            headline=f"{source.display_name}: {warning.message}",
            summary=warning.message,
            action=warning.fix,
            key=f"warn:{warning.key}",
            now=now,
        )


def outage_kind(error: Exception) -> str:
    """What kind of blindness a failed poll means, as the digest's coverage names it."""
    if isinstance(error, AuthError):
        return "auth"
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, RetriableError):
        return "unavailable"
    return "rejected" if isinstance(error, PermanentError) else "error"


def _open_outage(session: Session, source_id: str) -> models.SourceOutage | None:
    return session.scalar(
        select(models.SourceOutage).where(
            models.SourceOutage.source_id == source_id, models.SourceOutage.ended_at.is_(None)
        )
    )


def _outage(session: Session, source_id: str, kind: str, reason: str, now: datetime) -> None:
    """Start an outage, or carry on the open one if it is of the same kind."""
    current = _open_outage(session, source_id)
    if current is not None and current.kind == kind:
        current.reason = reason
        return
    if current is not None:
        current.ended_at = now
    session.add(models.SourceOutage(source_id=source_id, kind=kind, reason=reason, started_at=now))


def _end_outage(session: Session, source_id: str, now: datetime) -> None:
    current = _open_outage(session, source_id)
    if current is not None:
        current.ended_at = now


def resume_on_start(
    session: Session, source: SourceConfig, now: datetime, expected_gap: timedelta
) -> None:
    """On start every source is polled again; a long silence before it is recorded as blind.

    The IT lead may have renewed a token, so a source stopped for refused credentials is tried
    again. If the last poll is older than `expected_gap`, the service was not running in
    between: the digest must not read that silence as a quiet week.
    """
    state = state_of(session, source.id)
    last = state.last_poll_at
    # An open outage (refused credentials, backing off) already covers the silence since then.
    if last is not None and now - last > expected_gap and _open_outage(session, source.id) is None:
        session.add(
            models.SourceOutage(
                source_id=source.id,
                kind=STOPPED,
                reason="orm-monitor was not running",
                started_at=last,
                ended_at=now,
            )
        )
    if state.auth_failed:
        log.info(
            "source %s: stopped for refused credentials; trying again after restart", source.id
        )
    state.auth_failed = False
    state.next_poll_at = None
