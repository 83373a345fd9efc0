"""The benchmark of video explanations (``python -m lab.benchmark``): every method that applies
to a model, on a split with ground truth in space and time, judged by six kinds of evidence with
95% bootstrap intervals.

:mod:`.metrics` holds the measures (small pure functions); :mod:`.measure` takes them of one
clip; :mod:`.run` runs a split (records on disk, resumable, sharded under torchrun);
:mod:`.board` turns the records into a leaderboard (:mod:`.stats`: intervals, paired
differences, the default rule); :mod:`.report` writes ``docs/benchmark.md``.
"""

from .board import FIGURES, leaderboard, write_measured
from .run import benchmark
from .stats import default_rule, interval, paired

__all__ = ["FIGURES", "benchmark", "default_rule", "interval", "leaderboard", "paired", "write_measured"]
