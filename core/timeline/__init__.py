"""Where and when in a long video: a class timeline over the whole clip, any moment explained.

:func:`timeline` slides the model's own clip over the whole video in one streamed decode and
scores and explains every window (:mod:`.engine`); :mod:`.output` writes ``timeline.json``,
``timeline.csv``, ``timeline.png`` and ``heatmap_full.mp4``; :mod:`.shard` splits a list of
videos over ``torchrun`` ranks.
"""

from .engine import ALL_CLASS_MAPS, DEFAULT_MAX_DURATION, TimelineResult, timeline
from .plan import Plan, plan_windows

__all__ = ["ALL_CLASS_MAPS", "DEFAULT_MAX_DURATION", "Plan", "TimelineResult", "plan_windows", "timeline"]
