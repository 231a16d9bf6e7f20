"""The reply line of an alert: due when in London time, how long is left, or by how much missed."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.calendar.clock import time_zone
from monitor.delivery.reply_status import due_line

LONDON = time_zone("Europe/London")


def test_due_time_is_in_london_time_with_the_time_left() -> None:
    due = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # GMT in November
    now = datetime(2026, 11, 22, 18, 20, tzinfo=UTC)
    assert due_line(due, now, LONDON) == (
        "Reply by Mon 23 Nov, 18:00 (London time) — 23 h 40 min left"
    )


def test_due_time_follows_british_summer_time() -> None:
    due = datetime(2026, 6, 15, 17, 0, tzinfo=UTC)  # 18:00 BST
    now = datetime(2026, 6, 15, 16, 55, 30, tzinfo=UTC)
    assert (
        due_line(due, now, LONDON) == "Reply by Mon 15 Jun, 18:00 (London time) — 0 h 04 min left"
    )


def test_a_missed_window_says_by_how_much() -> None:
    due = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    now = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    assert due_line(due, now, LONDON) == (
        "Reply was due Tue 24 Nov, 08:00 (London time) — missed by 1 h 30 min"
    )


def test_another_time_zone_is_named() -> None:
    due = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    line = due_line(due, datetime(2026, 11, 23, 17, 0, tzinfo=UTC), time_zone("Europe/Dublin"))
    assert line == "Reply by Mon 23 Nov, 18:00 (Europe/Dublin) — 1 h 00 min left"
