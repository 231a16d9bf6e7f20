"""A school's week in numbers: what the digest reports, read from the database only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from monitor.calendar.clock import duration_text, short_local
from monitor.classify.base import DEFAULT_SEVERITY, Label, Severity
from monitor.classify.rules import redact_pupil_names
from monitor.config.schema import SchoolConfig, route_for, severity_for
from monitor.config.watchlist import load_name_hashes
from monitor.digest.coverage import SourceCoverage, coverage
from monitor.digest.incidents import IncidentView, incidents
from monitor.digest.reply_stats import ReplyStats, reply_stats
from monitor.digest.week import Week
from monitor.storage import models

TREND_WEEKS = 8
EXCERPT_CHARS = 280
AREAS: dict[str, tuple[Label, ...]] = {
    "content": (Label.HATE, Label.EXTREMISM, Label.SEXUAL),
    "contact": (Label.THREAT, Label.SAFEGUARDING),
    "conduct": (Label.HARASSMENT, Label.INSULT, Label.DEFAMATION, Label.PERSONAL_DATA),
    "commerce": (Label.SPAM,),
    "reputation": (Label.CRITICISM, Label.QUERY, Label.PRAISE),
}
"""KCSIE's four areas of risk, and the reputation labels that are no risk in themselves."""
RISK_LABELS = frozenset(
    label for area in ("content", "contact", "conduct", "commerce") for label in AREAS[area]
)
LABEL_NAMES = frozenset(str(label) for label in Label)
HELD_BY_DSL = frozenset({Label.SAFEGUARDING, Label.PERSONAL_DATA})
"""Labels whose posts the SLT digest shows only as counts (`digest.show_sensitive_text`)."""


@dataclass(frozen=True)
class Change:
    """A count this week against the week before."""

    name: str
    now: int
    before: int

    @property
    def delta(self) -> str:
        """`+5`, `\u22123` (a minus sign) or `±0`."""
        diff = self.now - self.before
        return f"+{diff}" if diff > 0 else (f"\u2212{-diff}" if diff < 0 else "±0")


@dataclass(frozen=True)
class TrendWeek:
    """One week of the eight-week trend."""

    week: str
    items: int
    negative: int
    neutral: int
    positive: int


@dataclass(frozen=True)
class FlagRow:
    """Items carrying one label at one severity this week."""

    area: str
    label: str
    severity: str
    count: int
    held_by_dsl: bool


@dataclass(frozen=True)
class Excerpt:
    """A post quoted in the digest; `text` is None when it is held by the DSL."""

    item_id: int
    severity: str
    labels: str
    source: str
    when: str
    author: str
    text: str | None
    url: str | None


@dataclass(frozen=True)
class SchoolWeek:
    """Everything the digest says about one school in one week."""

    school_id: str
    school_name: str
    week: str
    span: str
    complete: bool
    total: Change
    by_source: tuple[Change, ...]
    by_kind: tuple[Change, ...]
    trend: tuple[TrendWeek, ...]
    flagged: tuple[FlagRow, ...]
    flagged_items: int
    serious_items: int
    held_by_dsl: int
    replies: ReplyStats
    incidents: tuple[IncidentView, ...]
    top: tuple[Excerpt, ...]
    praise: tuple[Excerpt, ...]
    coverage: tuple[SourceCoverage, ...]

    @property
    def blind_sources(self) -> tuple[SourceCoverage, ...]:
        """Sources that could not be seen for some or all of the week."""
        return tuple(c for c in self.coverage if c.status != "healthy")

    @property
    def quiet(self) -> bool:
        """Nothing seen and nothing owed: the short digest."""
        return not (self.total.now or self.replies.opened or self.incidents)


@dataclass(frozen=True)
class _Row:
    """One item of the trend range with its newest assessment."""

    id: int
    week: Week
    source_id: str
    kind: str
    sentiment: str | None
    sentiment_score: float | None
    labels: tuple[Label, ...]
    score: float
    severity: Severity


def school_week(
    session: Session, school: SchoolConfig, week: Week, now: datetime, zone: ZoneInfo
) -> SchoolWeek:
    """Read one school's week (and the seven before it, for the trend) from the database."""
    # One query for the whole range; the weeks are told apart in Python.
    start, end = week.bounds(zone)
    rows = _rows(session, school.id, week.shifted(1 - TREND_WEEKS).bounds(zone)[0], end, zone)
    this = [r for r in rows if r.week == week]
    last = [r for r in rows if r.week == week.shifted(-1)]
    names = {s.id: s.display_name for s in school.sources}
    flagged = [r for r in this if RISK_LABELS.intersection(r.labels)]
    top = _most_serious(flagged)[: school.digest.top_items]
    quoted = _excerpts(session, school, [*top, *_praise(this, school.digest.praise_quotes)], zone)
    return SchoolWeek(
        school_id=school.id,
        school_name=school.name,
        week=week.label(),
        span=week.span(),
        complete=now >= end,
        total=Change("items", len(this), len(last)),
        by_source=_changes(this, last, lambda r: names.get(r.source_id, r.source_id)),
        by_kind=_changes(this, last, lambda r: r.kind),
        trend=_trend(rows, week),
        flagged=_flag_rows(school, this),
        flagged_items=len(flagged),
        serious_items=sum(1 for r in this if r.severity >= Severity.HIGH),
        held_by_dsl=sum(1 for r in this if HELD_BY_DSL.intersection(r.labels)),
        replies=reply_stats(session, school, start, min(end, now), zone),
        incidents=incidents(session, school.id, start, end, zone),
        top=quoted[: len(top)],
        praise=quoted[len(top) :],
        coverage=coverage(session, school, start, min(end, now), zone),
    )


