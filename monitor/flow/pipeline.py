"""The one place an item moves from fetched to routed: poll → store → classify → route → outbox."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.base import Recipient
from connectors.base import Connector, ConnectorError, FetchResult, Item, Registry
from monitor.calendar.clock import time_zone
from monitor.classify import build_classifier, model_layer
from monitor.classify.base import (
    PAGING_LABELS,
    Assessment,
    Classifier,
    Label,
    Severity,
    Watchlists,
    assessable_text,
)
from monitor.classify.transformer import current_heads_dir
from monitor.config.schema import OrmConfig, SchoolConfig, SourceConfig, connector_config
from monitor.config.secrets import read_secret
from monitor.config.watchlist import pupil_list
from monitor.delivery import reply_status
from monitor.delivery.notices import item_alert
from monitor.delivery.outbox import enqueue
from monitor.flow import floods, health, review
from monitor.flow.incidents import open_incident
from monitor.flow.routing import RoutingDecision, decide
from monitor.replies import windows
from monitor.replies.links import LinkMaker, Links, no_links
from monitor.storage import assessments, ingest, models
from monitor.storage.engine import Database
from monitor.storage.models import utcnow

log = logging.getLogger(__name__)

ASSESS_BATCH = 64


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one source did."""

    source_id: str
    counts: ingest.IngestCounts
    not_modified: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Preview:
    """One fetched item with what the classifier and the router would do (nothing stored)."""

    item: Item
    assessment: Assessment
    decision: RoutingDecision


