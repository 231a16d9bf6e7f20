"""The 24-hour reply rule: working days per UK nation, school closures, and the clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.calendar.clock import parse_received
from monitor.calendar.working_days import (
    Nation,
    WorkingCalendar,
    _at_local,
    calendar_for,
    describe_due,
    due_at,
)

LONDON = ZoneInfo("Europe/London")
HALF_TERM = ["2026-10-26..2026-10-30"]


def case(
    nation: Nation, received: str, due: str, *, id: str, **options: Any
) -> Any:  # pytest's ParameterSet
    """One row: received in London time (or with an offset), due in London time with its offset."""
    return pytest.param(nation, received, due, options, id=id)


# Every bank holiday below was checked against `holidays` 0.109 (GB with ENG/WLS/SCT/NIR);
# the clocks change on 29 March 2026 (to BST) and 25 October 2026 (to GMT).
CASES = [
    # The rule on an ordinary week in January 2026 (Mon 12 .. Sun 18).
    case("england", "2025-12-19T18:00", "2025-12-22T18:00+00:00", id="friday-evening-to-monday"),
    case("england", "2026-01-13T10:15", "2026-01-14T10:15+00:00", id="tuesday-to-wednesday"),
    case("england", "2026-01-15T23:30", "2026-01-16T23:30+00:00", id="thursday-late-to-friday"),
    case("england", "2026-01-17T09:00", "2026-01-19T17:00+00:00", id="saturday-to-monday-17h"),
    case("england", "2026-01-18T23:59", "2026-01-19T17:00+00:00", id="sunday-2359-to-monday-17h"),
    case("england", "2026-01-19T00:00", "2026-01-20T00:00+00:00", id="monday-midnight-is-working"),
    case("england", "2026-01-17T09:00", "2026-01-19T16:00+00:00", id="end-of-day-16h",
         end_of_day=time(16, 0)),
    case("england", "2026-01-16T23:30-05:00", "2026-01-19T17:00+00:00",
         id="offset-received-is-saturday-in-london"),
    case("england", "2026-01-16T15:00", "2026-01-16T19:00+00:00", id="hours-4-same-day", hours=4),
    case("england", "2026-01-16T22:00", "2026-01-19T02:00+00:00", id="hours-4-into-saturday",
         hours=4),
    # Easter 2026: Good Friday 3 April everywhere; Easter Monday 6 April except in Scotland.
    case("england", "2026-04-02T11:00", "2026-04-07T11:00+01:00", id="easter-england"),
    case("wales", "2026-04-02T11:00", "2026-04-07T11:00+01:00", id="easter-wales"),
    case("northern-ireland", "2026-04-02T11:00", "2026-04-07T11:00+01:00", id="easter-ni"),
    case("scotland", "2026-04-02T11:00", "2026-04-06T11:00+01:00", id="easter-scotland"),
    case("england", "2026-04-06T09:00", "2026-04-07T17:00+01:00", id="on-easter-monday-england"),
    case("scotland", "2026-04-06T09:00", "2026-04-07T09:00+01:00", id="on-easter-monday-scotland"),
    # Northern Ireland: St Patrick's Day (Tue 17 March 2026) and the Boyne (12 July).
    case("northern-ireland", "2026-03-16T09:30", "2026-03-18T09:30+00:00", id="st-patrick-ni"),
    case("england", "2026-03-16T09:30", "2026-03-17T09:30+00:00", id="st-patrick-england"),
    case("northern-ireland", "2028-07-11T10:00", "2028-07-13T10:00+01:00",
         id="boyne-wednesday-ni-2028"),
    case("england", "2028-07-11T10:00", "2028-07-12T10:00+01:00", id="boyne-wednesday-england"),
    case("northern-ireland", "2026-07-10T12:00", "2026-07-14T12:00+01:00",
         id="boyne-sunday-observed-monday-ni-2026"),
    case("england", "2026-07-10T12:00", "2026-07-13T12:00+01:00", id="boyne-2026-england"),
    # Summer: Scotland's first Monday in August, England's last Monday.
    case("scotland", "2026-07-31T14:00", "2026-08-04T14:00+01:00", id="august-3-scotland"),
    case("england", "2026-07-31T14:00", "2026-08-03T14:00+01:00", id="august-3-england"),
    case("england", "2026-08-28T14:00", "2026-09-01T14:00+01:00", id="august-31-england"),
    case("scotland", "2026-08-28T14:00", "2026-08-31T14:00+01:00", id="august-31-scotland"),
    case("scotland", "2026-11-27T13:00", "2026-12-01T13:00+00:00", id="st-andrew-scotland"),
    # Christmas Eve on a Wednesday, a Thursday (Boxing Day observed Monday 28) and a Friday
    # (Christmas observed Monday 27, Boxing Day Tuesday 28).
    case("england", "2025-12-24T15:00", "2025-12-29T15:00+00:00", id="christmas-eve-2025-wed"),
    case("england", "2026-12-24T15:00", "2026-12-29T15:00+00:00", id="christmas-eve-2026-thu"),
    case("england", "2027-12-24T15:00", "2027-12-29T15:00+00:00", id="christmas-eve-2027-fri"),
    # New Year's Eve: Scotland also keeps 2 January (observed Monday 4 January in 2027).
    case("england", "2025-12-31T10:00", "2026-01-02T10:00+00:00", id="new-year-2026-england"),
    case("scotland", "2025-12-31T10:00", "2026-01-05T10:00+00:00", id="new-year-2026-scotland"),
    case("england", "2026-12-31T10:00", "2027-01-04T10:00+00:00", id="new-year-2027-england"),
    case("scotland", "2026-12-31T10:00", "2027-01-05T10:00+00:00", id="new-year-2027-scotland"),
    # Clocks forward on Sunday 29 March 2026, back on Sunday 25 October 2026.
    case("england", "2026-03-27T18:00", "2026-03-30T18:00+01:00", id="spring-friday-evening"),
    case("england", "2026-03-28T23:30", "2026-03-30T17:00+01:00", id="spring-saturday-night"),
    case("england", "2026-03-29T03:00", "2026-03-30T17:00+01:00", id="spring-sunday-after"),
    case("england", "2026-03-27T10:00", "2026-03-30T11:00+01:00", id="spring-48h-elapsed",
         hours=48),
    case("england", "2026-10-23T18:00", "2026-10-26T18:00+00:00", id="autumn-friday-evening"),
    case("england", "2026-10-24T23:30", "2026-10-26T17:00+00:00", id="autumn-saturday-night"),
    case("england", "2026-10-25T01:30+00:00", "2026-10-26T17:00+00:00",
         id="autumn-repeated-hour-gmt"),
    case("england", "2026-10-23T10:00", "2026-10-26T09:00+00:00", id="autumn-48h-elapsed",
         hours=48),
    # The school's own closures (INSET days on Monday 7 and Tuesday 8 September 2026).
    case("england", "2026-09-04T10:00", "2026-09-08T10:00+01:00", id="inset-monday-after-weekend",
         closures=["2026-09-07"]),
    case("england", "2026-09-07T08:30", "2026-09-08T17:00+01:00", id="received-on-inset-day",
         closures=["2026-09-07"]),
    case("england", "2026-09-04T10:00", "2026-09-09T10:00+01:00", id="inset-two-day-span",
         closures=["2026-09-07..2026-09-08"]),
    case("england", "2026-08-28T14:00", "2026-09-02T14:00+01:00", id="inset-after-bank-holiday",
         closures=["2026-09-01"]),
    # October half term (26-30 October 2026), counted as closed only when the school says so.
    case("england", "2026-10-23T18:00", "2026-11-02T18:00+00:00", id="half-term-closed-friday",
         term_holidays=HALF_TERM, term_holidays_closed=True),
    case("england", "2026-10-23T18:00", "2026-10-26T18:00+00:00", id="half-term-open-friday",
         term_holidays=HALF_TERM),
    case("england", "2026-10-28T12:00", "2026-11-02T17:00+00:00", id="half-term-closed-midweek",
         term_holidays=HALF_TERM, term_holidays_closed=True),
    case("england", "2026-10-28T12:00", "2026-10-29T12:00+00:00", id="half-term-open-midweek",
         term_holidays=HALF_TERM),
    # Safeguarding, threats and extremism: elapsed hours, whatever the calendar says.
    case("england", "2026-01-17T09:00", "2026-01-18T09:00+00:00", id="urgent-saturday",
         urgent=True),
    case("england", "2025-12-24T15:00", "2025-12-25T15:00+00:00", id="urgent-christmas-eve",
         urgent=True),
    case("england", "2026-09-07T08:30", "2026-09-08T08:30+01:00", id="urgent-on-inset-day",
         urgent=True, closures=["2026-09-07"]),
    case("england", "2026-03-28T09:00", "2026-03-29T10:00+01:00", id="urgent-across-spring",
         urgent=True),
]  # fmt: skip

CALENDAR_OPTIONS = {"closures", "term_holidays", "term_holidays_closed", "end_of_day"}


def _due(nation: Nation, received: str, options: dict[str, Any]) -> datetime:
    calendar = calendar_for(nation, **{k: v for k, v in options.items() if k in CALENDAR_OPTIONS})
    rule = {k: v for k, v in options.items() if k not in CALENDAR_OPTIONS}
    return due_at(parse_received(received), calendar, **rule)


@pytest.mark.parametrize(("nation", "received", "expected", "options"), CASES)
def test_due_at(nation: Nation, received: str, expected: str, options: dict[str, Any]) -> None:
    due = _due(nation, received, options)
    assert due.tzinfo is UTC
    assert due == datetime.fromisoformat(expected)
    assert due.astimezone(LONDON).isoformat(timespec="minutes") == expected


@pytest.mark.parametrize(
    ("received", "hours", "due_utc"),
    [
        ("2026-03-27T18:00", 24, "2026-03-30T17:00+00:00"),  # 18:00 GMT -> 18:00 BST
        ("2026-03-28T23:30", 24, "2026-03-30T16:00+00:00"),  # 17:00 BST
        ("2026-03-27T10:00", 48, "2026-03-30T10:00+00:00"),  # 48 h elapsed = Sun 11:00 BST
        ("2026-10-23T18:00", 24, "2026-10-26T18:00+00:00"),  # 18:00 BST -> 18:00 GMT
        ("2026-10-23T10:00", 48, "2026-10-26T09:00+00:00"),  # 48 h elapsed = Sun 09:00 GMT
    ],
)
def test_due_instants_across_clock_changes(received: str, hours: int, due_utc: str) -> None:
    due = due_at(parse_received(received), WorkingCalendar(), hours=hours)
    assert due == datetime.fromisoformat(due_utc)
    assert due.isoformat(timespec="minutes") == due_utc


def test_both_occurrences_of_the_repeated_autumn_hour_are_due_monday_17h() -> None:
    first = parse_received("2026-10-25T01:30")  # BST, the first occurrence
    second = parse_received("2026-10-25T01:30+00:00")
    assert (second - first).total_seconds() == 3600
    calendar = WorkingCalendar()
    assert (
        due_at(first, calendar)
        == due_at(second, calendar)
        == datetime(2026, 10, 26, 17, tzinfo=UTC)
    )


def test_a_wall_time_skipped_in_spring_moves_forward_an_hour() -> None:
    # Only reachable with a working Sunday; London's working days never fall on a change.
    assert _at_local(date(2026, 3, 29), time(1, 30), LONDON) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )
    assert _at_local(date(2026, 10, 25), time(1, 30), LONDON) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


def test_due_at_refuses_naive_times_and_non_positive_hours() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 1, 13, 10), WorkingCalendar())
    with pytest.raises(ValueError, match="positive"):
        due_at(parse_received("2026-01-13T10:00"), WorkingCalendar(), hours=0)


# --- working days ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nation", "day", "reason"),
    [
        ("england", date(2026, 1, 13), None),
        ("england", date(2026, 1, 17), "Saturday"),
        ("england", date(2026, 1, 18), "Sunday"),
        ("england", date(2026, 4, 3), "Good Friday"),
        ("england", date(2026, 4, 6), "Easter Monday"),
        ("scotland", date(2026, 4, 6), None),
        ("wales", date(2026, 8, 31), "Late Summer Bank Holiday"),
        ("scotland", date(2026, 8, 3), "Summer Bank Holiday"),
        ("england", date(2026, 12, 26), "Saturday"),
        ("england", date(2026, 12, 28), "Boxing Day (observed)"),
        ("scotland", date(2027, 1, 4), "New Year Holiday (observed)"),
        ("northern-ireland", date(2028, 7, 12), "Battle of the Boyne"),
        ("england", date(2028, 7, 12), None),
        ("england", date(2000, 4, 21), "Good Friday"),
        ("england", date(2100, 3, 29), "Easter Monday"),
    ],
)
def test_non_working_reason(nation: Nation, day: date, reason: str | None) -> None:
    calendar = WorkingCalendar(nation=nation)
    assert calendar.non_working_reason(day) == reason
    assert calendar.is_working_day(day) is (reason is None)


def test_closures_and_term_holidays_have_their_own_reasons() -> None:
    closed = calendar_for(
        "england",
        closures=["2026-09-07", "2026-10-24"],
        term_holidays=HALF_TERM,
        term_holidays_closed=True,
    )
    assert closed.non_working_reason(date(2026, 9, 7)) == "INSET/closure day"
    assert closed.non_working_reason(date(2026, 10, 24)) == "Saturday"
    assert closed.non_working_reason(date(2026, 10, 27)) == "term holiday"
    open_in_holidays = calendar_for("england", term_holidays=HALF_TERM)
    assert open_in_holidays.is_working_day(date(2026, 10, 27))


def test_next_working_day_is_strictly_after() -> None:
    calendar = WorkingCalendar()
    assert calendar.next_working_day(date(2026, 1, 13)) == date(2026, 1, 14)
    assert calendar.next_working_day(date(2026, 4, 2)) == date(2026, 4, 7)


def test_a_calendar_with_no_working_day_is_an_error_not_a_hang() -> None:
    calendar = calendar_for("england", closures=["2026-01-01..2040-12-31"])
    with pytest.raises(ValueError, match="no working day"):
        calendar.next_working_day(date(2026, 1, 1))


def test_working_calendar_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown nation 'uk'"):
        WorkingCalendar(nation="uk")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown timezone"):
        WorkingCalendar(timezone="Europe/Atlantis")
    with pytest.raises(ValueError, match="wall-clock"):
        WorkingCalendar(end_of_day=time(17, tzinfo=UTC))
    with pytest.raises(TypeError, match="local date"):
        WorkingCalendar().is_working_day(datetime(2026, 1, 13, 10, tzinfo=UTC))


# --- describing for the CLI -----------------------------------------------------


@pytest.mark.parametrize(
    ("nation", "received", "options", "line"),
    [
        ("england", "2025-12-19T18:00", {},
         "received Fri 19 Dec 2025 18:00 GMT → due Mon 22 Dec 2025 18:00 GMT "
         "(24 h; Saturday, Sunday skipped)"),
        ("england", "2026-01-13T10:15", {},
         "received Tue 13 Jan 2026 10:15 GMT → due Wed 14 Jan 2026 10:15 GMT (24 h)"),
        ("england", "2026-01-17T09:00", {},
         "received Sat 17 Jan 2026 09:00 GMT → due Mon 19 Jan 2026 17:00 GMT "
         "(end of next working day; Saturday, Sunday skipped)"),
        ("england", "2026-01-17T09:00", {"urgent": True},
         "received Sat 17 Jan 2026 09:00 GMT → due Sun 18 Jan 2026 09:00 GMT "
         "(urgent: 24 h, calendar ignored)"),
        ("england", "2026-12-24T15:00", {},
         "received Thu 24 Dec 2026 15:00 GMT → due Tue 29 Dec 2026 15:00 GMT "
         "(24 h; Christmas Day, Saturday, Sunday, Boxing Day (observed) skipped)"),
        ("england", "2026-03-27T18:00", {},
         "received Fri 27 Mar 2026 18:00 GMT → due Mon 30 Mar 2026 18:00 BST "
         "(24 h; Saturday, Sunday skipped)"),
        ("england", "2026-10-23T18:00", {"term_holidays": HALF_TERM, "term_holidays_closed": True},
         "received Fri 23 Oct 2026 18:00 BST → due Mon 2 Nov 2026 18:00 GMT "
         "(24 h; Saturday, Sunday, term holiday (5 days), Saturday, Sunday skipped)"),
        ("england", "2026-01-16T22:00", {"hours": 4},
         "received Fri 16 Jan 2026 22:00 GMT → due Mon 19 Jan 2026 02:00 GMT "
         "(4 h; Saturday, Sunday skipped)"),
        ("scotland", "2026-09-04T10:00", {"closures": ["2026-09-07"]},
         "received Fri 4 Sep 2026 10:00 BST → due Tue 8 Sep 2026 10:00 BST "
         "(24 h; Saturday, Sunday, INSET/closure day skipped)"),
    ],
)  # fmt: skip
def test_describe_due(nation: Nation, received: str, options: dict[str, Any], line: str) -> None:
    calendar = calendar_for(nation, **{k: v for k, v in options.items() if k in CALENDAR_OPTIONS})
    rule = {k: v for k, v in options.items() if k not in CALENDAR_OPTIONS}
    moment = parse_received(received)
    assert describe_due(moment, due_at(moment, calendar, **rule), calendar, **rule) == line
