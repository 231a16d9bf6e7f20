"""Fit the heads: `python -m monitor.classify.train --data DIR` writes the shipped ones.

Public corpora (sentiment, offensive, hate) and the project's seed posts train every head; a
school's corrections, when given, are added with extra weight (`orm-monitor classifier train`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from monitor.classify.base import Label
from monitor.classify.corpus import (
    CRITICAL_TASKS,
    RARE,
    SEED_LABELS,
    SEEDS,
    TASKS,
    WEIGHT_SCHOOL,
    Corpus,
    Example,
    FeatureCache,
    SafeguardingTask,
    Seed,
    Task,
    git_revision,
    is_validation,
    measures_paging,
    read_labelled,
    read_seeds,
    seed_classes,
    tunes_encoder,
)
from monitor.classify.encoder import Encoder, file_sha256
from monitor.classify.fit import C, fit_head, macro_f1
from monitor.classify.heads import SHIPPED_DIR, Head, Heads, load_heads
from monitor.classify.transformer import PAGER

log = logging.getLogger(__name__)

EVERYDAY_NEGATIVES = 3000
"""Inoffensive tweets added as negatives to the rare labels' heads, so general text stays quiet."""
PAGING_EVERYDAY = 8000
"""Ordinary posts (inoffensive tweets, positive and neutral ones) beside each paging label's
corpus: its negatives, and the text its paging threshold is measured on."""
PAGE_BUDGET: dict[str, float] = {
    "threat": 0.003,
    "extremism": 0.001,
    "safeguarding": 0.0005,
    "sexual": 0.0005,
}
"""Share of ordinary posts each paging label may page on (held-out); together under 0.7 %, at
most one false page a week for a school with 150 posts."""
FIRST_PASS_SURE = 0.95
"""With a second-stage pager, the first pass's own probability from which a hit pages anyway:
on held-out ordinary posts 0.26 % reach it for threat (0.67 % at 0.9), and it pages veiled
school threats the public-corpus pager misses (school test set: 42 % paged, against 29 %)."""
REPUTATION = frozenset({Label.CRITICISM, Label.QUERY, Label.PRAISE})
"""Labels that make a post no less ordinary: a complaint, a question, thanks."""
SCHOOL_NEGATIVE_WEIGHT = 5.0
"""...and the seeds' harmless school posts weigh this much more, so that ordinary school
questions do not look threatening next to the tweets."""
SCHOOL_POSITIVE_WEIGHT = 10.0
"""The seeds' harmful school posts weigh this much in a paging head: the public corpora hold few
veiled threats to staff ("I know where Mr Patel parks") or disclosures in a parent's words."""
MIN_F1 = 0.6
"""A head learnt from seeds and corrections raises labels only once its held-out F1 reaches this;
below it, it would mostly send false alarms, and the rules layer covers the label alone. Rare,
high-stakes labels are exempt: a missed threat or disclosure costs more than a false alarm."""


@dataclass
class Inputs:
    """Everything one training run reads."""

    data: Path
    seeds: list[Seed]
    seeds_path: Path
    school: list[Example]
    safeguarding_dir: Path | None = None

    @property
    def safeguarding(self) -> Path:
        """The safeguarding corpora: `safeguarding_dir`, or `safeguarding/` beside `data`."""
        return self.safeguarding_dir or self.data.parent / "safeguarding"


def train(
    inputs: Inputs,
    encoder: Encoder,
    cache: Path,
    public: Heads | None = None,
    first_pass: Heads | None = None,
) -> Heads:
    """Fit every head; the manifest records inputs, held-out and validation scores.

    `public`: heads trained earlier for this encoder whose public-corpus heads (sentiment,
    offensive, hate) are kept as they are, so that only the school and paging heads are refitted.
    `first_pass`: heads kept whole to raise every label; the paging heads are fitted as their
    second stage (`threat-pager`, …), which decides whether a raised paging label pages.
    """
    store = FeatureCache(encoder, cache)
    if first_pass is not None:
        return _with_pagers(first_pass, inputs, encoder, store)
    heads: dict[str, Head] = {}
    record: dict[str, dict[str, Any]] = {}
    for task in TASKS:
        if public is not None:
            heads[task.name], record[task.name] = _kept_head(public, task.name, encoder)
        else:
            heads[task.name], record[task.name] = _public_head(task, inputs, store)
    everyday = _everyday_sample(inputs.data)
    ordinary = _ordinary_posts(inputs.data)
    for paging in CRITICAL_TASKS:
        heads[paging.label], record[paging.label] = _paging_head(paging, inputs, store, ordinary)
    for label in SEED_LABELS:
        if label.value not in heads:
            heads[label.value], record[label.value] = _seed_head(label, inputs, store, everyday)
    return Heads(heads, _manifest(encoder, inputs, record))


