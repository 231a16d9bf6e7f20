"""Assessments as stored: the profile that made them, each signal's confidence, what alerted."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from connectors.base import Item, ItemKind
from monitor.classify.base import Assessment, Label, Severity, Signal
from monitor.storage import assessments, ingest, models
from monitor.storage.engine import Database
from tests.support.config import build, raw_config, rss_source

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
UNSURE_THREAT = Signal(Label.THREAT, 0.71, "transformers", "threat-head", confident=False)
SURE_INSULT = Signal(Label.INSULT, 1.0, "rules", "lexicon:insult", "idiots")


def _stored_item(db: Database) -> int:
    config = build(raw_config(database_url=db.url, sources=[rss_source("https://e.org/f")]))
    with db.session() as session:
        ingest.sync_config(session, config)
        post = Item("c1", ItemKind.COMMENT, "idiots, he'll get what's coming", NOW)
        return ingest.ingest(session, "blog", "st-marys", [post], NOW).changed_ids[0]


def test_an_assessment_keeps_its_profile_and_each_signals_confidence(db: Database) -> None:
    item_id = _stored_item(db)
    made = Assessment((UNSURE_THREAT, SURE_INSULT), model_version="v1", profile="fast")
    with db.session() as session:
        item = session.get_one(models.Item, item_id)
        assessments.record(session, item, made, Severity.MEDIUM)
    with db.session() as session:
        row = session.scalars(select(models.Assessment)).one()
        assert (row.profile, row.model_version, row.severity) == ("fast", "v1", "medium")
        assert assessments.signals_from_json(row.labels) == (UNSURE_THREAT, SURE_INSULT)
        assert session.get_one(models.Item, item_id).assessed_version == 1
        # the threat was held for review, so an edit that makes it sure still pages
        assert assessments.alerted_labels(session, item_id) == {Label.INSULT}


def test_signals_stored_before_confidence_was_recorded_count_as_confident() -> None:
    old = [{"label": "threat", "score": 0.8, "layer": "transformers", "rule": "threat-head"}]
    (signal,) = assessments.signals_from_json(old)
    assert signal.confident and signal.evidence == ""
