"""A school's closures as written in the config: dates, date spans and ICS calendar files."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar

from monitor.calendar.clock import LONDON, time_zone

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
    zone = time_zone(timezone)
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
