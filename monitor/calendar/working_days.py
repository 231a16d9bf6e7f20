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

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import icalendar

Nation = Literal["england", "wales", "scotland", "northern-ireland"]

LONDON = "Europe/London"
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
_SPAN = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s*\.\.\s*(\d{4}-\d{2}-\d{2}))?$")


class CalendarError(ValueError):
    """A closure calendar file that cannot be read or understood."""


def parse_span(text: str) -> tuple[date, date]:
    """A date ("2026-12-18") or an inclusive span ("2026-12-18..2027-01-04") as (first, last)."""
    match = _SPAN.match(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a date or a date span: write 2026-12-18 or 2026-12-18..2027-01-04"
        )
    try:
        first = date.fromisoformat(match[1])
        last = date.fromisoformat(match[2] or match[1])
    except ValueError as err:
        raise ValueError(f"{text!r} is not a valid date or date span: {err}") from None
    if last < first:
        raise ValueError(f"{text!r} ends before it starts")
    return first, last


def days_between(first: date, last: date) -> Iterator[date]:
    """Every date from `first` to `last`, both included."""
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def expand_spans(spans: Iterable[str]) -> frozenset[date]:
    """Every date covered by a list of dates and date spans (a single string is one span)."""
    if isinstance(spans, str):
        spans = [spans]
    return frozenset(day for span in spans for day in days_between(*parse_span(span)))


def read_ics_closures(path: Path, timezone: str = LONDON) -> frozenset[date]:
    """Every local date covered by an event in an ICS file; each event counts as a closure.

    All-day events end the day before their DTEND (exclusive, RFC 5545); timed events cover
    every local date they touch. Recurrence rules (RRULE) are not expanded.
    """
    zone = _zone(timezone)
    calendar = _load_ics(path)
    days: set[date] = set()
    for event in calendar.walk("VEVENT"):
        try:
            days.update(_event_days(event, zone))
        except ValueError as err:
            raise CalendarError(f"{path}: event {_event_name(event)}: {err}") from None
    return frozenset(days)


def _load_ics(path: Path) -> icalendar.Component:
    try:
        calendar = icalendar.Calendar.from_ical(Path(path).read_bytes())
    except OSError as err:
        raise CalendarError(f"{path}: cannot read the closure calendar: {err.strerror}") from None
    except ValueError as err:
        raise CalendarError(f"{path}: not a valid ICS calendar: {err}") from None
    if calendar.name != "VCALENDAR":
        raise CalendarError(f"{path}: not an ICS calendar (it has no VCALENDAR)")
    return calendar


def _event_days(event: icalendar.Component, zone: ZoneInfo) -> Iterator[date]:
    if not isinstance(event, icalendar.Event):
        raise ValueError("not a VEVENT")
    start, end = event.start, event.end
    if isinstance(start, datetime) and isinstance(end, datetime):
        first, last = _touched_dates(_in_zone(start, zone), _in_zone(end, zone))
    else:
        first, last = start, max(start, end - timedelta(days=1))
    if last < first:
        raise ValueError("it ends before it starts")
    return days_between(first, last)


def _touched_dates(start: datetime, end: datetime) -> tuple[date, date]:
    last = end.date()
    if end > start and end.time() == time(0):
        last -= timedelta(days=1)  # ending at midnight does not touch the next day
    return start.date(), last


def _in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)  # a "floating" ICS time is local time
    return moment.astimezone(zone)


def _event_name(event: icalendar.Component) -> str:
    return repr(str(event.get("SUMMARY") or event.get("UID") or "without a name"))


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


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
        _zone(self.timezone)

    @property
    def zone(self) -> ZoneInfo:
        """The school's timezone (Europe/London)."""
        return _zone(self.timezone)

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


def parse_received(text: str, tz: str = LONDON) -> datetime:
    """An ISO-8601 date and time as UTC; without an offset it is local time in `tz`.

    A local time repeated by the autumn clock change means its first (BST) occurrence; a local
    time skipped by the spring change is refused. The result is in UTC because Python compares
    a zoneinfo datetime inside the repeated hour as unequal to every other zone's.
    """
    cleaned = text.strip()
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO-8601 date and time: write e.g. 2026-03-27T18:00 "
            "(London time) or 2026-03-27T18:00+00:00"
        ) from None
    if _is_date_only(cleaned):
        raise ValueError(f"{text!r} has no time of day: write e.g. {cleaned}T09:00")
    if moment.utcoffset() is None:
        moment = _localise(moment, _zone(tz), text)
    return moment.astimezone(UTC)


def _is_date_only(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _localise(naive: datetime, zone: ZoneInfo, text: str) -> datetime:
    aware = naive.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(
            f"{text!r} never happened in {zone.key}: the clocks went forward; give an offset"
        )
    return aware


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
        return f"received {_human(start)} → due {_human(end)} (urgent: {rule}, calendar ignored)"
    if not calendar.is_working_day(start.date()):
        rule, first = "end of next working day", start.date()
    else:
        first = (received.astimezone(UTC) + timedelta(hours=hours)).astimezone(zone).date()
    skipped = _skipped(calendar, first, end.date())
    if skipped:
        rule = f"{rule}; {skipped} skipped"
    return f"received {_human(start)} → due {_human(end)} ({rule})"


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


def _human(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %Y %H:%M %Z}"


def short_local(moment: datetime, zone: ZoneInfo) -> str:
    """A time as staff read it in lists: `Mon 16 Nov 09:14`, in the school's time zone."""
    return moment.astimezone(zone).strftime("%a %d %b %H:%M")


def duration_text(delta: timedelta) -> str:
    """`3 h 05 min`: whole minutes, rounded down; nothing below zero."""
    minutes = max(0, int(delta.total_seconds() // 60))
    return f"{minutes // 60} h {minutes % 60:02d} min"
