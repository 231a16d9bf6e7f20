"""The classifier cascade: every layer's signals kept, one assessment per text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from monitor.classify.base import Assessment, Label, Layer, Sentiment, Signal, Watchlists
from monitor.classify.rules import RulesLayer

NEGATIVE_LABELS = frozenset(
    {
        Label.CRITICISM,
        Label.INSULT,
        Label.HARASSMENT,
        Label.THREAT,
        Label.HATE,
        Label.SEXUAL,
        Label.EXTREMISM,
        Label.DEFAMATION,
        Label.SAFEGUARDING,
    }
)
POSITIVE_LABELS = frozenset({Label.PRAISE})
NEUTRAL_SCORE = 0.5


@runtime_checkable
class SentimentLayer(Protocol):
    """A layer that can also judge sentiment (a sentiment model, for instance)."""

    def sentiments(self, texts: Sequence[str]) -> list[tuple[Sentiment, float] | None]:
        """Sentiment and its score for each text, or None where the layer has no opinion."""
        ...


class Cascade:
    """Runs each layer over a batch and merges their signals; no layer can drop another's."""

    def __init__(self, layers: Sequence[Layer]) -> None:
        if not layers:
            raise ValueError("a cascade needs at least one layer")
        self.layers = tuple(layers)
        self.profile = next(
            (str(p) for layer in layers if (p := getattr(layer, "profile", None))), "rules"
        )
        """The profile an assessment records: the model layer's, or `rules` without one."""

    @property
    def model_version(self) -> str:
        """Every layer's name and version, so that an assessment can be reproduced."""
        return "+".join(f"{layer.name}@{layer.version}" for layer in self.layers)

    def classify(self, texts: Sequence[str]) -> list[Assessment]:
        """One assessment per text, in order."""
        merged: list[tuple[Signal, ...]] = [() for _ in texts]
        for layer in self.layers:
            found = _run(layer, texts)
            merged = [mine + theirs for mine, theirs in zip(merged, found, strict=True)]
        provided = self._provided_sentiments(texts)
        version = self.model_version
        return [
            _assessment(signals, given, version, self.profile)
            for signals, given in zip(merged, provided, strict=True)
        ]

    def _provided_sentiments(self, texts: Sequence[str]) -> list[tuple[Sentiment, float] | None]:
        provided: list[tuple[Sentiment, float] | None] = [None for _ in texts]
        for layer in self.layers:
            if isinstance(layer, SentimentLayer):
                given = layer.sentiments(texts)
                _check_length(layer, given, texts)
                provided = [new or old for old, new in zip(provided, given, strict=True)]
        return provided


def _run(layer: Layer, texts: Sequence[str]) -> list[tuple[Signal, ...]]:
    signals = layer.assess(texts)
    _check_length(layer, signals, texts)
    return signals


def _check_length(
    layer: Layer | SentimentLayer, results: Sequence[object], texts: Sequence[str]
) -> None:
    if len(results) != len(texts):
        name = getattr(layer, "name", type(layer).__name__)
        raise ValueError(f"layer {name} returned {len(results)} results for {len(texts)} texts")


def _assessment(
    signals: tuple[Signal, ...], given: tuple[Sentiment, float] | None, version: str, profile: str
) -> Assessment:
    sentiment, score = given if given is not None else derive_sentiment(signals)
    return Assessment(signals, sentiment, score, version, profile)


def derive_sentiment(signals: Sequence[Signal]) -> tuple[Sentiment, float]:
    """Negative if any negative label fired, positive if only praise did, otherwise neutral."""
    negative = [s.score for s in signals if s.label in NEGATIVE_LABELS]
    if negative:
        return Sentiment.NEGATIVE, max(negative)
    positive = [s.score for s in signals if s.label in POSITIVE_LABELS]
    if positive:
        return Sentiment.POSITIVE, max(positive)
    return Sentiment.NEUTRAL, NEUTRAL_SCORE


def build_classifier(watchlists: Watchlists, model: Layer | None = None) -> Cascade:
    """A school's cascade: its rules layer, then the shared model layer if there is one."""
    return Cascade([RulesLayer(watchlists)] if model is None else [RulesLayer(watchlists), model])