def _public_head(task: Task, inputs: Inputs, store: FeatureCache) -> tuple[Head, dict[str, Any]]:
    texts, labels = read_labelled(inputs.data / task.train)
    corpus = Corpus(list(texts), list(labels))
    corpus.add([s.text for s in inputs.seeds], seed_classes(inputs.seeds, task.name))
    school = _school_pairs(inputs.school, task.name)
    corpus.add([text for text, _ in school], [cls for _, cls in school], WEIGHT_SCHOOL)
    x = _stack(store, task.train, texts, corpus.texts[len(texts) :])
    head, held = fit_head(task.name, task.classes, x, corpus.labels)
    val_texts, val_labels = read_labelled(inputs.data / task.validation)
    predicted = [name for name, _ in head.predict(store.features(val_texts, task.validation))]
    score = round(macro_f1(predicted, val_labels, task.classes), 4)
    log.info("head %s: threshold %.2f, validation macro-F1 %.4f", task.name, head.threshold, score)
    return head, {
        "train": _file(inputs.data / task.train, len(texts)),
        "validation": {**_file(inputs.data / task.validation, len(val_texts)), "macro_f1": score},
        "threshold": head.threshold,
        "held_out": held,
    }


def _with_pagers(first: Heads, inputs: Inputs, encoder: Encoder, store: FeatureCache) -> Heads:
    """`first`'s heads as they are, and a second-stage pager fitted for each paging label."""
    heads: dict[str, Head] = {}
    record: dict[str, dict[str, Any]] = {}
    for name in first.heads:
        heads[name], record[name] = _kept_head(first, name, encoder)
        if name in PAGE_BUDGET:
            heads[name] = replace(heads[name], page_threshold=FIRST_PASS_SURE)
    ordinary = _ordinary_posts(inputs.data)
    for paging in CRITICAL_TASKS:
        pager = paging.label + PAGER
        head, record[pager] = _paging_head(paging, inputs, store, ordinary)
        heads[pager] = replace(head, name=pager)
    manifest = _manifest(encoder, inputs, record)
    return Heads(heads, {**manifest, "first_pass": first.version})


def _kept_head(earlier: Heads, name: str, encoder: Encoder) -> tuple[Head, dict[str, Any]]:
    """A head taken over from earlier heads of the same encoder."""
    unprofiled = encoder.version.removesuffix(f":{encoder.profile.name}")  # older manifests
    same = earlier.manifest.get("encoder") in (encoder.version, unprofiled)
    same = same and earlier.manifest.get("profile") == encoder.profile.name
    if not same or name not in earlier.heads:
        raise ValueError(f"{earlier.version} holds no {name} head for {encoder.version}")
    record = dict(earlier.manifest.get("heads_data", {}).get(name, {}))
    log.info("head %s: kept from %s", name, earlier.version)
    return earlier.heads[name], {**record, "kept_from": earlier.version}