class Pipeline:
    """Moves items from connectors to the outbox for one configuration."""

    def __init__(
        self,
        db: Database,
        config: OrmConfig,
        registry: Registry,
        *,
        secrets: Callable[[str], str] = read_secret,
        clock: Callable[[], datetime] = utcnow,
        links: LinkMaker = no_links,
    ) -> None:
        self.db, self.config, self.registry = db, config, registry
        self.secrets, self.clock, self.links = secrets, clock, links
        self._connectors: dict[str, Connector] = {}
        self._classifiers: dict[str, Classifier] = {}
        self._assessing = threading.Lock()  # polls run in parallel; one of them assesses at a time

    def connector(self, source_id: str) -> Connector:
        """The connector instance for a source (built once)."""
        if source_id not in self._connectors:
            _, source = self.config.source(source_id)
            factory = self.registry.get(source.type)
            settings = connector_config(source, factory.Config)
            self._connectors[source_id] = factory(
                source_id, settings, self.secrets, clock=self.clock
            )
        return self._connectors[source_id]

    def default_minutes(self, source: SourceConfig) -> float:
        """The source's interval when the config sets none: its connector's default."""
        return source.interval_minutes or self.registry.get(source.type).default_interval_minutes

    def classifier(self, school: SchoolConfig) -> Classifier:
        """The school's classifier (its watch lists are its own)."""
        if school.id not in self._classifiers:
            self._classifiers[school.id] = build_classifier(
                watchlists_for(school, self.secrets),
                model_layer(
                    self.config.classifier,
                    self.config.service.models_dir,
                    current_heads_dir(
                        self.config.classifier, self.config.service.models_dir, school.id
                    ),
                ),
            )
        return self._classifiers[school.id]

    def poll(self, source_id: str) -> PollOutcome:
        """Fetch once; store the items and the new cursor in one transaction."""
        school, source = self.config.source(source_id)
        with self.db.session() as session:
            cursor = health.cursor(session, source_id)
        try:
            result = self.connector(source_id).fetch(cursor)
        except ConnectorError as error:
            return self._failed(school, source, error)
        except Exception as error:  # a bug in a connector must not stop the service
            log.exception("source %s: unexpected error while polling", source_id)
            return self._failed(school, source, error)
        return self._stored(school, source, result)

    def _stored(
        self, school: SchoolConfig, source: SourceConfig, result: FetchResult
    ) -> PollOutcome:
        now = self.clock()
        with self.db.session() as session:
            counts = ingest.ingest(session, source.id, school.id, result.items, now)
            health.warned(session, school, source, result.warnings, now)
            health.succeeded(
                session,
                source,
                dict(result.new_state),
                now,
                self.default_minutes(source),
                result.warnings,
            )
        log.debug(
            "source %s: %d new, %d edited, %d unchanged",
            source.id,
            counts.new,
            counts.edited,
            counts.unchanged,
        )
        return PollOutcome(source.id, counts, not_modified=result.not_modified)

    def _failed(self, school: SchoolConfig, source: SourceConfig, error: Exception) -> PollOutcome:
        with self.db.session() as session:
            message = health.failed(
                session, school, source, error, self.clock(), self.default_minutes(source)
            )
        return PollOutcome(source.id, ingest.IngestCounts(), error=message)

    def assess_pending(self, limit: int = 1000) -> int:
        """Classify and route items not yet assessed at their current version; returns how many."""
        with self._assessing:
            return self._assess_up_to(limit)

    def _assess_up_to(self, limit: int) -> int:
        """Everything pending is planned together, so a pile-on in one poll is one group."""
        done = 0
        for school_id, item_ids in self._pending(limit).items():
            done += self._assess(self.config.school(school_id), item_ids)
        return done

    def _pending(self, size: int) -> dict[str, list[int]]:
        known = [s.id for s in self.config.schools]
        query = (
            select(models.Item.id, models.Item.school_id)
            .where(
                models.Item.assessed_version < models.Item.version, models.Item.school_id.in_(known)
            )
            .order_by(models.Item.id)
            .limit(size)
        )
        with self.db.session() as session:
            rows = session.execute(query).all()
        batch: dict[str, list[int]] = {}
        for item_id, school_id in rows:
            batch.setdefault(school_id, []).append(item_id)
        return batch

    def _assess(self, school: SchoolConfig, item_ids: list[int]) -> int:
        with self.db.session() as session:
            items = session.scalars(
                select(models.Item).where(models.Item.id.in_(item_ids)).order_by(models.Item.id)
            ).all()
        assessments: list[Assessment] = []
        for start in range(0, len(items), ASSESS_BATCH):
            chunk = items[start : start + ASSESS_BATCH]
            texts = [assessable_text(i.title, i.text) for i in chunk]
            assessments += self.classifier(school).classify(texts)
        candidates = [
            self._candidate(school, i, a) for i, a in zip(items, assessments, strict=True)
        ]
        now = self.clock()
        with self.db.session() as session:
            single, groups = floods.plan(session, self.config.alerts.flood, candidates, now)
        for candidate in single:
            with self.db.session() as session:
                self._record(session, school, candidate)
        for group in groups:
            with self.db.session() as session:
                self._record_flood(session, school, group, now)
        return len(items)

    def _candidate(
        self, school: SchoolConfig, item: models.Item, assessment: Assessment
    ) -> floods.Candidate:
        _, source = self.config.source(item.source_id)
        decision = decide(school, source, assessment)
        alerting = bool(decision.destinations) and not item.by_school and self._alertable(item)
        return floods.Candidate(item, assessment, decision, source, alerting)

    def _store_assessment(self, session: Session, candidate: floods.Candidate) -> models.Item:
        """The assessment, and the labels held for the DSL's review, in the caller's transaction."""
        item = session.merge(candidate.item)
        assessments.record(session, item, candidate.assessment, candidate.decision.severity)
        held = candidate.decision.review
        if held and not item.by_school and self._alertable(item):
            review.hold(session, item, held, candidate.assessment, self.clock())
        return item

    def _record(self, session: Session, school: SchoolConfig, candidate: floods.Candidate) -> None:
        """Store the assessment, its reply window and its outbox rows in one transaction."""
        previous = assessments.alerted_labels(session, candidate.item.id)
        item = self._store_assessment(session, candidate)
        if item.by_school:
            windows.close_by_reply(session, item, self.clock())
            return
        window = self._window(session, school, candidate, item)
        if not candidate.alerting:
            return
        self._incident(session, school, candidate, item)
        decision, source = candidate.decision, candidate.source
        for destination in decision.destinations:
            labels = tuple(lbl for lbl in destination.labels if lbl not in previous)
            if not labels:
                continue
            alert = item_alert(
                school,
                source,
                item,
                candidate.assessment,
                decision.severity,
                labels,
                *self._reply_parts(session, window, item, labels),
            )
            enqueue(
                session,
                school_id=school.id,
                item_id=item.id,
                kind="item",
                channel=destination.channel,
                recipient=destination.recipient,
                severity=str(decision.severity),
                alert=alert,
                key=f"item:{item.id}:v{item.version}:{destination.channel}:"
                f"{destination.recipient.address}",
                now=self.clock(),
            )

    def _reply_parts(
        self,
        session: Session,
        window: models.ReplyWindow | None,
        item: models.Item,
        labels: tuple[Label, ...],
    ) -> tuple[Links, str]:
        """The links and reply line of one alert: a serious one asks for no reply."""
        if any(label in PAGING_LABELS for label in labels):
            return self.links(None, item.id, labels), ""
        if window is None:
            return (), ""
        zone = time_zone(self.config.service.timezone)
        line = reply_status.window_line(session, window, self.clock(), zone)
        open_id = window.id if window.status == windows.OPEN else None
        return self.links(open_id, item.id, labels), line

    def _window(
        self, session: Session, school: SchoolConfig, candidate: floods.Candidate, item: models.Item
    ) -> models.ReplyWindow | None:
        """Open the item's reply window if it is owed one and has none yet."""
        existing = session.scalar(
            select(models.ReplyWindow).where(models.ReplyWindow.item_id == item.id)
        )
        if existing is not None or not self._alertable(item):
            return existing
        connector = self.registry.get(candidate.source.type)
        own = connector.own_account and item.account not in connector.search_accounts
        if not windows.opens_window(school, candidate.source, own, item, candidate.assessment):
            return None
        return windows.open_window(session, school, item, candidate.assessment)

    def _record_flood(
        self, session: Session, school: SchoolConfig, group: floods.FloodGroup, now: datetime
    ) -> None:
        """Store the group's assessments and one grouped alert per recipient, together."""
        for candidate in group.members:
            item = self._store_assessment(session, candidate)
            if candidate.alerting:
                self._incident(session, school, candidate, item)
        wanted: dict[tuple[str, str], Recipient] = {}
        for candidate in group.members:
            for d in candidate.decision.destinations:
                wanted.setdefault((d.channel, d.recipient.address), d.recipient)
        severity = max(c.decision.severity for c in group.members)
        settings = self.config.alerts.flood
        alert = floods.group_alert(school, group, severity, settings)
        for (channel, address), recipient in wanted.items():
            enqueue(
                session,
                school_id=school.id,
                item_id=None,
                kind="flood",
                channel=channel,
                recipient=recipient,
                severity=str(severity),
                alert=alert,
                key=f"flood:{group.key}:{floods.bucket(now, settings)}:{channel}:{address}",
                now=now,
            )
        log.warning(
            "school %s: pile-on on %s: %d items folded into one alert",
            school.id,
            group.key,
            len(group.members),
        )

    def _incident(
        self, session: Session, school: SchoolConfig, candidate: floods.Candidate, item: models.Item
    ) -> None:
        """A high or critical item opens an incident: the case log the digest reports on."""
        decision = candidate.decision
        if decision.severity < Severity.HIGH:
            return
        labels = ", ".join(str(label) for label in decision.labels)
        summary = f"{labels} on {candidate.source.display_name} (item {item.id})"
        open_incident(session, school.id, item.id, str(decision.severity), summary, self.clock())

    def _alertable(self, item: models.Item) -> bool:
        """Items much older than when we first saw them (a new source's backlog) are not alerted."""
        max_age = self.config.alerts.max_item_age_hours
        if not max_age or item.created_at is None:
            return True
        return item.first_seen_at - item.created_at <= timedelta(hours=max_age)

    def preview(self, source_id: str) -> list[Preview]:
        """Fetch and classify without storing anything (`orm-monitor poll --dry-run`)."""
        school, source = self.config.source(source_id)
        with self.db.session() as session:
            cursor = health.cursor(session, source_id)
        result = self.connector(source_id).fetch(cursor)
        texts = [assessable_text(i.title, i.text) for i in result.items]
        assessments = self.classifier(school).classify(texts)
        return [
            Preview(item, a, decide(school, source, a))
            for item, a in zip(result.items, assessments, strict=True)
        ]

    def close(self) -> None:
        """Close every connector's network clients."""
        for connector in self._connectors.values():
            connector.close()


def watchlists_for(school: SchoolConfig, secrets: Callable[[str], str]) -> Watchlists:
    """A school's watch lists from its config (pupil names only as keyed hashes)."""
    pupils = pupil_list(school, secrets)
    return Watchlists(
        school_names=(school.name, *school.names),
        staff_names=tuple(school.staff_names),
        pupil_name_hashes=pupils.hashes,
        pupil_hash_key=pupils.key,
    )