def _rows(
    session: Session, school_id: str, start: datetime, end: datetime, zone: ZoneInfo
) -> list[_Row]:
    item, assessment = models.Item, models.Assessment
    when = func.coalesce(item.created_at, item.first_seen_at)
    query = (
        select(
            item.id,
            when.label("when"),
            item.source_id,
            item.kind,
            assessment.sentiment,
            assessment.sentiment_score,
            assessment.labels,
            assessment.severity,
        )
        .outerjoin(
            assessment,
            and_(assessment.item_id == item.id, assessment.item_version == item.assessed_version),
        )
        .where(item.school_id == school_id, item.by_school.is_(False))
        .where(when >= start, when < end, item.deleted_at.is_(None))
        .order_by(assessment.id)
    )
    newest: dict[int, _Row] = {}
    for row in session.execute(query):
        newest[row.id] = _row(row, zone)
    return list(newest.values())


def _row(row: Any, zone: ZoneInfo) -> _Row:
    signals = row.labels or []
    named = (s.get("label") for s in signals)
    labels = tuple(dict.fromkeys(Label(n) for n in named if n in LABEL_NAMES))
    return _Row(
        id=row.id,
        week=Week.containing(row.when.astimezone(zone).date()),
        source_id=row.source_id,
        kind=row.kind,
        sentiment=row.sentiment,
        sentiment_score=row.sentiment_score,
        labels=labels,
        score=max((float(s.get("score") or 0) for s in signals), default=0.0),
        severity=Severity.parse(row.severity) if row.severity else Severity.INFO,
    )


def _changes(this: list[_Row], last: list[_Row], key: Any) -> tuple[Change, ...]:
    now, before = Counter(map(key, this)), Counter(map(key, last))
    names = sorted(set(now) | set(before), key=lambda n: (-now[n], -before[n], n))
    return tuple(Change(name, now[name], before[name]) for name in names)


def _trend(rows: list[_Row], week: Week) -> tuple[TrendWeek, ...]:
    weeks = [week.shifted(-back) for back in range(TREND_WEEKS - 1, -1, -1)]
    points = []
    for each in weeks:
        sentiments = Counter(r.sentiment for r in rows if r.week == each)
        points.append(
            TrendWeek(
                week=f"W{each.number:02d}",
                items=sum(sentiments.values()),
                negative=sentiments["negative"],
                neutral=sum(sentiments.values()) - sentiments["negative"] - sentiments["positive"],
                positive=sentiments["positive"],
            )
        )
    return tuple(points)


def _flag_rows(school: SchoolConfig, rows: list[_Row]) -> tuple[FlagRow, ...]:
    sources = {s.id: s for s in school.sources}
    counts: Counter[tuple[Label, Severity]] = Counter()
    for row in rows:
        source = sources.get(row.source_id)
        for label in row.labels:
            severity = DEFAULT_SEVERITY[label]
            if source is not None:
                severity = severity_for(route_for(school, source, label), label, severity)
            counts[(label, severity)] += 1
    return tuple(
        FlagRow(area, str(label), str(severity), counts[(label, severity)], label in HELD_BY_DSL)
        for area, labels in AREAS.items()
        for label in labels
        for severity in sorted(Severity, reverse=True)
        if counts[(label, severity)]
    )


def _most_serious(rows: list[_Row]) -> list[_Row]:
    return sorted(rows, key=lambda r: (-r.severity, -r.score, r.id))


def _praise(rows: list[_Row], limit: int) -> list[_Row]:
    kind = [r for r in rows if Label.PRAISE in r.labels and not RISK_LABELS.intersection(r.labels)]
    kind.sort(key=lambda r: (-(r.sentiment_score or 0), r.id))
    return kind[:limit]


def _excerpts(
    session: Session, school: SchoolConfig, rows: Sequence[_Row], zone: ZoneInfo
) -> tuple[Excerpt, ...]:
    """The quoted posts (most serious, then praise): one read of the items and the watch list."""
    if not rows:
        return ()
    wanted = select(models.Item).where(models.Item.id.in_([r.id for r in rows]))
    items = {i.id: i for i in session.scalars(wanted)}
    names = {s.id: s.display_name for s in school.sources}
    hashes = _pupil_hashes(school)
    return tuple(_excerpt(school, row, items[row.id], names, hashes, zone) for row in rows)


def _excerpt(
    school: SchoolConfig,
    row: _Row,
    item: models.Item,
    names: dict[str, str],
    hashes: frozenset[str],
    zone: ZoneInfo,
) -> Excerpt:
    held = bool(HELD_BY_DSL.intersection(row.labels)) and not school.digest.show_sensitive_text
    text = None if held else _shorten(redact_pupil_names(item.text, hashes, school.id))
    author = item.author_name or item.author_handle or "unknown"
    when = item.created_at or item.first_seen_at
    return Excerpt(
        item_id=item.id,
        severity=str(row.severity),
        labels=", ".join(str(label) for label in row.labels) or "none",
        source=names.get(item.source_id, item.source_id),
        when=short_local(when, zone),
        author="(withheld)" if held else redact_pupil_names(author, hashes, school.id),
        text=text,
        url=None if held else item.url,
    )


def _pupil_hashes(school: SchoolConfig) -> frozenset[str]:
    path = school.pupil_name_hashes_file
    return load_name_hashes(Path(path)) if path else frozenset()


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1].rstrip() + "…"


def hours_text(hours: float | None) -> str:
    """`3 h 20 min`, or `—` when there is nothing to measure."""
    return "—" if hours is None else duration_text(timedelta(hours=hours))


def percent(share: float | None) -> str:
    """`92%`, or `—`."""
    return "—" if share is None else f"{round(share * 100)}%"


def total_of(weeks: Iterable[SchoolWeek]) -> int:
    """Items across several schools' weeks."""
    return sum(w.total.now for w in weeks)
