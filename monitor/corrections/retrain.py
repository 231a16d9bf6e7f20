"""Learning from the school: `classifier correct` records examples, `classifier train` refits.

New heads are written only when they are not worse than the current ones on the public
validation files; the report shows the school's held-out examples before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.classify.base import Label, Sentiment
from monitor.classify.corpus import SEEDS, TASKS, Example, FeatureCache, read_labelled, read_seeds
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
from monitor.corrections import feedback
from monitor.storage.engine import Database

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
    config: OrmConfig, school: SchoolConfig, examples: Sequence[Example], data: Path, seeds: Path
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
    inputs = Inputs(data, read_seeds(seeds), seeds, list(used))
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


# --- command line -------------------------------------------------------------------------------


def add_arguments(correct: argparse.ArgumentParser, retrain_cmd: argparse.ArgumentParser) -> None:
    """Arguments of `classifier correct` and `classifier train`."""
    labels = [str(label) for label in Label]
    correct.add_argument("item", type=int, help="the item number shown in alerts and status")
    correct.add_argument("--not", dest="wrong", action="append", default=[], choices=labels)
    correct.add_argument("--missed", action="append", default=[], choices=labels)
    correct.add_argument("--sentiment", choices=[str(s) for s in Sentiment])
    correct.add_argument("--by", required=True, help="who is correcting (for the audit log)")
    retrain_cmd.add_argument("--school", required=True, help="whose corrections to learn from")
    retrain_cmd.add_argument(
        "--data", type=Path, required=True, help="directory of the public training CSVs"
    )
    retrain_cmd.add_argument("--seeds", type=Path, default=SEEDS, help="the seed posts CSV")


def cmd_correct(args: argparse.Namespace, db: Database, config: OrmConfig) -> int:
    """Record the corrections for one item."""
    try:
        with db.session() as session:
            rows = feedback.record(
                session,
                args.item,
                wrong=[Label(x) for x in args.wrong],
                missed=[Label(x) for x in args.missed],
                sentiment=Sentiment(args.sentiment) if args.sentiment else None,
                by=args.by,
            )
            school = rows[0].school_id
    except feedback.CorrectionError as error:
        print(f"orm-monitor: {error}", file=sys.stderr)
        return 1
    print(f"item {args.item}: {len(rows)} correction(s) recorded for {school}")
    print(f"learn from them: orm-monitor classifier train --school {school} --data DIR")
    return 0


def cmd_train(
    args: argparse.Namespace, db: Database, config: OrmConfig, say: Callable[[str], None] = print
) -> int:
    """Refit the school's heads and say what changed."""
    school = config.school(args.school)
    with db.session() as session:
        examples = feedback.school_examples(session, school.id)
    if not examples:
        say(f"no corrections recorded for {school.id} yet: see `orm-monitor classifier correct`")
        return 1
    needed = (args.seeds, *(args.data / f for t in TASKS for f in (t.train, t.validation)))
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        say(
            f"cannot train: {', '.join(missing)} not found (--data is the directory of the public"
            " CSVs, --seeds the seed posts, training/seeds.csv in the source tree)"
        )
        return 2
    report = retrain(config, school, examples, args.data, args.seeds)
    say(f"{len(examples)} correction(s); {report.held_out} held out to compare:")
    say(f"  held-out agreement: before {report.held_before:.2f}, after {report.held_after:.2f}")
    for name, (before, after) in report.validation.items():
        say(f"  {name} validation macro-F1: before {before:.4f}, after {after:.4f}")
    if report.kept:
        say(f"new heads written to {report.written_to}; restart the service to use them")
        return 0
    say("kept the current heads: the new ones were worse on public validation data")
    return 1
