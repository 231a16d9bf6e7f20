"""Closures as a school writes them: dates, date spans and ICS calendars; errors name the file."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.calendar.closures import CalendarError, expand_spans, parse_span, read_ics_closures
from monitor.calendar.working_days import (
    calendar_for,
)

LONDON = ZoneInfo("Europe/London")
HALF_TERM = ["2026-10-26..2026-10-30"]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("2026-12-18", (date(2026, 12, 18), date(2026, 12, 18))),
        ("2026-12-18..2027-01-04", (date(2026, 12, 18), date(2027, 1, 4))),
        (" 2026-12-18 .. 2027-01-04 ", (date(2026, 12, 18), date(2027, 1, 4))),
    ],
)
def test_parse_span(text: str, span: tuple[date, date]) -> None:
    assert parse_span(text) == span


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("18/12/2026", "not a date or a date span"),
        ("2026-12-18..", "not a date or a date span"),
        ("2026-12-18...2027-01-04", "not a date or a date span"),
        ("2026-02-30", "not a valid date"),
        ("2027-01-04..2026-12-18", "ends before it starts"),
    ],
)
def test_parse_span_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_span(text)


def test_expand_spans_covers_every_day_and_takes_one_string_as_one_span() -> None:
    assert expand_spans(["2026-12-30..2027-01-01", "2026-09-07"]) == {
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 1),
        date(2026, 9, 7),
    }
    assert expand_spans("2026-09-07") == {date(2026, 9, 7)}


ICS = """\
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example School//Closures//EN
BEGIN:VEVENT
UID:inset-1@example.sch.uk
SUMMARY:INSET day
DTSTART;VALUE=DATE:20260907
END:VEVENT
BEGIN:VEVENT
UID:half-term@example.sch.uk
SUMMARY:Half term
DTSTART;VALUE=DATE:20261026
DTEND;VALUE=DATE:20261031
END:VEVENT
BEGIN:VEVENT
UID:snow@example.sch.uk
SUMMARY:Closed (snow) from late evening
DTSTART:20260310T233000Z
DURATION:PT2H
END:VEVENT
BEGIN:VEVENT
UID:summer@example.sch.uk
SUMMARY:Early hours in BST
DTSTART:20260630T233000Z
DTEND:20260701T010000Z
END:VEVENT
BEGIN:VEVENT
UID:evening@example.sch.uk
SUMMARY:Evening to midnight
DTSTART;TZID=Europe/London:20261204T180000
DTEND;TZID=Europe/London:20261205T000000
END:VEVENT
END:VCALENDAR
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "closures.ics"
    path.write_text(text.replace("\n", "\r\n"), encoding="utf-8")
    return path


def test_read_ics_closures(tmp_path: Path) -> None:
    assert read_ics_closures(_write(tmp_path, ICS)) == {
        date(2026, 9, 7),  # all-day, no DTEND: one day
        *(date(2026, 10, day) for day in range(26, 31)),  # DTEND 31 October is exclusive
        date(2026, 3, 10),  # 23:30-01:30 GMT touches two dates
        date(2026, 3, 11),
        date(2026, 7, 1),  # 23:30Z is 00:30 BST on 1 July
        date(2026, 12, 4),  # ending at local midnight does not touch 5 December
    }


def test_calendar_for_merges_listed_and_imported_closures(tmp_path: Path) -> None:
    calendar = calendar_for("england", closures=["2026-09-08"], closure_ics=_write(tmp_path, ICS))
    assert calendar.non_working_reason(date(2026, 9, 7)) == "INSET/closure day"
    assert calendar.non_working_reason(date(2026, 9, 8)) == "INSET/closure day"
    assert calendar.next_working_day(date(2026, 10, 23)) == date(2026, 11, 2)


def _broken_event(body: str) -> str:
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\n{body}\nEND:VEVENT\nEND:VCALENDAR\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("this is not a calendar\n", "not a valid ICS calendar"),
        ("", "not a valid ICS calendar"),
        ("BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260907\nEND:VEVENT\n", "no VCALENDAR"),
        (_broken_event("SUMMARY:No start"), "event 'No start'"),
        (_broken_event("UID:x1\nDTSTART:garbage"), "event 'x1'"),
        (_broken_event("SUMMARY:Back\nDTSTART:20260907T090000\nDTEND:20260906T090000"), "ends"),
    ],
)
def test_read_ics_closures_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CalendarError, match=message) as caught:
        read_ics_closures(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)


def test_read_ics_closures_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.ics"
    with pytest.raises(CalendarError, match="cannot read") as caught:
        read_ics_closures(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)
