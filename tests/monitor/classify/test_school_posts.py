"""The default classifier on the held-out school test set: per-label floors as regression checks.

The floors sit about 0.1 below what the shipped heads reach (README, "The classifier"), so a
change that makes a label markedly worse fails here; they are not the targets.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from monitor.classify import build_classifier
from monitor.classify.base import Label, Watchlists
from monitor.classify.transformer import shared_layer

POSTS = Path(__file__).resolve().parents[2] / "fixtures" / "classifier" / "school_posts.csv"
RECALL_FLOOR = {
    Label.THREAT: 0.85,
    Label.SAFEGUARDING: 0.55,
    Label.EXTREMISM: 0.6,
    Label.DEFAMATION: 0.45,
    Label.PERSONAL_DATA: 0.55,
    Label.SEXUAL: 0.2,
    Label.HATE: 0.4,
    Label.INSULT: 0.65,
    Label.QUERY: 0.85,
    Label.PRAISE: 0.55,
    Label.SPAM: 0.75,
}
PRECISION_FLOOR = {Label.SAFEGUARDING: 0.7, Label.EXTREMISM: 0.8, Label.DEFAMATION: 0.8}


@pytest.fixture(scope="module")
def decided() -> list[tuple[frozenset[Label], frozenset[Label]]]:
    with POSTS.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    cascade = build_classifier(Watchlists(), shared_layer(None, "default"))
    found = []
    for start in range(0, len(rows), 64):
        chunk = rows[start : start + 64]
        for row, assessment in zip(
            chunk, cascade.classify([r["text"] for r in chunk]), strict=True
        ):
            gold = frozenset(Label(x) for x in row["labels"].split(";") if x)
            found.append((gold, assessment.labels))
    return found


@pytest.mark.parametrize("label", sorted(RECALL_FLOOR), ids=str)
def test_recall_on_school_posts_stays_above_its_floor(
    label: Label, decided: list[tuple[frozenset[Label], frozenset[Label]]]
) -> None:
    relevant = [raised for gold, raised in decided if label in gold]
    recall = sum(label in raised for raised in relevant) / len(relevant)
    assert recall >= RECALL_FLOOR[label], f"{label} recall {recall:.2f}"


@pytest.mark.parametrize("label", sorted(PRECISION_FLOOR), ids=str)
def test_precision_of_high_stakes_labels_stays_above_its_floor(
    label: Label, decided: list[tuple[frozenset[Label], frozenset[Label]]]
) -> None:
    flagged = [gold for gold, raised in decided if label in raised]
    precision = sum(label in gold for gold in flagged) / len(flagged)
    assert precision >= PRECISION_FLOOR[label], f"{label} precision {precision:.2f}"


def test_critical_false_alarms_on_harmless_posts_do_not_grow(
    decided: list[tuple[frozenset[Label], frozenset[Label]]],
) -> None:
    critical = {Label.THREAT, Label.SAFEGUARDING, Label.EXTREMISM}
    harmless = [raised for gold, raised in decided if not gold]
    false_alarms = sum(bool(raised & critical) for raised in harmless)
    # 13 of the 62 (21 %) with the shipped heads: the cost of tuning threat for recall
    assert false_alarms / len(harmless) <= 0.25, f"{false_alarms} of {len(harmless)}"
