"""False pages and misses of the labels that page the DSL, and the public benchmarks, per profile.

    python bench/critical.py                    # default and fast profiles
    python bench/critical.py --profiles rules   # any of default, fast, rules

For each profile, on data no training ever saw:

1. False pages: the share of ordinary, harmless posts on which a paging label (threat,
   safeguarding, extremism, sexual) would page the DSL at once, decided as the pipeline decides
   it (`Assessment.alerts_now`). The harmless set: the inoffensive tweets of TweetEval's offensive
   validation file, the positive and neutral ones of its sentiment validation file, and the
   school test set's posts with no harmful label (none, or only criticism, query, praise).
   Also the share held for the DSL's review.
2. Recall of each paging label at that operating point on the validation split of
   ../shared/data/safeguarding (one post in five, chosen by content hash, never trained on),
   with the share of its positives held for review rather than missed.
3. TweetEval validation files: offensive macro-F1, sentiment macro-recall, hate macro-F1.
4. The school test set: recall of each paging label (raised at all, and paging at once).

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.classify import build_classifier, model_layer  # noqa: E402
from monitor.classify.base import PAGING_LABELS, Assessment, Classifier, Label, Watchlists  # noqa: E402
from monitor.classify.corpus import CRITICAL_TASKS, is_validation, read_labelled  # noqa: E402
from monitor.classify.evaluate import (  # noqa: E402
    Example,
    classify_in_batches,
    evaluate,
    task_named,
)
from monitor.classify.settings import ClassifierConfig  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SCHOOL_POSTS = ROOT / "tests" / "fixtures" / "classifier" / "school_posts.csv"
REPUTATION = {"criticism", "query", "praise"}
"""School posts with no other label are harmless: complaints, questions and thanks."""
PER_WEEK = 150
"""Posts a school receives in a week: false pages a week = this times the false-page rate."""


def harmless(data: Path) -> list[str]:
    """Ordinary posts no training saw: inoffensive, positive or neutral, harmless school posts."""
    texts, labels = read_labelled(data / "classifier" / "offensive_val.csv")
    found = [t for t, y in zip(texts, labels, strict=True) if y == "not_offensive"]
    texts, labels = read_labelled(data / "classifier" / "sentiment_val.csv")
    found += [t for t, y in zip(texts, labels, strict=True) if y in ("positive", "neutral")]
    found += [row["text"] for row in school_posts() if _labels(row) <= REPUTATION]
    return list(dict.fromkeys(found))


def _labels(row: dict[str, str]) -> set[str]:
    return {name for name in row["labels"].split(";") if name}


def school_posts() -> list[dict[str, str]]:
    """The held-out school test set."""
    with SCHOOL_POSTS.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def assess(classifier: Classifier, texts: list[str]) -> list[Assessment]:
    """Classify in the pipeline's batch size."""
    return classify_in_batches(classifier, texts, 64, None)


def false_pages(classifier: Classifier, data: Path) -> dict[str, object]:
    """How often a harmless post would page the DSL, and for which label."""
    posts = harmless(data)
    found = assess(classifier, posts)
    paged = [a for a in found if any(a.alerts_now(label) for label in PAGING_LABELS)]
    by_label = {
        str(label): round(100 * sum(a.alerts_now(label) for a in found) / len(found), 2)
        for label in sorted(PAGING_LABELS)
    }
    rate = len(paged) / len(found)
    return {
        "posts": len(found),
        "false_page_percent": round(100 * rate, 2),
        "false_pages_per_school_week": round(rate * PER_WEEK, 2),
        "held_for_review_percent": round(
            100 * sum(bool(a.held_for_review) for a in found) / len(found), 2
        ),
        "by_label_percent": by_label,
    }


def paging_recall(classifier: Classifier, data: Path) -> dict[str, dict[str, float | int]]:
    """Recall of each paging label on its corpus's validation split: paged, held, missed."""
    result = {}
    for task in CRITICAL_TASKS:
        texts, labels = read_labelled(data / "safeguarding" / task.train)
        positives = [
            t for t, y in zip(texts, labels, strict=True) if y == task.positive and is_validation(t)
        ]
        label = Label(task.label)
        found = assess(classifier, positives)
        paged = sum(a.alerts_now(label) for a in found)
        held = sum(label in a.held_for_review for a in found)
        result[task.label] = {
            "positives": len(found),
            "recall_paged": round(paged / len(found), 4),
            "held_for_review": round(held / len(found), 4),
            "missed": round(1 - (paged + held) / len(found), 4),
        }
    return result


def public(classifier: Classifier, data: Path) -> dict[str, float]:
    """TweetEval validation: offensive macro-F1, sentiment macro-recall, hate macro-F1."""
    figures = {}
    for task_name, file, metric in (
        ("offensive", "offensive_val.csv", "f1"),
        ("sentiment", "sentiment_val.csv", "recall"),
        ("hate", "hate_val.csv", "f1"),
    ):
        task = task_named(task_name)
        texts, labels = read_labelled(data / "classifier" / file)
        rows = [Example(t, frozenset({y})) for t, y in zip(texts, labels, strict=True)]
        figures[f"{task_name}_macro_{metric}"] = round(
            evaluate(classifier, rows, task).macro(metric), 4
        )
    return figures


def school_recall(classifier: Classifier) -> dict[str, dict[str, float]]:
    """On the school test set: each paging label raised at all, and paging at once."""
    rows = school_posts()
    found = assess(classifier, [row["text"] for row in rows])
    result = {}
    for label in sorted(PAGING_LABELS):
        mine = [a for row, a in zip(rows, found, strict=True) if str(label) in _labels(row)]
        result[str(label)] = {
            "raised": round(sum(label in a.labels for a in mine) / len(mine), 4),
            "paged": round(sum(a.alerts_now(label) for a in mine) / len(mine), 4),
        }
    return result


def run(profile: str, data: Path) -> dict[str, object]:
    """Every figure for one profile."""
    started = time.perf_counter()
    classifier = build_classifier(Watchlists(), model_layer(ClassifierConfig(profile=profile)))
    figures: dict[str, object] = {"profile": profile}
    figures["false_pages"] = false_pages(classifier, data)
    figures["paging_recall"] = paging_recall(classifier, data)
    figures["public"] = public(classifier, data)
    figures["school"] = school_recall(classifier)
    figures["model_version"] = classifier.classify(["x"])[0].model_version
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def show(figures: dict[str, object]) -> None:
    """The figures of one profile, for people."""
    pages = figures["false_pages"]
    assert isinstance(pages, dict)
    print(f"\n== {figures['profile']} ({figures['model_version']})")
    print(
        f"false pages: {pages['false_page_percent']}% of {pages['posts']} harmless posts"
        f" ({pages['false_pages_per_school_week']} a week at {PER_WEEK} posts);"
        f" held for review {pages['held_for_review_percent']}%;"
        f" by label {pages['by_label_percent']}"
    )
    recall = figures["paging_recall"]
    assert isinstance(recall, dict)
    for label, row in recall.items():
        print(
            f"{label:13} recall (paged) {row['recall_paged']:.3f},"
            f" held {row['held_for_review']:.3f}, missed {row['missed']:.3f}"
            f" of {row['positives']}"
        )
    print(f"public: {figures['public']}")
    print(f"school test set: {figures['school']}")


def main() -> int:
    """Measure each profile named."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profiles", default="default,fast")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not (args.data / "safeguarding").is_dir():
        print(f"no data in {args.data}: pass --data ../shared/data", file=sys.stderr)
        return 2
    results = []
    for profile in args.profiles.split(","):
        results.append(run(profile.strip(), args.data))
        show(results[-1])
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
