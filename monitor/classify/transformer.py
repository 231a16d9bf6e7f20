"""The transformers layer: a sentence encoder with sentiment, offensive-language and hate heads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.classify.base import Label, Sentiment, Signal
from monitor.classify.encoder import Encoder, ModelMissing
from monitor.classify.heads import (
    LEXICAL_FEATURES,
    SHIPPED_DIR,
    Heads,
    Lexical,
    Matrix,
    features,
    load_heads,
)
from monitor.classify.task_model import TaskModel

if TYPE_CHECKING:
    from monitor.classify.settings import ClassifierConfig

log = logging.getLogger(__name__)

LAYER = "transformers"
RENAMED = {"offensive": Label.INSULT}
"""Heads named after their corpus rather than the label they raise."""
PAGER = "-pager"
"""Suffix of a paging label's second-stage head (`threat-pager`): where heads hold one, a hit
the label's own head raises pages the DSL only if the pager reaches its page threshold or the
label's head reaches its own (a first pass that is all but sure), and is held for review
otherwise."""


def head_label(name: str) -> Label | None:
    """The label a two-class head raises (offensive language is reported as `insult`)."""
    if name in RENAMED:
        return RENAMED[name]
    try:
        return Label(name)
    except ValueError:
        return None


class TransformersLayer:
    """Encodes each batch once; raises labels from the heads and gives the sentiment."""

    name = LAYER

    def __init__(
        self,
        encoder: Encoder,
        heads: Heads,
        thresholds: Mapping[Label, float] | None = None,
        task_models: Mapping[str, TaskModel] | None = None,
        page_thresholds: Mapping[Label, float] | None = None,
    ) -> None:
        self.encoder, self.heads = encoder, heads
        self.profile = encoder.profile.name
        self.task_models = dict(task_models or {})
        _check_fit(encoder, heads)
        extra = "".join(f"+{task}:{model.version}" for task, model in self.task_models.items())
        self.version = f"{encoder.version}+{heads.version}{extra}"
        self.label_heads = {
            name: label
            for name, head in heads.heads.items()
            if head.enabled and (label := head_label(name)) is not None
        }
        self.thresholds = {
            label: (thresholds or {}).get(
                label, 0.5 if name in self.task_models else heads.heads[name].threshold
            )
            for name, label in self.label_heads.items()
        }
        self.pagers = {
            label: heads.heads[name + PAGER]
            for name, label in self.label_heads.items()
            if name + PAGER in heads.heads and name not in self.task_models
        }
        self.page_thresholds = {
            label: (page_thresholds or {}).get(
                label, (self.pagers.get(label) or heads.heads[name]).page_threshold
            )
            for name, label in self.label_heads.items()
        }
        self._lexical = Lexical()
        self._last: tuple[tuple[str, ...], Matrix] | None = None
        self._lock = threading.Lock()

    def assess(self, texts: Sequence[str]) -> list[tuple[Signal, ...]]:
        """Signals for each text: a label wherever its head reaches the label's threshold."""
        x = self._features(texts)
        found: list[list[Signal]] = [[] for _ in texts]
        for head_name, label in self.label_heads.items():
            scores, rule = self.heads.heads[head_name].probabilities(x)[:, 1], f"{head_name}-head"
            if head_name in self.task_models:
                scores, rule = self.task_models[head_name].probabilities(texts)[:, 1], head_name
            page, paging, sure = self.page_thresholds[label], scores, 2.0
            if label in self.pagers:  # a second, stricter head decides whether a hit pages,
                paging = self.pagers[label].probabilities(x)[:, 1]  # unless the first is sure
                sure = self.heads.heads[head_name].page_threshold or sure
            for i, score in enumerate(scores.tolist()):  # floats and bools JSON can store
                if score >= self.thresholds[label]:
                    confident = page is None or bool(paging[i] >= page) or score >= sure
                    signal = Signal(label, round(score, 4), LAYER, rule, "", confident)
                    found[i].append(signal)
        return [tuple(signals) for signals in found]

    def sentiments(self, texts: Sequence[str]) -> list[tuple[Sentiment, float] | None]:
        """The sentiment head's (or sentiment model's) class and probability for each text."""
        if "sentiment" in self.task_models:
            probabilities = self.task_models["sentiment"].probabilities(texts)
            best = probabilities.argmax(axis=1)
            classes = list(Sentiment)
            return [
                (classes[int(i)], round(float(p[int(i)]), 4))
                for i, p in zip(best, probabilities, strict=True)
            ]
        predicted = self.heads.heads["sentiment"].predict(self._features(texts))
        return [(Sentiment(name), round(score, 4)) for name, score in predicted]

    def _features(self, texts: Sequence[str]) -> Matrix:
        key = tuple(texts)
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1]  # the cascade asks for labels, then sentiment, of one batch
            x = features(self.encoder.embed(key), self._lexical.features(key))
            self._last = (key, x)
            return x


