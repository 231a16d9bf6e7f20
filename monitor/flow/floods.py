"""Pile-ons: many flagged items on one thread or source in a short time become one alert."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.base import Alert
from monitor.classify.base import Assessment, Severity
from monitor.config.schema import FloodConfig, SchoolConfig, SourceConfig
from monitor.delivery.notices import alert_item
from monitor.flow.routing import RoutingDecision
from monitor.storage import models

ACTION = (
    "A pile-on: consider hiding comments or turning them off on the post, report abusive "
    "accounts to the platform, and support anyone named. Every item is kept as evidence."
)


@dataclass(frozen=True)
class Candidate:
    """An item just classified, with its routing and whether it would alert on its own."""

    item: models.Item
    assessment: Assessment
    decision: RoutingDecision
    source: SourceConfig
    alerting: bool

    @property
    def groupable(self) -> bool:
        """Alerting, and not critical: a threat or disclosure is never folded into a group."""
        return self.alerting and self.decision.severity < Severity.CRITICAL


@dataclass(frozen=True)
class FloodGroup:
    """Items folded into one alert: on one thread, or on one source."""

    key: str
    scope: str
    source: SourceConfig
    members: tuple[Candidate, ...]
    earlier: int


def plan(
    session: Session, settings: FloodConfig, candidates: list[Candidate], now: datetime
) -> tuple[list[Candidate], list[FloodGroup]]:
    """Split candidates into those alerted one by one and the pile-on groups."""
    since = now - timedelta(minutes=settings.window_minutes)
    rest = [c for c in candidates if c.groupable]
    groups: list[FloodGroup] = []
    for scope, limit in (("thread", settings.per_thread), ("source", settings.per_source)):
        found, rest = _group(session, scope, limit, rest, since)
        groups += found
    grouped = {id(c) for g in groups for c in g.members}
    return [c for c in candidates if id(c) not in grouped], groups


def _group(
    session: Session, scope: str, limit: int, candidates: list[Candidate], since: datetime
) -> tuple[list[FloodGroup], list[Candidate]]:
    by_key: dict[str, list[Candidate]] = {}
    for c in candidates:
        key = _key(scope, c.item)
        if key is not None:
            by_key.setdefault(key, []).append(c)
    groups: list[FloodGroup] = []
    grouped: set[int] = set()
    for key, members in by_key.items():
        earlier = _recent(session, scope, members[0].item, since)
        if earlier + len(members) >= limit:
            groups.append(FloodGroup(key, scope, members[0].source, tuple(members), earlier))
            grouped.update(id(c) for c in members)
    return groups, [c for c in candidates if id(c) not in grouped]


def _key(scope: str, item: models.Item) -> str | None:
    if scope == "thread":
        return f"thread:{item.source_id}:{item.thread_id}" if item.thread_id else None
    return f"source:{item.source_id}"


def _recent(session: Session, scope: str, item: models.Item, since: datetime) -> int:
    """Flagged items on the same thread or source assessed since `since`."""
    query = (
        select(func.count(func.distinct(models.Item.id)))
        .join(models.Assessment, models.Assessment.item_id == models.Item.id)
        .where(
            models.Item.source_id == item.source_id,
            models.Item.by_school.is_(False),
            models.Assessment.created_at >= since,
            models.Assessment.severity.not_in(["info", "critical"]),
        )
    )
    if scope == "thread":
        query = query.where(models.Item.thread_id == item.thread_id)
    return session.scalar(query) or 0


def bucket(now: datetime, settings: FloodConfig) -> int:
    """The flood window `now` falls in: at most one grouped alert per key per window."""
    return int(now.timestamp() // (settings.window_minutes * 60))


def group_alert(
    school: SchoolConfig, group: FloodGroup, severity: Severity, settings: FloodConfig
) -> Alert:
    """One alert standing for the whole group, with a count and the worst examples."""
    worst = sorted(group.members, key=_badness, reverse=True)[: settings.examples]
    counts = Counter(str(lbl) for c in group.members for lbl in c.decision.labels)
    breakdown = ", ".join(f"{n} {label.replace('_', ' ')}" for label, n in counts.most_common())
    place = "one thread" if group.scope == "thread" else "the source"
    earlier = f" (and {group.earlier} earlier)" if group.earlier else ""
    return Alert(
        kind="flood",
        school_name=school.name,
        severity=str(severity),
        headline=f"pile-on: {len(group.members)} flagged items on {place} of "
        f"{group.source.display_name}",
        items=tuple(alert_item(c.source, c.item, c.assessment, c.decision.labels) for c in worst),
        summary=f"{len(group.members)} flagged items{earlier} within {settings.window_minutes:g} "
        f"minutes: {breakdown}. The worst are below; the rest are stored.",
        action=ACTION,
        extra_count=len(group.members) - len(worst),
    )


def _badness(c: Candidate) -> tuple[int, float]:
    return (int(c.decision.severity), max((s.score for s in c.assessment.signals), default=0.0))
