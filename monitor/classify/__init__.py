"""Classification: a cascade of explainable layers turning item texts into assessments."""

from monitor.classify.cascade import Cascade, build_classifier
from monitor.classify.rules import RulesLayer, hash_name

__all__ = ["Cascade", "RulesLayer", "build_classifier", "hash_name"]
