"""A stronger model per task: one config line replaces that task's head."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from monitor.classify.base import Label, Sentiment
from monitor.classify.encoder import ModelMissing, bundled_model_dir
from monitor.classify.settings import ClassifierConfig
from monitor.classify.task_model import TaskModel, class_order
from monitor.classify.transformer import model_layer

TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def tiny_classifier(directory: Path, labels: list[str]) -> Path:
    """A small, randomly initialised sequence classifier saved as a local model directory."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=37,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    BertForSequenceClassification(config).save_pretrained(directory)
    for name in TOKENIZER_FILES:
        shutil.copy(bundled_model_dir() / name, directory / name)
    return directory


def test_model_labels_are_matched_to_the_tasks_classes() -> None:
    assert class_order("sentiment", {0: "positive", 1: "negative", 2: "neutral"}) == [1, 2, 0]
    assert class_order("sentiment", {0: "NEG", 1: "NEU", 2: "POS"}) == [0, 1, 2]
    assert class_order("offensive", {0: "offensive", 1: "not-offensive"}) == [1, 0]
    assert class_order("hate", {0: "non-hate", 1: "hate"}) == [0, 1]
    assert class_order("hate", {0: "LABEL_0", 1: "LABEL_1"}) == [0, 1]
    with pytest.raises(ModelMissing, match=r"labels \(joy, anger\) cannot be matched"):
        class_order("offensive", {0: "joy", 1: "anger"})


def test_a_sentiment_model_replaces_the_sentiment_head(tmp_path: Path) -> None:
    directory = tiny_classifier(tmp_path / "tiny-sentiment", ["positive", "negative", "neutral"])
    config = ClassifierConfig(models={"sentiment": str(directory)})
    layer = model_layer(config)
    assert layer is not None
    texts = ["What a lovely nativity", "The car park is a disgrace", "Term starts on Monday"]
    model = TaskModel("sentiment", str(directory))
    expected = model.probabilities(texts)
    assert np.allclose(expected.sum(axis=1), 1.0, atol=1e-5)
    classes = list(Sentiment)
    got = layer.sentiments(texts)
    assert [g[0] if g else None for g in got] == [classes[int(i)] for i in expected.argmax(1)]
    assert "+sentiment:tiny-sentiment@" in layer.version  # recorded in every assessment


def test_an_offensive_model_raises_insult_at_its_own_threshold(tmp_path: Path) -> None:
    directory = tiny_classifier(tmp_path / "tiny-offensive", ["not_offensive", "offensive"])
    texts = ["you absolute clown", "see you at sports day"]
    config = ClassifierConfig(models={"offensive": str(directory)}, thresholds={Label.INSULT: 0.01})
    layer = model_layer(config)
    assert layer is not None
    for signals in layer.assess(texts):
        insult = next(s for s in signals if s.label == Label.INSULT)
        assert insult.rule == "offensive"  # the model, not the head


def test_a_model_for_another_task_is_refused_with_the_fix(tmp_path: Path) -> None:
    directory = tiny_classifier(tmp_path / "emotions", ["joy", "anger", "fear"])
    with pytest.raises(ModelMissing, match=r"choose a hate model for classifier\.models\.hate"):
        TaskModel("hate", str(directory))
