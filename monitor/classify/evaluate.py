"""Scoring a classifier against labelled texts: per-class precision, recall and F1."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.classify.base import Assessment, Classifier, Label, Sentiment

SENTIMENT_TASK = "sentiment"
OFFENSIVE_TASK = "offensive"
LABELS_TASK = "labels"
TASK_NAMES: tuple[str, ...] = (
    SENTIMENT_TASK,
    OFFENSIVE_TASK,
    LABELS_TASK,
    *(str(label) for label in Label),
)
OFFENSIVE_LABELS = frozenset(
    {Label.INSULT, Label.HARASSMENT, Label.THREAT, Label.HATE, Label.SEXUAL}
)
DEFAULT_BATCH = 64
DECIMALS = 4

Progress = Callable[[int, int], None]
Outcome = tuple[frozenset[str], frozenset[str]]  # (gold classes, predicted classes)


@dataclass(frozen=True)
class Task:
    """What is scored: the classes a row may carry and how an assessment predicts them."""

    name: str
    classes: tuple[str, ...]
    predict: Callable[[Assessment], frozenset[str]]
    multi_label: bool = False

    @property
    def column(self) -> str:
        """The CSV column holding the gold label(s)."""
        return "labels" if self.multi_label else "label"

    @property
    def header(self) -> str:
        """The header row the CSV must have."""
        return f"text,{self.column}"


def task_named(name: str) -> Task:
    """The task called `name` (one of TASK_NAMES); ValueError for any other."""
    if name == SENTIMENT_TASK:
        return Task(name, tuple(str(s) for s in Sentiment), _predicted_sentiment)
    if name == OFFENSIVE_TASK:
        return _binary(name, lambda a: bool(a.labels & OFFENSIVE_LABELS))
    if name == LABELS_TASK:
        labels = tuple(str(label) for label in Label)
        return Task(name, labels, lambda a: frozenset(str(x) for x in a.labels), multi_label=True)
    if name in TASK_NAMES:
        label = Label(name)
        return _binary(name, lambda a: label in a.labels)
    raise ValueError(f"unknown task {name!r} (choose from: {', '.join(TASK_NAMES)})")


def _predicted_sentiment(assessment: Assessment) -> frozenset[str]:
    return frozenset() if assessment.sentiment is None else frozenset({str(assessment.sentiment)})


def _binary(name: str, fires: Callable[[Assessment], bool]) -> Task:
    absent = f"not_{name}"

    def predict(assessment: Assessment) -> frozenset[str]:
        return frozenset({name if fires(assessment) else absent})

    return Task(name, (name, absent), predict)


@dataclass(frozen=True)
class Example:
    """One labelled text: what a person said its class(es) are."""

    text: str
    gold: frozenset[str]


class ExamplesError(ValueError):
    """A labelled CSV that cannot be read; the message says how to fix it."""


def load_examples(path: Path, task: Task) -> list[Example]:
    """The labelled rows of a UTF-8 CSV with a header row (`text,label` or `text,labels`)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return parse_examples(handle, task, str(path))
    except FileNotFoundError:
        raise ExamplesError(
            f"{path}: no such file (give a CSV with the header {task.header})"
        ) from None
    except UnicodeDecodeError as error:
        raise ExamplesError(
            f"{path}: not UTF-8 (byte {error.start}); save it as UTF-8 CSV"
        ) from None
    except OSError as error:
        raise ExamplesError(
            f"{path}: {error.strerror} (give a CSV with the header {task.header})"
        ) from None


def parse_examples(lines: Iterable[str], task: Task, name: str = "CSV") -> list[Example]:
    """The labelled rows of CSV lines; ExamplesError names the line and the fix."""
    reader = csv.DictReader(lines)
    if not reader.fieldnames:
        raise ExamplesError(f"{name} is empty: write the header {task.header}, then one row a text")
    reader.fieldnames = [field.strip().lower() for field in reader.fieldnames]
    for column in ("text", task.column):
        if column not in reader.fieldnames:
            found = ",".join(reader.fieldnames)
            raise ExamplesError(
                f"{name} has no {column!r} column (header is {found!r}; it must be {task.header})"
            )
    examples = [_example(row, task, f"{name} line {reader.line_num}") for row in reader]
    if not examples:
        raise ExamplesError(f"{name} has a header but no rows: add one row a text")
    return examples


