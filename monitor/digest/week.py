"""ISO weeks as the digest counts them: Monday 00:00 to Monday 00:00, school (London) time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, order=True)
class Week:
    """One ISO week (`2026-W47`), turned into UTC bounds in a given time zone."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """`2026-W47` (or `2026W47`); ValueError says what a week looks like."""
        match = _WEEK.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not an ISO week; write it like 2026-W47")
        year, number = int(match[1]), int(match[2])
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise ValueError(f"{year} has no week {number}") from None
        return cls(year, number)

    @classmethod
    def containing(cls, day: date) -> Week:
        """The ISO week `day` falls in."""
        year, number, _ = day.isocalendar()
        return cls(year, number)

    @property
    def monday(self) -> date:
        """The week's first day."""
        return date.fromisocalendar(self.year, self.number, 1)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """Start (inclusive) and end (exclusive) in UTC; 167 or 169 hours across a clock change."""
        start = datetime.combine(self.monday, time(0), zone)
        end = datetime.combine(self.monday + timedelta(days=7), time(0), zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def shifted(self, weeks: int) -> Week:
        """The week `weeks` later (earlier if negative)."""
        return Week.containing(self.monday + timedelta(weeks=weeks))

    def label(self) -> str:
        """`2026-W47`."""
        return f"{self.year}-W{self.number:02d}"

    def span(self) -> str:
        """`16\u201322 Nov 2026` (an en dash) for people."""
        last = self.monday + timedelta(days=6)
        first = f"{self.monday.day}" if self.monday.month == last.month else f"{self.monday:%-d %b}"
        return f"{first}\u2013{last:%-d %b %Y}"

    def __str__(self) -> str:
        return self.label()


def send_time(week: Week, weekday: str, at: time, zone: ZoneInfo) -> datetime:
    """When `week`'s digest is due: `weekday` at `at` in the week after it, in UTC."""
    day = week.shifted(1).monday + timedelta(days=WEEKDAYS.index(weekday))
    return datetime.combine(day, at, zone).astimezone(UTC)


def latest_due(now: datetime, weekday: str, at: time, zone: ZoneInfo) -> Week:
    """The newest week whose digest is due at `now` (last week once the send time has passed)."""
    local = now.astimezone(zone)
    week = Week.containing(local.date()).shifted(-1)
    while send_time(week, weekday, at, zone) > now:
        week = week.shifted(-1)
    return week
