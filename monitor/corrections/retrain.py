"""Learning from the school: refit a school's heads from its corrections, kept only if not worse.

New heads are written only when they are not worse than the current ones on the public
validation files; the report shows the school's held-out examples before and after.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.classify.corpus import TASKS, Example, FeatureCache, read_labelled, read_seeds
from monitor.classify.encoder import ModelMissing
from monitor.classify.fit import macro_f1
from monitor.classify.heads import Heads
from monitor.classify.train import Inputs, train
from monitor.classify.transformer import (
    current_heads_dir,
    head_label,
    school_heads_dir,
    shared_layer,
)
from monitor.config.schema import OrmConfig, SchoolConfig

TOLERANCE = 0.002
"""New heads may score this much below the current ones on public validation (noise), no more."""
HELD_OUT_SHARE = 4
"""One school example in this many is held out to show the effect of training."""


@dataclass(frozen=True)
class Report:
    """What training did: scores before and after, and whether the new heads were kept."""

    held_out: int
    held_before: float
    held_after: float
    validation: dict[str, tuple[float, float]]
    kept: bool
    written_to: Path | None


def retrain(
    config: OrmConfig,
    school: SchoolConfig,
    examples: Sequence[Example],
    data: Path,
    seeds: Path,
    safeguarding: Path | None = None,
) -> Report:
    """Refit the heads with the school's examples; keep them only if validation holds."""
    if config.classifier.profile == "rules":
        raise ModelMissing('classifier.profile is "rules": there is no model to train')
    held, used = _split(examples)
    layer = shared_layer(
        config.classifier.model,
        config.classifier.profile,
        current_heads_dir(config.classifier, config.service.models_dir, school.id),
        cache_dir=config.service.models_dir,
    )
    store = FeatureCache(layer.encoder, Path(config.service.state_dir) / "cache" / "features")
    inputs = Inputs(data, read_seeds(seeds), seeds, list(used), safeguarding)
    new = train(inputs, layer.encoder, store.directory)
    validation = {
        task.name: (_validation(layer.heads, task.name, data, store), _recorded(new, task.name))
        for task in TASKS
    }
    kept = all(after >= before - TOLERANCE for before, after in validation.values())
    target = school_heads_dir(config.service.models_dir, school.id) if kept else None
    if target is not None:
        _replace(new, target)
    return Report(
        len(held),
        _agreement(layer.heads, held, store),
        _agreement(new, held, store),
        validation,
        kept,
        target,
    )


def _split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """A stable split by text: the same example is always on the same side."""
    held: list[Example] = []
    used: list[Example] = []
    for example in examples:
        digest = hashlib.sha256(example.text.encode()).digest()[0]
        (held if digest % HELD_OUT_SHARE == 0 and len(examples) >= 8 else used).append(example)
    return held, used


def _validation(heads: Heads, name: str, data: Path, store: FeatureCache) -> float:
    task = next(t for t in TASKS if t.name == name)
    texts, labels = read_labelled(data / task.validation)
    predicted = [c for c, _ in heads.heads[name].predict(store.features(texts, task.validation))]
    return round(macro_f1(predicted, labels, task.classes), 4)


def _recorded(heads: Heads, name: str) -> float:
    return float(heads.manifest["heads_data"][name]["validation"]["macro_f1"])


def _agreement(heads: Heads, held: Sequence[Example], store: FeatureCache) -> float:
    """Share of held-out examples the heads decide as the person said."""
    if not held:
        return 0.0
    x = store.features([e.text for e in held], "held-out examples")
    right = 0
    for i, example in enumerate(held):
        if example.sentiment is not None:
            right += heads.heads["sentiment"].predict(x[i : i + 1])[0][0] == example.sentiment
            continue
        head = next((n for n in heads.heads if head_label(n) == example.label), None)
        if head is not None:
            raised = heads.heads[head].predict(x[i : i + 1])[0][0] != f"not_{head}"
            right += raised == example.present
    return round(right / len(held), 4)


def _replace(heads: Heads, target: Path) -> None:
    """Write the heads beside the target, then swap directories (no half-written heads)."""
    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    heads.save(staging)
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