def _example(row: Mapping[str, str | None], task: Task, where: str) -> Example:
    raw = (row.get(task.column) or "").strip().lower()
    gold = (
        frozenset(part.strip() for part in raw.split(";") if part.strip())
        if task.multi_label
        else frozenset({raw})
    )
    unknown = sorted(gold - set(task.classes))
    if unknown:
        accepted = ", ".join(task.classes)
        raise ExamplesError(
            f"{where}: unknown label {unknown[0]!r} for task {task.name} (it accepts: {accepted})"
        )
    return Example(row.get("text") or "", gold)


@dataclass(frozen=True)
class Counts:
    """How often one class was found, wrongly raised, and missed."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def support(self) -> int:
        """How many rows truly carry the class."""
        return self.true_positives + self.false_negatives


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of one class (or an average), with its support."""

    precision: float
    recall: float
    f1: float
    support: int

    def summary(self) -> dict[str, float | int]:
        """The scores rounded for printing."""
        return {
            "precision": round(self.precision, DECIMALS),
            "recall": round(self.recall, DECIMALS),
            "f1": round(self.f1, DECIMALS),
            "support": self.support,
        }


def ratio(part: float, whole: float) -> float:
    """part / whole, or 0.0 when whole is zero."""
    return part / whole if whole else 0.0


