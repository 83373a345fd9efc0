"""Evaluate a model and its explanations against the rendered ground truth (``python -m lab.evaluate``).

:mod:`.scores` holds what both evaluations share (the scores, their means, the held-out samples);
:mod:`.report` evaluates one method at the default layer (accuracy, explanations, sanity);
:mod:`.grid` every method of the Grad-CAM family at several layers; :mod:`.__main__` the command.
"""

from .grid import evaluate_layers, fuse, join_report, layers_markdown, split_report
from .report import evaluate
from .scores import explanation_scores

__all__ = ["evaluate", "evaluate_layers", "explanation_scores", "fuse", "join_report", "layers_markdown",
           "split_report"]
