"""Classification: a cascade of explainable layers turning item texts into assessments."""

from monitor.classify.cascade import Cascade, build_classifier
from monitor.classify.rules import RulesLayer, hash_name
from monitor.classify.transformer import TransformersLayer, model_layer

__all__ = [
    "Cascade",
    "RulesLayer",
    "TransformersLayer",
    "build_classifier",
    "hash_name",
    "model_layer",
]
