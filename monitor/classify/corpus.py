"""Training data for the heads: public corpora, the project's seed posts, a school's corrections."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from monitor.classify.base import Label, Sentiment
from monitor.classify.encoder import Encoder, Vectors
from monitor.classify.heads import Lexical, Matrix, features

SEEDS = Path(__file__).resolve().parents[2] / "training" / "seeds.csv"
"""Project-authored school posts for the labels no public corpus covers (training/README.md)."""
OFFENSIVE = frozenset({Label.INSULT, Label.HARASSMENT, Label.THREAT, Label.HATE, Label.SEXUAL})
RARE = frozenset(
    {
        Label.THREAT,
        Label.SAFEGUARDING,
        Label.EXTREMISM,
        Label.SEXUAL,
        Label.PERSONAL_DATA,
        Label.DEFAMATION,
    }
)
"""High-stakes labels: their heads are tuned for recall."""
SEED_LABELS = tuple(label for label in Label if label not in (Label.INSULT, Label.HATE))
"""Labels with a head of their own, learnt from the seeds (insult and hate have public data)."""
WEIGHT_SCHOOL = 3
"""A school's own correction counts as this many examples."""


@dataclass(frozen=True)
class Task:
    """A public corpus: training and validation files and the classes (positive last)."""

    name: str
    train: str
    validation: str
    classes: tuple[str, ...]


@dataclass(frozen=True)
class SafeguardingTask:
    """A public safeguarding corpus (`safeguarding/NAME_train.csv`) for one DSL label's head."""

    label: str
    """The head, named after the label it raises."""
    train: str
    positive: str
    """The file's positive class (`selfharm` stands for the label `safeguarding`)."""


CRITICAL_TASKS = (
    SafeguardingTask("threat", "threat_train.csv", "threat"),
    SafeguardingTask("safeguarding", "selfharm_train.csv", "selfharm"),
    SafeguardingTask("extremism", "extremism_train.csv", "extremism"),
    SafeguardingTask("sexual", "sexual_train.csv", "sexual"),
)
"""The labels that page the DSL, each with the public corpus that trains its head."""
VALIDATION_SHARE = 5
"""One post in this many of the safeguarding corpora is kept for validation, never trained on."""


ENCODER_SHARE = 4
"""One sentiment tweet in this many tunes the encoder (training/finetune.py); the others stay
unseen by it, so that paging thresholds are measured on posts it never learnt from."""


def is_validation(text: str) -> bool:
    """Whether a safeguarding post belongs to the validation split (by its content, not order)."""
    return _bucket(text, "validation", VALIDATION_SHARE) == 0


def tunes_encoder(text: str) -> bool:
    """Whether a sentiment tweet is one the encoder was fine-tuned on."""
    return _bucket(text, "encoder", ENCODER_SHARE) == 0


def measures_paging(text: str) -> bool:
    """Whether an inoffensive OLID tweet is kept from the encoder's tuning, so that paging
    thresholds are measured on contentious but harmless posts it never learnt from."""
    return _bucket(text, "paging", ENCODER_SHARE) == 0


def _bucket(text: str, purpose: str, share: int) -> int:
    salt = "" if purpose == "validation" else f"{purpose}:"
    return int(hashlib.sha256((salt + text).encode("utf-8")).hexdigest(), 16) % share


TASKS = (
    Task(
        "sentiment", "sentiment_train.csv", "sentiment_val.csv", ("negative", "neutral", "positive")
    ),
    Task("offensive", "offensive_train.csv", "offensive_val.csv", ("not_offensive", "offensive")),
    Task("hate", "hate_train.csv", "hate_val.csv", ("not_hate", "hate")),
)


@dataclass
class Corpus:
    """Texts and class names for one head."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.weights += [1.0] * (len(self.texts) - len(self.weights))

    def add(
        self, texts: Iterable[str], labels: Iterable[str], times: int = 1, weight: float = 1.0
    ) -> None:
        """Append examples, each `times` over (a school's corrections weigh more)."""
        pairs = list(zip(texts, labels, strict=True))
        for _ in range(times):
            self.texts += [text for text, _ in pairs]
            self.labels += [label for _, label in pairs]
            self.weights += [weight] * len(pairs)


def read_labelled(path: Path) -> tuple[list[str], list[str]]:
    """Texts and labels of a `text,label` CSV."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["label"].strip() for row in rows]


@dataclass(frozen=True)
class Example:
    """A school's correction: the text and what a person said about one label or the tone."""

    text: str
    label: Label | None
    present: bool | None
    sentiment: Sentiment | None


@dataclass(frozen=True)
class Seed:
    """One seed post: its labels and tone."""

    text: str
    labels: frozenset[Label]
    sentiment: str


def read_seeds(path: Path = SEEDS) -> list[Seed]:
    """The seed posts (`text,labels,sentiment`, labels `;`-separated)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    return [
        Seed(
            row["text"],
            frozenset(Label(name.strip()) for name in row["labels"].split(";") if name.strip()),
            row["sentiment"].strip(),
        )
        for row in rows
    ]


def seed_classes(seeds: Sequence[Seed], head: str) -> list[str]:
    """Each seed's class for a head: sentiment, offensive, hate, or one of SEED_LABELS."""
    if head == "sentiment":
        return [seed.sentiment for seed in seeds]
    if head == "offensive":
        return ["offensive" if seed.labels & OFFENSIVE else "not_offensive" for seed in seeds]
    label = Label(head)
    return [head if label in seed.labels else f"not_{head}" for seed in seeds]


def git_revision() -> str:
    """The source tree's commit, for a manifest ("unknown" outside a git checkout)."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    try:
        result = subprocess.run(  # noqa: S603 - a fixed git command, no user input
            [git, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip()


class FeatureCache:
    """Features by content on disk, so a second training run skips the encoder."""

    def __init__(self, encoder: Encoder, directory: Path) -> None:
        self.encoder, self.directory = encoder, directory
        self.lexical = Lexical()

    def features(self, texts: Sequence[str], what: str) -> Matrix:
        """Features for `texts`, reading or filling the cache."""
        profile = self.encoder.profile  # everything that changes the vectors, not the batch size
        shape = f"{profile.name}:{profile.max_length}:{profile.quantised}:{profile.layers}"
        parts = [self.encoder.version, shape, *texts]
        key = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
        path = self.directory / f"{key}.npy"
        if path.is_file():
            vectors: Vectors = np.load(path)
        else:
            vectors = self._embed(texts, what)
            self.directory.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors)
        return features(vectors, self.lexical.features(texts))

    def _embed(self, texts: Sequence[str], what: str) -> Vectors:
        done, started, shown = 0, time.monotonic(), 0.0

        def progress(count: int) -> None:
            nonlocal done, shown
            done += count
            now = time.monotonic()
            if now - shown >= 5 or done == len(texts):
                rate = done / max(now - started, 1e-9)
                print(f"{what}: encoded {done:,}/{len(texts):,} ({rate:.0f}/s)", file=sys.stderr)
                shown = now

        return self.encoder.embed(texts, progress)
