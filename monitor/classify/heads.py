"""Small linear heads over sentence vectors: sentiment, offensive language, hate."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify.encoder import ModelMissing

Matrix = npt.NDArray[np.float32]

SHIPPED_DIR = Path(__file__).resolve().parent / "model"
"""The heads this project trains and ships (`heads.npz` and `manifest.json`)."""


LEXICAL_FEATURES = 4


class Lexical:
    """VADER's lexicon scores (negative, neutral, positive, compound) as extra features."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._vader = SentimentIntensityAnalyzer()

    def features(self, texts: Sequence[str]) -> Matrix:
        """Four columns per text."""
        rows = [self._vader.polarity_scores(text or "") for text in texts]
        keys = ("neg", "neu", "pos", "compound")
        found = [[row[key] for key in keys] for row in rows]
        return np.array(found, dtype=np.float32).reshape(len(rows), len(keys))  # 0 rows: (0, 4)


def sigmoid(z: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The logistic function, clipped so that extreme logits do not overflow."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0))))


def features(vectors: Matrix, lexical: Matrix) -> Matrix:
    """What the heads read: the sentence vector and the lexical scores side by side."""
    return np.hstack([vectors, lexical]).astype(np.float32)


@dataclass(frozen=True)
class Head:
    """A logistic-regression head: softmax over classes, or a sigmoid for two classes."""

    name: str
    classes: tuple[str, ...]
    weights: Matrix
    bias: Matrix
    threshold: float = 0.5
    """For a two-class head: the probability of classes[1] at which it is predicted."""
    enabled: bool = True
    """False for a head whose held-out F1 was too low to trust: kept, but raises nothing."""
    calibration: tuple[float, float] = (1.0, 0.0)
    """(scale, shift) applied to the logits, fitted on held-out predictions (Platt scaling for
    two classes, a temperature for more), so that a probability means what it says."""
    page_threshold: float | None = None
    """For a paging label: the calibrated probability from which the model alone pages the DSL;
    between `threshold` and this the label is held for review (None: every hit pages)."""

    def logits(self, x: Matrix) -> Matrix:
        """The calibrated logits, one row per input."""
        scale, shift = self.calibration
        raw = x @ self.weights.T + self.bias
        return np.asarray(raw * scale + shift, dtype=np.float32)

    def probabilities(self, x: Matrix) -> Matrix:
        """One row per input: the calibrated probability of each class."""
        logits = self.logits(x)
        if len(self.classes) == 2 and logits.shape[1] == 1:
            positive = sigmoid(logits[:, 0])
            return np.asarray(np.stack([1.0 - positive, positive], axis=1), dtype=np.float32)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float32)

    def predict(self, x: Matrix) -> list[tuple[str, float]]:
        """The predicted class and its probability, per input."""
        probs = self.probabilities(x)
        if len(self.classes) == 2:
            yes, no = self.classes[1], self.classes[0]
            return [
                (yes, float(p[1])) if p[1] >= self.threshold else (no, float(p[0])) for p in probs
            ]
        best = probs.argmax(axis=1)
        return [(self.classes[int(i)], float(p[int(i)])) for i, p in zip(best, probs, strict=True)]


@dataclass(frozen=True)
class Heads:
    """The heads of one trained version, with the manifest that says how they were made."""

    heads: dict[str, Head]
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        """Short version string recorded in every assessment."""
        return str(self.manifest.get("version", "unversioned"))

    def save(self, directory: Path) -> None:
        """Write `heads.npz` and `manifest.json`."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {}
        for name, head in self.heads.items():
            arrays[f"{name}.weights"] = head.weights
            arrays[f"{name}.bias"] = head.bias
        np.savez_compressed(directory / "heads.npz", **arrays)
        meta = {
            name: {
                "classes": list(head.classes),
                "threshold": head.threshold,
                "enabled": head.enabled,
                "calibration": list(head.calibration),
                "page_threshold": head.page_threshold,
            }
            for name, head in self.heads.items()
        }
        manifest = {**self.manifest, "heads": meta}
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")


def load_heads(directory: Path = SHIPPED_DIR) -> Heads:
    """Heads from a directory written by `Heads.save`."""
    if not (directory / "manifest.json").is_file() or not (directory / "heads.npz").is_file():
        raise ModelMissing(
            f"no classifier heads in {directory}: train them with `python -m"
            " monitor.classify.train --data DIR --out DIR`, or set classifier.heads"
        )
    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    with np.load(directory / "heads.npz") as arrays:
        heads = {
            name: Head(
                name,
                tuple(meta["classes"]),
                np.asarray(arrays[f"{name}.weights"], dtype=np.float32),
                np.asarray(arrays[f"{name}.bias"], dtype=np.float32),
                float(meta.get("threshold", 0.5)),
                bool(meta.get("enabled", True)),
                _pair(meta.get("calibration", (1.0, 0.0))),
                meta.get("page_threshold"),
            )
            for name, meta in manifest["heads"].items()
        }
    return Heads(heads, manifest)


def _pair(values: Sequence[float]) -> tuple[float, float]:
    scale, shift = values
    return float(scale), float(shift)
