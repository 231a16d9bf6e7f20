"""Building a digest for a school or the trust, and queueing it once through the outbox."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.base import Recipient
from monitor.config.people import resolve
from monitor.config.schema import OrmConfig, Person, SchoolConfig
from monitor.delivery.outbox import enqueue
from monitor.digest.figures import school_week
from monitor.digest.render import DigestDocument, TrustView, content_id, render
from monitor.digest.week import Week, latest_due, send_time
from monitor.storage import models
from monitor.storage.engine import Database
from monitor.storage.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Queued:
    """What queueing one digest did: `digest_id` is None when it had been queued before."""

    digest_id: int | None
    messages: int
    built_at: datetime | None = None


def tenants(config: OrmConfig) -> list[SchoolConfig]:
    """Everyone who gets a digest: each school, then the trust (as a tenant) if configured."""
    return [*config.schools, *([config.trust.as_school()] if config.trust else [])]


def build(
    session: Session, config: OrmConfig, scope: str, week: Week, now: datetime
) -> DigestDocument:
    """The digest of one school, or the trust's roll-up, for one ISO week as the database has it."""
    zone = ZoneInfo(config.service.timezone)
    if config.trust is not None and scope == config.trust.id:
        weeks = [school_week(session, school, week, now, zone) for school in config.schools]
        trust = TrustView(config.trust.name, week.label(), week.span())
        return render(weeks, trust, now.astimezone(zone))
    school = config.school(scope)
    return render([school_week(session, school, week, now, zone)], None, now.astimezone(zone))


def recipients(tenant: SchoolConfig) -> list[Person]:
    """The people the digest is emailed to (`digest.recipients`: roles or person ids)."""
    people = [p for who in tenant.digest.recipients for p in resolve(tenant, None, who)]
    return list({p.id: p for p in people}.values())


def queue(
    session: Session, tenant: SchoolConfig, week: Week, document: DigestDocument, now: datetime
) -> Queued:
    """Store the digest once and owe it to each recipient and Teams channel, in one transaction."""
    built_at = built_before(session, tenant.id, week)
    if built_at is not None:
        return Queued(None, 0, built_at)
    digest = _stored(tenant.id, week, document, now)
    session.add(digest)
    session.flush()
    alert = replace(document.teams, digest_id=digest.id)
    stem = f"digest:{tenant.id}:{week.label()}"
    count = 0
    for person in recipients(tenant) if tenant.email_channel else []:
        count += enqueue(
            session,
            school_id=tenant.id,
            item_id=None,
            kind="digest",
            channel=tenant.email_channel or "",
            recipient=Recipient(person.email, person.name),
            severity="info",
            alert=alert,
            key=f"{stem}:{person.email}",
            now=now,
        )
    for name in tenant.digest.teams:
        count += enqueue(
            session,
            school_id=tenant.id,
            item_id=None,
            kind="digest",
            channel=name,
            recipient=Recipient(name, f"Teams: {name}"),
            severity="info",
            alert=document.teams,
            key=f"{stem}:teams:{name}",
            now=now,
        )
    return Queued(digest.id, count, now)


def _stored(scope: str, week: Week, document: DigestDocument, now: datetime) -> models.Digest:
    charts = [
        {
            "name": c.name,
            "cid": content_id(c),
            "alt": c.alt,
            "png": base64.b64encode(c.png).decode("ascii"),
        }
        for c in document.email_charts
    ]
    return models.Digest(
        scope=scope,
        week=week.label(),
        built_at=now,
        subject=document.subject,
        html=document.html,
        text=document.text,
        pdf=document.pdf,
        images={"charts": charts},
        headline={"summary": document.teams.summary},
    )


class DigestJob:
    """Sends each school's (and the trust's) digest once, at its time or as soon as possible after.

    If the service was down at the send time, the next run after it starts sends the missed
    digest; a digest already stored for that week is never built or sent again.
    """

    def __init__(
        self, db: Database, config: OrmConfig, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db, self.config, self.clock = db, config, clock
        self.zone = ZoneInfo(config.service.timezone)

    def run(self) -> int:
        """Build and queue every digest now due; returns how many were queued."""
        queued = 0
        for tenant in tenants(self.config):
            if tenant.digest.enabled:
                queued += self._maybe_send(tenant)
        return queued

    def due_week(self, tenant: SchoolConfig) -> Week:
        """The newest week whose digest is due now for this school or trust."""
        settings = tenant.digest
        return latest_due(self.clock(), settings.weekday, settings.send_at, self.zone)

    def _maybe_send(self, tenant: SchoolConfig) -> int:
        week, now = self.due_week(tenant), self.clock()
        settings = tenant.digest
        with self.db.session() as session:
            school = session.get(models.School, tenant.id)
            if school is None or school.created_at > send_time(
                week, settings.weekday, settings.send_at, self.zone
            ):
                return 0  # not watched before that digest was due: nothing to report on
            if built_before(session, tenant.id, week) is not None:
                return 0
            document = build(session, self.config, tenant.id, week, now)
        try:
            with self.db.session() as session:
                result = queue(session, tenant, week, document, now)
        except IntegrityError:
            return 0  # another worker stored this week's digest first
        if result.digest_id is None:
            return 0
        log.info(
            "digest %s for %s queued for %d recipient(s)", week.label(), tenant.id, result.messages
        )
        return 1


def built_before(session: Session, scope: str, week: Week) -> datetime | None:
    """When this school's (or trust's) digest for `week` was stored, if it was."""
    return session.scalar(
        select(models.Digest.built_at).where(
            models.Digest.scope == scope, models.Digest.week == week.label()
        )
    )
