"""The digest's figures for a generated week whose every number is known in advance."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from monitor.config.schema import OrmConfig
from monitor.digest.figures import SchoolWeek, hours_text, percent, school_week
from monitor.storage import models
from monitor.storage.engine import Database
from tests.support.digest_week import (
    EXPECTED,
    NOW,
    PUPIL,
    SECRET,
    TREND,
    WEEK,
    at,
    populate,
    school_config,
)

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> OrmConfig:
    return school_config(database_url, tmp_path)


@pytest.fixture
def week(db: Database, config: OrmConfig) -> SchoolWeek:
    populate(db, config)
    with db.session() as session:
        return school_week(session, config.schools[0], WEEK, NOW, LONDON)


def test_volume_by_source_and_kind_against_last_week(week: SchoolWeek) -> None:
    assert (week.total.now, week.total.before, week.total.delta) == (12, 8, EXPECTED["delta"])
    assert {c.name: (c.now, c.before) for c in week.by_source} == EXPECTED["by_source"]
    assert {c.name: c.now for c in week.by_kind} == EXPECTED["by_kind"]
    assert week.complete


def test_the_trend_covers_eight_weeks_with_their_sentiment(week: SchoolWeek) -> None:
    assert [(t.week, t.items) for t in week.trend] == [(f"W{w}", n) for w, n in TREND.items()]
    this = week.trend[-1]
    sentiment = {"negative": this.negative, "neutral": this.neutral, "positive": this.positive}
    assert sentiment == EXPECTED["sentiment"]
    assert all(t.neutral == t.items for t in week.trend[:-1])


def test_labels_are_grouped_by_kcsie_area_and_split_by_whether_the_item_is_flagged(
    week: SchoolWeek,
) -> None:
    rows = {(r.area, r.label): (r.critical, r.high, r.not_flagged) for r in week.labels.rows}
    assert rows == {
        ("contact", "threat"): (1, 0, 0),
        ("contact", "safeguarding"): (1, 0, 0),
        ("conduct", "insult"): (0, 0, 1),
        ("conduct", "personal_data"): (1, 0, 0),
        ("commerce", "spam"): (0, 0, 1),
        ("reputation", "criticism"): (0, 0, 2),
        ("reputation", "query"): (0, 0, 5),
        ("reputation", "praise"): (0, 0, 3),
    }
    assert [r.area for r in week.labels.rows][:2] == ["contact", "contact"]
    # Flagged means high or critical, each item once: items 8 (threat) and 9 (safeguarding).
    assert (week.labels.critical, week.labels.high) == (2, 0)
    assert week.flagged_items == EXPECTED["flagged_items"]
    assert week.labels.not_flagged == 10  # every other item carries some label
    assert {r.label for r in week.labels.rows if r.held_by_dsl} == {"safeguarding", "personal_data"}


def test_reply_windows_give_the_share_in_time_median_p90_and_each_breach(
    week: SchoolWeek,
) -> None:
    replies = week.replies
    assert replies.opened == EXPECTED["windows_opened"]
    assert (replies.in_time, replies.late, replies.still_open_late) == (3, 1, 1)
    assert (replies.pending, replies.dismissed) == (1, 1)
    assert percent(replies.share_in_time) == EXPECTED["share_in_time"]
    assert hours_text(replies.median_hours) == EXPECTED["median"]
    assert hours_text(replies.p90_hours) == EXPECTED["p90"]
    breaches = {b.item_id: b for b in replies.breaches}
    assert set(breaches) == set(EXPECTED["breached_items"])
    assert breaches[3].replied == "Thu 19 Nov 12:00"
    assert breaches[5].replied == "no reply yet"
    assert {b.responsible for b in replies.breaches} == {"Jo Smith"}
    assert {b.source for b in replies.breaches} == {"Facebook page"}


def test_incidents_carry_the_actions_the_audit_log_recorded(week: SchoolWeek) -> None:
    threat, safeguarding = week.incidents
    assert threat.status == "closed"
    assert threat.actions == (
        "Tue 17 Nov 20:06 alert delivered to Anita Patel (mail)",
        "Wed 18 Nov 09:00 incident closed by rhughes: Reported to the police, ref 4471",
    )
    assert safeguarding.status == "open"
    assert safeguarding.actions == ("Wed 18 Nov 21:06 alert delivered to Anita Patel (mail)",)


def test_the_most_serious_items_come_first_and_sensitive_ones_are_held_by_the_dsl(
    week: SchoolWeek,
) -> None:
    assert tuple(e.item_id for e in week.top) == EXPECTED["top_order"]
    held = week.top[0]
    assert held.text is None
    assert held.url is None
    assert held.author == "(withheld)"
    assert week.held_by_dsl == EXPECTED["held_by_dsl"]
    assert all(SECRET not in (e.text or "") for e in week.top)


def test_praise_is_quoted_with_watch_listed_pupil_names_replaced(week: SchoolWeek) -> None:
    assert tuple(e.item_id for e in week.praise) == EXPECTED["praise_order"]
    assert week.praise[0].text == "Well done to [pupil] [pupil] and the choir, a wonderful concert!"
    assert all(PUPIL.split()[0] not in (e.text or "") for e in week.praise)


def test_coverage_says_what_could_not_be_seen_and_for_how_long(week: SchoolWeek) -> None:
    coverage = {c.source: c for c in week.coverage}
    assert coverage["Facebook page"].status == "healthy"
    assert coverage["Facebook page"].reasons == ()
    alerts = coverage["Google Alerts"]
    assert (alerts.status, round(alerts.blind_hours, 1)) == ("partial", 3.0)
    assert alerts.reasons == (
        "rate-limited by the platform (Tue 17 Nov 02:00 to Tue 17 Nov 05:00)",
    )
    x = coverage["X mentions"]
    assert (x.status, round(x.blind_hours, 1)) == ("partial", 60.0)
    assert x.reasons == ("X read budget spent (since Fri 20 Nov 12:00)",)


def test_a_week_still_running_counts_up_to_now(db: Database, config: OrmConfig) -> None:
    populate(db, config)
    wednesday = NOW - timedelta(days=5)
    with db.session() as session:
        week = school_week(session, config.schools[0], WEEK, wednesday, LONDON)
    assert not week.complete
    assert week.replies.opened == 3  # windows opened Mon 09:00, Mon 11:00 and Tue 14:00
    assert round(next(c for c in week.coverage if c.source == "X mentions").blind_hours) == 0


def test_a_window_is_judged_in_the_week_its_reply_was_due_not_the_week_it_opened(
    db: Database, config: OrmConfig
) -> None:
    populate(db, config)
    with db.session() as session:
        sunday_night = session.get_one(models.Item, 4)  # a query from the week
        window = session.scalars(
            select(models.ReplyWindow).where(models.ReplyWindow.item_id == sunday_night.id)
        ).one()
        window.opened_at, window.due_at = at(22, 23), at(23, 17)  # due on Monday, W48
    with db.session() as session:
        w47 = school_week(session, config.schools[0], WEEK, NOW, LONDON)
        w48 = school_week(
            session, config.schools[0], WEEK.shifted(1), NOW + timedelta(days=1), LONDON
        )
    assert w47.replies.pending == 1 and 4 not in {b.item_id for b in w47.replies.breaches}
    assert w48.replies.opened == 0
    assert w48.replies.still_open_late == 1
    assert [b.item_id for b in w48.replies.breaches] == [4]
