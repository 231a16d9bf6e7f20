"""Corrections to the classifier: stored as labelled examples, and a school's heads refitted."""