def _seed_head(
    label: Label, inputs: Inputs, store: FeatureCache, everyday: list[str]
) -> tuple[Head, dict[str, Any]]:
    """A label's head from the seeds and the school's corrections (plus everyday text if rare)."""
    name = label.value
    classes = seed_classes(inputs.seeds, name)
    corpus = Corpus()
    for seed, cls in zip(inputs.seeds, classes, strict=True):
        harmless = label in RARE and cls != name
        corpus.add([seed.text], [cls], weight=SCHOOL_NEGATIVE_WEIGHT if harmless else 1.0)
    school = _school_pairs(inputs.school, name)
    corpus.add([text for text, _ in school], [cls for _, cls in school], WEIGHT_SCHOOL)
    if label in RARE:
        corpus.add(everyday, [f"not_{name}"] * len(everyday))
    x = store.features(corpus.texts, f"{name} examples")
    head, held = fit_head(
        name,
        (f"not_{name}", name),
        x,
        corpus.labels,
        for_recall=label in RARE,
        weights=corpus.weights,
    )
    head = replace(head, enabled=label in RARE or held.get("f1", 0.0) >= MIN_F1)
    log.info(
        "head %s: threshold %.2f, held-out %s, enabled %s", name, head.threshold, held, head.enabled
    )
    positives = corpus.labels.count(name)
    return head, {
        "examples": len(corpus.texts),
        "positives": positives,
        "held_out": held,
        "enabled": head.enabled,
    }


def _paging_head(
    task: SafeguardingTask, inputs: Inputs, store: FeatureCache, ordinary: list[str]
) -> tuple[Head, dict[str, Any]]:
    """A paging label's head: its public corpus (training split), ordinary posts, the seeds.

    Two thresholds: the label is raised (for review) from the F2-best cut-off, and pages the DSL
    on its own only above the cut-off that keeps false pages on held-out ordinary posts within
    the label's budget.
    """
    name, corpus = task.label, Corpus()
    texts, labels = read_labelled(inputs.safeguarding / task.train)
    train = [(t, y) for t, y in zip(texts, labels, strict=True) if not is_validation(t)]
    corpus.add(
        [t for t, _ in train], [name if y == task.positive else f"not_{name}" for t, y in train]
    )
    corpus.add(ordinary, [f"not_{name}"] * len(ordinary))
    everyday = [False] * len(train) + [True] * len(ordinary)
    for seed, cls in zip(inputs.seeds, seed_classes(inputs.seeds, name), strict=True):
        weight = SCHOOL_POSITIVE_WEIGHT if cls == name else SCHOOL_NEGATIVE_WEIGHT
        corpus.add([seed.text], [cls], weight=weight)
        everyday.append(seed.labels <= REPUTATION)  # a harmless school post counts as ordinary
    school = _school_pairs(inputs.school, name)
    corpus.add([text for text, _ in school], [cls for _, cls in school], WEIGHT_SCHOOL)
    everyday += [False] * (len(corpus.texts) - len(everyday))  # each correction counts thrice
    x = _stack(store, task.train, corpus.texts[: len(train)], corpus.texts[len(train) :])
    head, held = fit_head(
        name,
        (f"not_{name}", name),
        x,
        corpus.labels,
        for_recall=True,
        weights=corpus.weights,
        page_budget=(np.array(everyday), PAGE_BUDGET[name]),
    )
    log.info(
        "head %s: raise %.3f, page %s, held-out %s", name, head.threshold, head.page_threshold, held
    )
    return head, {
        "train": _file(inputs.safeguarding / task.train, len(texts)),
        "trained_on": len(train),
        "examples": len(corpus.texts),
        "page_budget": PAGE_BUDGET[name],
        "held_out": held,
    }


def _stack(
    store: FeatureCache, what: str, public: list[str], added: list[str]
) -> np.ndarray[Any, Any]:
    """Public features (cached as one block) followed by the added examples' features."""
    blocks = [store.features(public, what)]
    if added:
        blocks.append(store.features(added, f"{what} additions"))
    return np.vstack(blocks)


def _school_pairs(examples: Sequence[Example], head: str) -> list[tuple[str, str]]:
    """A school's corrections as (text, class) for one head."""
    pairs: list[tuple[str, str]] = []
    for example in examples:
        if head == "sentiment" and example.sentiment is not None:
            pairs.append((example.text, example.sentiment.value))
        elif example.label is not None and example.present is not None:
            target = {"offensive": Label.INSULT}.get(head) or _label(head)
            if example.label == target:
                yes = "offensive" if head == "offensive" else head
                pairs.append((example.text, yes if example.present else f"not_{yes}"))
    return pairs