def f1_score(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall (0.0 when both are zero)."""
    return ratio(2 * precision * recall, precision + recall)


def scores(counts: Counts) -> Scores:
    """Precision, recall and F1 from one class's counts."""
    precision = ratio(counts.true_positives, counts.true_positives + counts.false_positives)
    recall = ratio(counts.true_positives, counts.support)
    return Scores(precision, recall, f1_score(precision, recall), counts.support)


def count_outcomes(outcomes: Sequence[Outcome], classes: Sequence[str]) -> dict[str, Counts]:
    """Each class's true positives, false positives and false negatives (one-vs-rest)."""
    return {
        name: Counts(
            true_positives=sum(1 for gold, got in outcomes if name in gold and name in got),
            false_positives=sum(1 for gold, got in outcomes if name not in gold and name in got),
            false_negatives=sum(1 for gold, got in outcomes if name in gold and name not in got),
        )
        for name in classes
    }


def macro_average(values: Sequence[float]) -> float:
    """The unweighted mean over classes (0.0 for none)."""
    return ratio(sum(values), len(values))


def micro_scores(counts: Iterable[Counts]) -> Scores:
    """Precision, recall and F1 over the pooled counts of every class."""
    pooled = list(counts)
    return scores(
        Counts(
            sum(c.true_positives for c in pooled),
            sum(c.false_positives for c in pooled),
            sum(c.false_negatives for c in pooled),
        )
    )


def exact_match(outcomes: Sequence[Outcome]) -> float:
    """The share of rows whose predicted classes are exactly the gold ones (accuracy)."""
    return ratio(sum(1 for gold, got in outcomes if gold == got), len(outcomes))


@dataclass(frozen=True)
class EvalResult:
    """How well a classifier did on one task's labelled rows."""

    task: str
    n: int
    accuracy: float
    per_label: Mapping[str, Scores]
    micro: Scores
    items_per_s: float
    model_version: str

    def macro(self, metric: str) -> float:
        """The macro average of `precision`, `recall` or `f1` over the task's classes."""
        return macro_average([getattr(s, metric) for s in self.per_label.values()])

    def summary(self) -> dict[str, object]:
        """Every figure, rounded, in the order the CLI prints them as JSON."""
        return {
            "task": self.task,
            "n": self.n,
            "accuracy": round(self.accuracy, DECIMALS),
            "macro_precision": round(self.macro("precision"), DECIMALS),
            "macro_recall": round(self.macro("recall"), DECIMALS),
            "macro_f1": round(self.macro("f1"), DECIMALS),
            "micro_precision": round(self.micro.precision, DECIMALS),
            "micro_recall": round(self.micro.recall, DECIMALS),
            "micro_f1": round(self.micro.f1, DECIMALS),
            "per_label": {name: s.summary() for name, s in self.per_label.items()},
            "items_per_s": round(self.items_per_s, DECIMALS),
            "model_version": self.model_version,
        }


def score(
    task: Task, outcomes: Sequence[Outcome], seconds: float, model_version: str
) -> EvalResult:
    """The evaluation of (gold, predicted) pairs for a task."""
    counts = count_outcomes(outcomes, task.classes)
    return EvalResult(
        task=task.name,
        n=len(outcomes),
        accuracy=exact_match(outcomes),
        per_label={name: scores(c) for name, c in counts.items()},
        micro=micro_scores(counts.values()),
        items_per_s=ratio(len(outcomes), seconds),
        model_version=model_version,
    )


@dataclass(frozen=True)
class Assessed:
    """Each row's assessment, in order, and how long the classifier took."""

    assessments: list[Assessment]
    seconds: float


def assess_rows(
    classifier: Classifier,
    rows: Sequence[Example],
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Assessed:
    """Classify every row in batches, timing it."""
    started = clock()
    assessments = classify_in_batches(classifier, [row.text for row in rows], batch_size, progress)
    return Assessed(assessments, clock() - started)


def score_rows(task: Task, rows: Sequence[Example], assessed: Assessed) -> EvalResult:
    """Score the rows' assessments against their gold labels."""
    outcomes = [
        (row.gold, task.predict(assessment))
        for row, assessment in zip(rows, assessed.assessments, strict=True)
    ]
    version = assessed.assessments[0].model_version if assessed.assessments else ""
    return score(task, outcomes, assessed.seconds, version)


def evaluate(
    classifier: Classifier,
    rows: Sequence[Example],
    task: Task,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> EvalResult:
    """Classify every row in batches and score the predictions against the gold labels."""
    return score_rows(task, rows, assess_rows(classifier, rows, batch_size, progress, clock))


PREDICTION_COLUMNS = (
    "text",
    "expected",
    "predicted",
    "correct",
    "score",
    "held_for_review",
    "fired",
)


def write_predictions(
    path: Path, task: Task, rows: Sequence[Example], assessments: Sequence[Assessment]
) -> None:
    """One CSV row a text: expected and predicted classes, the score behind the prediction,
    what was held for review, and every signal with the rule or model that raised it."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(PREDICTION_COLUMNS)
        for row, assessment in zip(rows, assessments, strict=True):
            predicted = task.predict(assessment)
            out.writerow(
                [
                    row.text,
                    ";".join(sorted(row.gold)),
                    ";".join(sorted(predicted)),
                    "yes" if predicted == row.gold else "no",
                    _score_text(task, assessment),
                    ";".join(sorted(str(label) for label in assessment.held_for_review)),
                    "; ".join(
                        f"{s.label} {s.score:.2f} {s.layer}:{s.rule}" for s in assessment.signals
                    ),
                ]
            )


def _score_text(task: Task, assessment: Assessment) -> str:
    """The confidence in the task's prediction: the label's score, or the sentiment's."""
    if task.name == SENTIMENT_TASK:
        score = assessment.sentiment_score
    elif task.name in {str(label) for label in Label}:
        score = assessment.score(Label(task.name))
    else:
        score = max((s.score for s in assessment.signals), default=None)
    return "" if score is None else f"{score:.4f}"


def classify_in_batches(
    classifier: Classifier, texts: Sequence[str], batch_size: int, progress: Progress | None
) -> list[Assessment]:
    """One assessment per text, `batch_size` texts a call, reporting (done, total) after each."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, not {batch_size}")
    assessments: list[Assessment] = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        found = classifier.classify(batch)
        if len(found) != len(batch):
            raise ValueError(f"classifier returned {len(found)} results for {len(batch)} texts")
        assessments.extend(found)
        if progress is not None:
            progress(len(assessments), len(texts))
    return assessments
