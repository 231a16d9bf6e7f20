"""Working days and the school's 24-hour reply rule.

A school's working days are Monday to Friday, less the bank holidays of its UK nation, less the
closure days it lists or imports from an ICS file (INSET days, snow days), and less its term
holidays when it chooses to count them as closed. Every clock is Europe/London local time
across the changes to and from British Summer Time; every due time returned is in UTC.

How "24 hours" is counted: as elapsed time, not as wall-clock time. Across a clock change the
local time of day therefore moves by an hour (received Friday 10:00 GMT with `hours=48` is due
Sunday 11:00 BST, which then moves to Monday 11:00 BST). When a due time has to move to another
day it keeps its local wall-clock time; a wall-clock time that the spring change skips moves
forward by an hour, and one the autumn change repeats means its first (BST) occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from monitor.calendar.clock import LONDON, long_local, time_zone
from monitor.calendar.closures import days_between, expand_spans, read_ics_closures

Nation = Literal["england", "wales", "scotland", "northern-ireland"]

# `holidays` needs a subdivision: without one it drops Easter Monday and the August bank holiday.
SUBDIVISIONS: dict[str, str] = {
    "england": "ENG",
    "wales": "WLS",
    "scotland": "SCT",
    "northern-ireland": "NIR",
}
WEEKEND = {5: "Saturday", 6: "Sunday"}
CLOSURE_REASON = "INSET/closure day"
TERM_HOLIDAY_REASON = "term holiday"
# A calendar with no working day in ten years is a configuration mistake, not a long wait.
SEARCH_DAYS = 3660


@lru_cache(maxsize=1024)
def _bank_holidays(nation: Nation, year: int) -> holidays.HolidayBase:
    # One year per object, never expanded afterwards, so lookups from threads never mutate it.
    return holidays.country_holidays("GB", subdiv=SUBDIVISIONS[nation], years=year, expand=False)


@dataclass(frozen=True)
class WorkingCalendar:
    """One school's working days: weekdays less bank holidays, closures and term holidays."""

    nation: Nation = "england"
    closures: frozenset[date] = frozenset()
    term_holidays: frozenset[date] = frozenset()
    term_holidays_closed: bool = False
    end_of_day: time = time(17, 0)
    timezone: str = LONDON

    def __post_init__(self) -> None:
        """Refuse an unknown nation or timezone, or an end of day with a timezone."""
        if self.nation not in SUBDIVISIONS:
            raise ValueError(
                f"unknown nation {self.nation!r}: choose one of {', '.join(SUBDIVISIONS)}"
            )
        if self.end_of_day.tzinfo is not None:
            raise ValueError("end_of_day is a local wall-clock time: give it without a timezone")
        time_zone(self.timezone)

    @property
    def zone(self) -> ZoneInfo:
        """The school's timezone (Europe/London)."""
        return time_zone(self.timezone)

    def non_working_reason(self, day: date) -> str | None:
        """Why `day` is not a working day ("Saturday", "Good Friday", ...); None if it is one."""
        if isinstance(day, datetime):
            raise TypeError("pass the local date, not a datetime")
        if day.weekday() in WEEKEND:
            return WEEKEND[day.weekday()]
        bank_holiday = _bank_holidays(self.nation, day.year).get(day)
        if bank_holiday:
            return str(bank_holiday)
        if day in self.closures:
            return CLOSURE_REASON
        if self.term_holidays_closed and day in self.term_holidays:
            return TERM_HOLIDAY_REASON
        return None

    def is_working_day(self, day: date) -> bool:
        """Whether staff are expected to reply on this local date."""
        return self.non_working_reason(day) is None

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        for offset in range(1, SEARCH_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day in the {SEARCH_DAYS} days after {day}: check closures")


def calendar_for(
    nation: Nation,
    *,
    closures: Iterable[str] = (),
    closure_ics: Path | str | None = None,
    term_holidays: Iterable[str] = (),
    term_holidays_closed: bool = False,
    end_of_day: time = time(17, 0),
    timezone: str = LONDON,
) -> WorkingCalendar:
    """A school's calendar from date spans ("2026-09-07", "2026-10-26..2026-10-30") and an ICS."""
    closed = expand_spans(closures)
    if closure_ics is not None:
        closed |= read_ics_closures(Path(closure_ics), timezone)
    return WorkingCalendar(
        nation=nation,
        closures=closed,
        term_holidays=expand_spans(term_holidays),
        term_holidays_closed=term_holidays_closed,
        end_of_day=end_of_day,
        timezone=timezone,
    )


def due_at(
    received: datetime, calendar: WorkingCalendar, *, hours: float = 24, urgent: bool = False
) -> datetime:
    """When the reply is due, in UTC.

    Urgent items (safeguarding, threats, extremism) ignore the calendar: received + `hours`.
    Received on a working day: `hours` of elapsed time later; if that instant's local date is
    not a working day, the same local wall-clock time on the next working day. Received on a
    non-working day: `calendar.end_of_day` on the next working day.
    """
    if received.utcoffset() is None:
        raise ValueError("received must be a timezone-aware datetime")
    if hours <= 0:
        raise ValueError(f"hours must be positive, not {hours}")
    elapsed = received.astimezone(UTC) + timedelta(hours=hours)
    if urgent:
        return elapsed
    zone = calendar.zone
    received_day = received.astimezone(zone).date()
    if not calendar.is_working_day(received_day):
        return _at_local(calendar.next_working_day(received_day), calendar.end_of_day, zone)
    local = elapsed.astimezone(zone)
    if calendar.is_working_day(local.date()):
        return elapsed
    return _at_local(calendar.next_working_day(local.date()), local.time(), zone)


def _at_local(day: date, wall: time, zone: ZoneInfo) -> datetime:
    # fold=0: a repeated autumn time means its first occurrence; a skipped spring time is read
    # with the offset in force before the change, so the UTC round trip moves it an hour on.
    return datetime.combine(day, wall.replace(fold=0), tzinfo=zone).astimezone(UTC)


def describe_due(
    received: datetime,
    due: datetime,
    calendar: WorkingCalendar,
    *,
    hours: float = 24,
    urgent: bool = False,
) -> str:
    """One line for people: received → due in local time, the rule used and the days skipped."""
    zone = calendar.zone
    start, end = received.astimezone(zone), due.astimezone(zone)
    rule = f"{hours:g} h"
    if urgent:
        rule = f"urgent: {rule}, calendar ignored"
        return f"received {long_local(start)} → due {long_local(end)} ({rule})"
    if not calendar.is_working_day(start.date()):
        rule, first = "end of next working day", start.date()
    else:
        first = (received.astimezone(UTC) + timedelta(hours=hours)).astimezone(zone).date()
    skipped = _skipped(calendar, first, end.date())
    if skipped:
        rule = f"{rule}; {skipped} skipped"
    return f"received {long_local(start)} → due {long_local(end)} ({rule})"


def _skipped(calendar: WorkingCalendar, first: date, before: date) -> str:
    reasons: list[tuple[str, int]] = []
    for day in days_between(first, before - timedelta(days=1)):
        reason = calendar.non_working_reason(day)
        if reason is None:
            continue
        if reasons and reasons[-1][0] == reason:
            reasons[-1] = (reason, reasons[-1][1] + 1)
        else:
            reasons.append((reason, 1))
    return ", ".join(name if n == 1 else f"{name} ({n} days)" for name, n in reasons)