def _label(head: str) -> Label | None:
    try:
        return Label(head)
    except ValueError:
        return None


def _ordinary_posts(data: Path) -> list[str]:
    """A fixed sample of ordinary posts the encoder never learnt from (positive and neutral
    tweets, and inoffensive but often contentious ones), so that paging thresholds measured on
    them hold for posts it has never seen."""
    texts, labels = read_labelled(data / "offensive_train.csv")
    quiet = [
        t for t, y in zip(texts, labels, strict=True) if y == "not_offensive" and measures_paging(t)
    ]
    texts, labels = read_labelled(data / "sentiment_train.csv")
    quiet += [
        t for t, y in zip(texts, labels, strict=True) if y != "negative" and not tunes_encoder(t)
    ]
    rng = np.random.default_rng(11)
    picked = sorted(rng.choice(len(quiet), size=min(PAGING_EVERYDAY, len(quiet)), replace=False))
    return [quiet[int(i)] for i in picked]


def _everyday_sample(data: Path) -> list[str]:
    texts, labels = read_labelled(data / "offensive_train.csv")
    quiet = [text for text, label in zip(texts, labels, strict=True) if label == "not_offensive"]
    picked = np.random.default_rng(7).choice(len(quiet), size=min(EVERYDAY_NEGATIVES, len(quiet)))
    return [quiet[int(i)] for i in sorted(set(picked.tolist()))]


def _file(path: Path, rows: int) -> dict[str, Any]:
    return {"file": path.name, "rows": rows, "sha256": file_sha256(path)}


def _manifest(encoder: Encoder, inputs: Inputs, heads: dict[str, Any]) -> dict[str, Any]:
    import sklearn

    revision = git_revision()
    now = datetime.now(UTC)
    return {
        "version": f"heads-{encoder.profile.name}-{now:%Y%m%d}-{revision[:8]}",
        "encoder": encoder.version,
        "profile": encoder.profile.name,
        "features": "mean-pooled sentence vector + VADER neg/neu/pos/compound",
        "fit": f"logistic regression, class-balanced, C={C}; thresholds from 3-fold held-out",
        "trained_at": now.isoformat(timespec="seconds"),
        "code": {"module": "monitor/classify/train.py", "git_revision": revision},
        "scikit_learn": sklearn.__version__,
        "seeds": _file(inputs.seeds_path, len(inputs.seeds)),
        "school_examples": len(inputs.school),
        "heads_data": heads,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Train the shipped heads and write them where the classifier loads them from."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="directory of the public CSVs")
    parser.add_argument("--seeds", type=Path, default=SEEDS, help="the seed posts CSV")
    parser.add_argument(
        "--safeguarding", type=Path, help="the safeguarding CSVs (default: beside --data)"
    )
    parser.add_argument("--out", type=Path, help="where to write (default: the shipped dir)")
    parser.add_argument("--cache", type=Path, default=Path("var/cache/features"))
    parser.add_argument("--profile", default="default", help="encoder profile (default, fast)")
    parser.add_argument("--model", help="encoder: a local directory or a pulled hub id")
    parser.add_argument("--models-dir", type=Path, help="where `models pull` put hub models")
    parser.add_argument(
        "--public-heads",
        type=Path,
        help="keep the sentiment, offensive and hate heads of these heads (same encoder) and refit"
        " only the others",
    )
    parser.add_argument(
        "--first-pass",
        type=Path,
        help="keep every head of these heads (same encoder) to raise labels, and fit the paging"
        " heads as their second stage, which decides what pages the DSL",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    encoder = Encoder(args.model, args.profile, cache_dir=args.models_dir)
    inputs = Inputs(args.data, read_seeds(args.seeds), args.seeds, [], args.safeguarding)
    public = load_heads(args.public_heads) if args.public_heads else None
    first = load_heads(args.first_pass) if args.first_pass else None
    heads = train(inputs, encoder, args.cache, public, first)
    out = args.out or SHIPPED_DIR / args.profile
    heads.save(out)
    print(f"wrote {out / 'heads.npz'} ({heads.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
