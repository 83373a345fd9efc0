"""What the whole-video heatmap shows at each moment: the moment's top class, or one pinned class.

A grid frame's *top class* is the class with the highest mean probability over the windows that
hold the frame (:func:`top_per_frame`). By default the heatmap video follows it, so each part of a
video of several actions shows the evidence for the action there (``Mode.MOMENT``); naming a
class pins the whole video to it (``Mode.PINNED``). :func:`shown` gives, per grid frame, the class
drawn, its probability and its map; the heatmap video (:mod:`.output`) draws exactly that.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from ..errors import SettingsError
from .plan import Plan

__all__ = ["Mode", "Shown", "frame_means", "moment_classes", "shown", "top_per_frame"]


class Mode(str, enum.Enum):
    MOMENT = "moment"  # each frame shows its own top class
    PINNED = "pinned"  # every frame shows one class


@dataclass(frozen=True)
class Shown:
    """Per grid frame: the class a heatmap video draws, its mean probability there, its map."""

    mode: Mode
    classes: np.ndarray  # (grid frames,) int
    probs: np.ndarray  # (grid frames,) float32
    maps: np.ndarray  # (grid frames, h, w) float32 in [0, 1]: TimelineResult.combined_maps of the class


def frame_means(plan: Plan, values: np.ndarray) -> np.ndarray:
    """(windows, K) per-window values -> (grid frames, K): per grid frame, the mean over the windows
    holding it (a short video's repeated last frame counts once, as ``TimelineResult`` counts it)."""
    n = len(plan.grid)
    starts = np.asarray(plan.starts)
    ends = np.minimum(starts + plan.num_frames, n)  # one past each window's last distinct frame
    total = np.zeros((n + 1, values.shape[1]), np.float64)
    count = np.zeros(n + 1, np.float64)
    np.add.at(total, starts, values)  # a window adds from its first frame on ...
    np.add.at(total, ends, -values)  # ... and stops adding after its last
    np.add.at(count, starts, 1)
    np.add.at(count, ends, -1)
    return (np.cumsum(total, 0)[:n] / np.maximum(np.cumsum(count)[:n], 1)[:, None]).astype(np.float32)


def top_per_frame(plan: Plan, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each grid frame's top class and its mean probability: ((grid frames,) int, (grid frames,) float32)."""
    means = frame_means(plan, probs)
    top = means.argmax(1)  # the first of equals, as TimelineResult.top_classes breaks ties
    return top, means[np.arange(len(top)), top]


def moment_classes(plan: Plan, probs: np.ndarray) -> list[int]:
    """The classes that are the top class at some grid frame, in index order (usually a few)."""
    return sorted(int(c) for c in np.unique(top_per_frame(plan, probs)[0]))


def shown(result, cls: int | None = None) -> Shown:
    """What a heatmap video of ``result`` (a :class:`~core.TimelineResult`) shows: class ``cls`` at
    every frame, or with ``cls=None`` each frame's top class. Raises :class:`core.SettingsError`
    when the maps it needs were not kept."""
    n = len(result.plan.grid)
    if cls is not None:
        return Shown(Mode.PINNED, np.full(n, cls), result.frame_probs(cls), result.combined_maps(cls))
    top, probs = result.moment_top()
    classes = [int(c) for c in np.unique(top)]
    missing = [result.categories[c] for c in classes if c not in result.maps]
    if missing:
        raise SettingsError(f"the maps of {', '.join(missing)} (on top at some moment) were not kept; "
                            "run the timeline without targets to keep each moment's top class")
    maps = None
    for c in classes:
        where = top == c
        m = result.combined_maps(c, partial=True)  # kept in the windows holding a frame where c is on top
        if maps is None:
            maps = np.zeros_like(m)
        maps[where] = m[where]
    return Shown(Mode.MOMENT, top, probs, maps)
