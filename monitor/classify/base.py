"""What the classifier says about a post: labels, severities, and which layer said it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Protocol


class Label(StrEnum):
    """What the classifier can say about a post (README: "Labels"); an item may carry several."""

    CRITICISM = "criticism"
    QUERY = "query"
    PRAISE = "praise"
    INSULT = "insult"
    HARASSMENT = "harassment"
    THREAT = "threat"
    HATE = "hate"
    SEXUAL = "sexual"
    SAFEGUARDING = "safeguarding"
    EXTREMISM = "extremism"
    DEFAMATION = "defamation"
    PERSONAL_DATA = "personal_data"
    SPAM = "spam"


class Severity(IntEnum):
    """How urgent an item is; alerts are ordered and routed by it."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, name: str) -> Severity:
        """Severity from its lower-case name, as written in config."""
        return cls[name.upper()]

    def __str__(self) -> str:
        return self.name.lower()


DEFAULT_SEVERITY: dict[Label, Severity] = {
    Label.CRITICISM: Severity.LOW,
    Label.QUERY: Severity.LOW,
    Label.PRAISE: Severity.INFO,
    Label.INSULT: Severity.MEDIUM,
    Label.HARASSMENT: Severity.HIGH,
    Label.THREAT: Severity.CRITICAL,
    Label.HATE: Severity.HIGH,
    Label.SEXUAL: Severity.HIGH,
    Label.SAFEGUARDING: Severity.CRITICAL,
    Label.EXTREMISM: Severity.CRITICAL,
    Label.DEFAMATION: Severity.HIGH,
    Label.PERSONAL_DATA: Severity.HIGH,
    Label.SPAM: Severity.INFO,
}


PAGING_LABELS = frozenset({Label.THREAT, Label.SAFEGUARDING, Label.EXTREMISM, Label.SEXUAL})
"""Labels that alert the DSL at once, but only when the classifier is confident: a less certain
hit is held for review (the DSL's morning summary) instead of paging anyone."""


class Sentiment(StrEnum):
    """Overall tone of a post."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


@dataclass(frozen=True)
class Signal:
    """One label raised by one layer, with the rule or model that raised it."""

    label: Label
    score: float
    """The layer's confidence: a calibrated probability for the model, 1.0 or 0.6 for a rule."""
    layer: str
    rule: str
    evidence: str = ""
    confident: bool = True
    """Enough on its own to page for a paging label: the model above the label's paging
    threshold, or a strong rule; other signals page only when a second layer agrees."""


@dataclass(frozen=True)
class Assessment:
    """Everything the cascade concluded about one text."""

    signals: tuple[Signal, ...] = ()
    sentiment: Sentiment | None = None
    sentiment_score: float | None = None
    model_version: str = ""
    profile: str = ""
    """The classifier profile that made it (`default`, `fast`, `rules`)."""

    @property
    def labels(self) -> frozenset[Label]:
        """The distinct labels raised by any layer."""
        return frozenset(signal.label for signal in self.signals)

    def score(self, label: Label) -> float:
        """The highest score any layer gave `label` (0.0 when none raised it)."""
        return max((s.score for s in self.signals if s.label == label), default=0.0)

    def alerts_now(self, label: Label) -> bool:
        """Whether `label` alerts at once: any label raised, except a paging label that no
        confident signal raised and only one layer did (that one is held for review)."""
        found = [s for s in self.signals if s.label == label]
        if not found or label not in PAGING_LABELS:
            return bool(found)
        return any(s.confident for s in found) or len({s.layer for s in found}) > 1

    @property
    def held_for_review(self) -> frozenset[Label]:
        """Paging labels raised with too little confidence to page: the DSL reviews them."""
        return frozenset(label for label in self.labels if not self.alerts_now(label))


@dataclass(frozen=True)
class Watchlists:
    """A school's own names to look for: its names, staff, and pupils (hashed)."""

    school_names: tuple[str, ...] = ()
    staff_names: tuple[str, ...] = ()
    pupil_name_hashes: frozenset[str] = field(default_factory=frozenset)
    pupil_hash_key: bytes = b""
    """The school's key the pupil names were hashed with (`monitor.config.watchlist`)."""


class Layer(Protocol):
    """One explainable layer of the cascade."""

    name: str
    version: str

    def assess(self, texts: Sequence[str]) -> list[tuple[Signal, ...]]:
        """Signals for each text, in order."""
        ...


class Classifier(Protocol):
    """Turns item texts into assessments (used by the pipeline)."""

    def classify(self, texts: Sequence[str]) -> list[Assessment]:
        """One assessment per text, in order."""
        ...


def assessable_text(title: str | None, text: str) -> str:
    """What the classifier reads: the title (if not already in the text) and the text."""
    if title and title not in text:
        return f"{title}\n{text}"
    return text
