"""A school's week in numbers: what the digest reports, read from the database only.

Every figure a person reads in the digest (tiles, tables, text part, PDF, Teams card, the
trust's comparison) is computed here once, in `school_week`; the renderers only format it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from monitor.calendar.clock import duration_text
from monitor.classify.base import Label, Severity
from monitor.config.schema import SchoolConfig
from monitor.digest.coverage import SourceCoverage, coverage
from monitor.digest.incidents import IncidentView, incidents
from monitor.digest.quotes import Excerpt, Quotes, quotes
from monitor.digest.reply_stats import ReplyStats, reply_stats
from monitor.digest.rows import AREAS, HELD_BY_DSL, Row, rows_between, rows_by_id
from monitor.digest.week import Week
from monitor.flow.incidents import OPEN

TREND_WEEKS = 8


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
class LabelRow:
    """Items carrying one label this week, by the item's severity (flagged: critical or high)."""

    area: str
    label: str
    critical: int
    high: int
    not_flagged: int
    held_by_dsl: bool


@dataclass(frozen=True)
class LabelTable:
    """The week's labels by KCSIE area; the totals count each item once."""

    rows: tuple[LabelRow, ...]
    critical: int
    high: int
    not_flagged: int

    @property
    def flagged(self) -> int:
        """Items flagged (high or critical), each counted once: the digest's one flagged figure."""
        return self.critical + self.high


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
    labels: LabelTable
    held_by_dsl: int
    replies: ReplyStats
    incidents: tuple[IncidentView, ...]
    top: tuple[Excerpt, ...]
    praise: tuple[Excerpt, ...]
    coverage: tuple[SourceCoverage, ...]

    @property
    def flagged_items(self) -> int:
        """Items of the week flagged high or critical, each counted once."""
        return self.labels.flagged

    @property
    def open_incidents(self) -> int:
        """Incidents still open at the end of the week (or now, for a week not yet over)."""
        return sum(1 for i in self.incidents if i.status == OPEN)

    @property
    def blind_sources(self) -> tuple[SourceCoverage, ...]:
        """Sources that could not be seen for some or all of the week."""
        return tuple(c for c in self.coverage if c.status != "healthy")

    @property
    def blind_hours(self) -> float:
        """Hours the sources could not see, added up over the sources."""
        return sum(c.blind_hours for c in self.coverage)

    @property
    def quiet(self) -> bool:
        """Nothing seen and nothing owed: the short digest."""
        return not (self.total.now or self.replies.opened or self.incidents)


def school_week(
    session: Session, school: SchoolConfig, week: Week, now: datetime, zone: ZoneInfo
) -> SchoolWeek:
    """Read one school's week (and the seven before it, for the trend) from the database."""
    # One query for the whole range; the weeks are told apart in Python.
    start, end = week.bounds(zone)
    first = week.shifted(1 - TREND_WEEKS).bounds(zone)[0]
    rows = rows_between(session, school.id, first, end, zone)
    this = [r for r in rows if r.week == week]
    last = [r for r in rows if r.week == week.shifted(-1)]
    names = {s.id: s.display_name for s in school.sources}
    cases = incidents(session, school.id, start, end, zone)
    quoted = _quotes(session, school, this, cases, zone)
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
        labels=label_table(this),
        held_by_dsl=sum(1 for r in this if HELD_BY_DSL.intersection(r.labels)),
        replies=reply_stats(session, school, start, min(end, now), zone),
        incidents=cases,
        top=quoted.top,
        praise=quoted.praise,
        coverage=coverage(session, school, start, min(end, now), zone),
    )


def _quotes(
    session: Session,
    school: SchoolConfig,
    this: list[Row],
    cases: tuple[IncidentView, ...],
    zone: ZoneInfo,
) -> Quotes:
    """The quoted posts; an open incident's item is among the most serious whatever its date."""
    still_open = [(i.item_id, i.severity) for i in cases if i.status == OPEN and i.item_id]
    seen = {r.id for r in this}
    earlier = rows_by_id(session, (item for item, _ in still_open if item not in seen), zone)
    by_id = {r.id: r for r in [*this, *earlier]}
    case_rows = [by_id[item] for item, _ in still_open if item in by_id]
    critical = frozenset(item for item, severity in still_open if severity == "critical")
    return quotes(session, school, this, case_rows, critical, zone)


def label_table(rows: Iterable[Row]) -> LabelTable:
    """Items per label by KCSIE area, split flagged (critical, high) or not; totals count once."""
    counts: Counter[tuple[Label, str]] = Counter()
    totals: Counter[str] = Counter()
    for row in rows:
        column = _column(row.severity)
        for label in row.labels:
            counts[(label, column)] += 1
        if row.labels or row.flagged:
            totals[column] += 1
    table = tuple(
        LabelRow(
            area,
            str(label),
            counts[(label, "critical")],
            counts[(label, "high")],
            counts[(label, "not_flagged")],
            label in HELD_BY_DSL,
        )
        for area, labels in AREAS.items()
        for label in labels
        if any(counts[(label, column)] for column in ("critical", "high", "not_flagged"))
    )
    return LabelTable(table, totals["critical"], totals["high"], totals["not_flagged"])


def _column(severity: Severity) -> str:
    if severity >= Severity.CRITICAL:
        return "critical"
    return "high" if severity >= Severity.HIGH else "not_flagged"


def _changes(this: list[Row], last: list[Row], key: Any) -> tuple[Change, ...]:
    now, before = Counter(map(key, this)), Counter(map(key, last))
    names = sorted(set(now) | set(before), key=lambda n: (-now[n], -before[n], n))
    return tuple(Change(name, now[name], before[name]) for name in names)


def _trend(rows: list[Row], week: Week) -> tuple[TrendWeek, ...]:
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


def hours_text(hours: float | None) -> str:
    """`3 h 20 min`, or `—` when there is nothing to measure."""
    return "—" if hours is None else duration_text(timedelta(hours=hours))


def percent(share: float | None) -> str:
    """`92%`, or `—`."""
    return "—" if share is None else f"{round(share * 100)}%"


def total_of(weeks: Iterable[SchoolWeek]) -> int:
    """Items across several schools' weeks."""
    return sum(w.total.now for w in weeks)
