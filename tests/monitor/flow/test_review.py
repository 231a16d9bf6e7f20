"""Paging labels the classifier is unsure of page nobody: the DSLs review them each morning."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from monitor.service.daemon import Service
from monitor.storage import models
from tests.support.clock import Clock
from tests.support.world import World, world

TUESDAY_7AM = datetime(2026, 12, 8, 7, 0, tzinfo=UTC)  # London is on GMT in December
DSLS = ["deputy@school.example", "dsl@school.example"]
UNSURE = "Someone said a boy from year 9 got stabbed near the gates, is that true?"
SURE = "I will kill you Mr Hughes, watch your back"


def subjects_to(w: World, address: str) -> list[str]:
    return [str(m["Subject"]) for m in w.messages_to(address)]


def reviews(service: Service) -> list[tuple[str, float, bool]]:
    with service.db.session() as session:
        rows = session.scalars(select(models.Review).order_by(models.Review.id))
        return [(r.label, r.score, r.summarised_at is not None) for r in rows]


def test_a_weak_threat_is_held_for_review_and_pages_nobody(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(("c1", UNSURE))
        service = Service(w.config, clock=Clock(TUESDAY_7AM))
        service.run_once()
        assert reviews(service) == [("threat", 0.6, False)]
        assert all(not w.messages_to(dsl) for dsl in DSLS)
        # the question in it still reaches the account manager at once
        assert subjects_to(w, "j.smith@school.example") == [
            "[LOW] St Mary's C of E Primary School: query on School blog"
        ]
        service.stop()


def test_the_dsls_get_one_summary_each_working_morning_listing_what_was_held(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        clock = Clock(TUESDAY_7AM)
        w.serve(("c1", UNSURE))
        service = Service(w.config, clock=clock)
        service.run_once()
        assert service.reviews.tick() == 0  # 07:00: before the morning summary
        clock.set(TUESDAY_7AM.replace(hour=8, minute=5))
        assert service.reviews.tick() == 1
        assert service.reviews.tick() == 0  # once a morning, however often it is asked
        service.dispatcher.run_once()
        for dsl in DSLS:
            (message,) = w.messages_to(dsl)
            assert "1 post(s) held for your review (threat)" in str(message["Subject"])
            body = message.get_body(("plain",)).get_content()
            assert "got stabbed near the gates" in body
            assert "possibly a threat (60 % sure), too unsure to page you" in body
            assert "orm-monitor classifier correct ITEM --not LABEL" in body
        assert reviews(service) == [("threat", 0.6, True)]
        service.stop()


def test_what_is_held_after_the_summary_waits_for_the_next_working_morning(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        friday_9am = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)
        clock = Clock(friday_9am.replace(hour=8, minute=30))
        service = Service(w.config, clock=clock)
        w.serve(("c1", UNSURE))
        service.run_once()  # polls, then queues Friday's summary
        assert reviews(service) == [("threat", 0.6, True)]
        clock.set(friday_9am)
        w.serve(("c1", UNSURE), ("c2", "they say he'll get stabbed at the bus stop later"))
        service.run_once()
        assert reviews(service) == [("threat", 0.6, True), ("threat", 0.6, False)]
        assert service.reviews.tick() == 0  # already summarised today
        clock.set(datetime(2026, 12, 12, 8, 30, tzinfo=UTC))  # Saturday: not a working day
        assert service.reviews.tick() == 0
        clock.set(datetime(2026, 12, 14, 8, 30, tzinfo=UTC))  # Monday
        assert service.reviews.tick() == 1
        assert reviews(service) == [("threat", 0.6, True), ("threat", 0.6, True)]
        service.stop()


def test_a_sure_threat_pages_the_dsls_at_once_and_is_not_held(
    tmp_path: Path, database_url: str
) -> None:
    with world(tmp_path, database_url) as w:
        w.serve(("c1", SURE))
        service = Service(w.config, clock=Clock(TUESDAY_7AM))
        service.run_once()
        assert reviews(service) == []
        for dsl in DSLS:
            (message,) = w.messages_to(dsl)
            assert str(message["Subject"]).startswith("[CRITICAL]")
            body = message.get_body(("plain",)).get_content()
            assert "confidence: threat keyword rule" in body
            assert "Why: the words 'I will kill' matched the threat list" in body
        service.stop()