def _check_fit(encoder: Encoder, heads: Heads) -> None:
    """Heads read vectors of one encoder's size; another model needs heads trained for it."""
    width = encoder.dimensions + LEXICAL_FEATURES
    for head in heads.heads.values():
        if head.weights.shape[1] != width:
            raise ModelMissing(
                f"the classifier heads ({heads.version}) were trained on"
                f" {heads.manifest.get('encoder', 'another model')}, not {encoder.version}:"
                " train heads for this model with `python -m monitor.classify.train --data DIR"
                " --model MODEL --out HEADS_DIR` and set classifier.heads to HEADS_DIR"
            )


_encoders: dict[tuple[str | None, str], Encoder] = {}
_task_models: dict[tuple[str, str], TaskModel] = {}
_loading = threading.Lock()


def shared_layer(
    model: str | None,
    profile: str,
    heads_dir: Path | None = None,
    thresholds: Mapping[Label, float] | None = None,
    cache_dir: Path | None = None,
    task_models: Mapping[str, str] | None = None,
    page_thresholds: Mapping[Label, float] | None = None,
) -> TransformersLayer:
    """A layer over this process's one encoder for (model, profile): it is loaded once."""
    with _loading:
        if (model, profile) not in _encoders:
            _encoders[(model, profile)] = Encoder(model, profile, cache_dir=cache_dir)
        encoder = _encoders[(model, profile)]
        for task, name in (task_models or {}).items():
            if (task, name) not in _task_models:
                _task_models[(task, name)] = TaskModel(task, name, cache_dir)
        loaded = {task: _task_models[(task, name)] for task, name in (task_models or {}).items()}
    heads = _heads_for(encoder, heads_dir or SHIPPED_DIR / profile)
    return TransformersLayer(encoder, heads, thresholds, loaded, page_thresholds)


def _heads_for(encoder: Encoder, directory: Path) -> Heads:
    """The heads in `directory`; heads trained on another version of the encoder (a school's,
    before an upgrade) give way to the shipped ones until they are trained again."""
    heads = load_heads(directory)
    shipped = SHIPPED_DIR / encoder.profile.name
    trained_on = heads.manifest.get("encoder")
    if trained_on in (None, encoder.version) or directory == shipped or not shipped.is_dir():
        return heads
    log.warning(
        "the heads in %s were trained on %s, not on %s: using the shipped heads until"
        " `orm-monitor classifier train` trains them again",
        directory,
        trained_on,
        encoder.version,
    )
    return load_heads(shipped)


def model_layer(
    config: ClassifierConfig, cache_dir: Path | None = None, heads_dir: Path | None = None
) -> TransformersLayer | None:
    """The configured model layer, or None for the rules-only profile.

    `cache_dir` is where `orm-monitor models pull` keeps hub models (the state dir's `models`);
    `heads_dir` overrides the configured heads (a school's own, once trained).
    """
    if config.profile == "rules":
        return None
    heads = heads_dir or (Path(config.heads).expanduser() if config.heads else None)
    return shared_layer(
        config.model,
        config.profile,
        heads,
        config.thresholds,
        cache_dir,
        {str(k): v for k, v in config.models.items()},
        config.page_thresholds,
    )


def school_heads_dir(models_dir: Path, school_id: str) -> Path:
    """Where a school's own trained heads live (under the service's models directory)."""
    return models_dir / "heads" / school_id


def current_heads_dir(config: ClassifierConfig, models_dir: Path, school_id: str) -> Path:
    """The heads the school's classifier uses: its own, else the configured, else shipped."""
    own = school_heads_dir(models_dir, school_id)
    if (own / "manifest.json").is_file():
        return own
    if config.heads:
        return Path(config.heads).expanduser()
    return SHIPPED_DIR / config.profile
