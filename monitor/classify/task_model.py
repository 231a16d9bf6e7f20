"""A stronger model for one task (sentiment, offensive, hate): a sequence classifier that
replaces that task's head, e.g. `cardiffnlp/twitter-roberta-base-sentiment-latest`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monitor.classify.encoder import ModelMissing, resolve
from monitor.classify.heads import Matrix

log = logging.getLogger(__name__)

TASK_CLASSES = {
    "sentiment": ("negative", "neutral", "positive"),
    "offensive": ("not_offensive", "offensive"),
    "hate": ("not_hate", "hate"),
}
BATCH = 16
MAX_LENGTH = 128


def class_order(task: str, id2label: dict[int, str]) -> list[int]:
    """For each of the task's classes, the model's output index; ModelMissing if unclear."""
    names = {i: str(name).strip().lower().replace("-", "_") for i, name in id2label.items()}
    wanted = TASK_CLASSES[task]
    if len(names) != len(wanted):
        raise ModelMissing(_mismatch(task, names))
    if task == "sentiment":
        index = {name[:3]: i for i, name in names.items()}  # neg/neu/pos, "negative", "NEG"...
        if set(index) == {"neg", "neu", "pos"}:
            return [index["neg"], index["neu"], index["pos"]]
        raise ModelMissing(_mismatch(task, names))
    yes = [i for i, name in names.items() if task[:3] in name and not name.startswith("no")]
    if len(yes) == 1:
        return [next(i for i in names if i != yes[0]), yes[0]]
    if set(names.values()) == {"label_0", "label_1"}:
        return [0, 1]
    raise ModelMissing(_mismatch(task, names))


def _mismatch(task: str, names: dict[int, str]) -> str:
    wanted = " / ".join(TASK_CLASSES[task])
    found = ", ".join(names[i] for i in sorted(names))
    return (
        f"the {task} model's labels ({found}) cannot be matched to {wanted}:"
        f" choose a {task} model for classifier.models.{task}"
    )


class TaskModel:
    """One sequence-classification model, its outputs reordered into the task's classes."""

    def __init__(self, task: str, model: str, cache_dir: Path | None = None) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        directory, self.version = resolve(model, cache_dir)
        self.task, self._torch = task, torch
        self._tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        network = AutoModelForSequenceClassification.from_pretrained(
            directory, local_files_only=True
        ).eval()
        self._order = class_order(task, dict(network.config.id2label))
        self._model: Any = network
        self._lock = threading.Lock()
        log.info("%s model %s loaded", task, self.version)

    def probabilities(self, texts: Sequence[str]) -> Matrix:
        """One row per text: the probability of each of the task's classes."""
        out = np.zeros((len(texts), len(TASK_CLASSES[self.task])), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            out[batch] = self._forward([texts[i] or " " for i in batch])
        return out

    def _forward(self, texts: list[str]) -> Matrix:
        encoded = self._tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt"
        )
        with self._lock, self._torch.inference_mode():
            logits = self._model(**encoded).logits
        probabilities = self._torch.softmax(logits, dim=-1).numpy()
        return np.asarray(probabilities[:, self._order], dtype=np.float32)
