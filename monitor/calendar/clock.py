"""Times as people in a UK school write and read them: Europe/London, across the clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LONDON = "Europe/London"


@lru_cache(maxsize=64)
def time_zone(name: str) -> ZoneInfo:
    """The time zone called `name`; ValueError names an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


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
        moment = _localise(moment, time_zone(tz), text)
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


def long_local(moment: datetime) -> str:
    """A local time in full, as one line for people: `Thu 24 Dec 2026 15:00 GMT`."""
    return f"{moment:%a} {moment.day} {moment:%b %Y %H:%M %Z}"


def short_local(moment: datetime, zone: ZoneInfo) -> str:
    """A time as staff read it in lists: `Mon 16 Nov 09:14`, in the school's time zone."""
    return moment.astimezone(zone).strftime("%a %d %b %H:%M")


def duration_text(delta: timedelta) -> str:
    """`3 h 05 min`: whole minutes, rounded down; nothing below zero."""
    minutes = max(0, int(delta.total_seconds() // 60))
    return f"{minutes // 60} h {minutes % 60:02d} min"
