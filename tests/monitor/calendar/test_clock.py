"""Times as people type them: London time without an offset, across both clock changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.calendar.clock import parse_received


def test_parse_received_without_offset_is_london_time() -> None:
    winter = parse_received("2026-01-13T10:00")
    summer = parse_received("2026-07-13 10:00")
    assert winter == datetime(2026, 1, 13, 10, tzinfo=UTC)
    assert summer == datetime(2026, 7, 13, 9, tzinfo=UTC)
    assert summer.tzinfo is UTC


def test_parse_received_with_offset_gives_the_same_instant() -> None:
    assert parse_received("2026-07-13T10:00Z") == datetime(2026, 7, 13, 10, tzinfo=UTC)
    assert parse_received("2026-07-13T15:30+05:30") == datetime(2026, 7, 13, 10, tzinfo=UTC)


def test_parse_received_repeated_autumn_hour_is_the_bst_one() -> None:
    assert parse_received("2026-10-25T01:30") == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "not an ISO-8601 date and time"),
        ("2026-13-01T10:00", "not an ISO-8601 date and time"),
        ("2026-01-13", "no time of day"),
        ("2026-03-29T01:30", "never happened in Europe/London"),
    ],
)
def test_parse_received_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_received(text)
