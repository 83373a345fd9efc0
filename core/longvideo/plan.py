"""Which frames a timeline samples and how they group into windows: pure index maths.

A timeline samples the video on one *grid* at the model's own clip rate (``spec.clip_rate``:
``1 / sample_fps`` apart for a model sampled by rate, ``clip_seconds / num_frames`` for one that
saw whole short clips). A window is ``num_frames`` consecutive grid frames (exactly the clip the
model was made for), and windows start every ``step`` grid frames. Because windows share the
grid, each sampled frame is decoded and preprocessed once however many windows hold it. When the
windows do not reach the end, one more window ends on the last grid frame, so the whole video is
covered; a video shorter than one window gives one window that holds its last frame (as
``read_clip``'s ``fps`` policy does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import SettingsError
from ..video import nearest

__all__ = ["DEFAULT_MAX_DURATION", "Plan", "nearest_positions", "plan_windows"]

DEFAULT_MAX_DURATION = 2 * 3600.0  # seconds: longer videos are refused before decoding


@dataclass(frozen=True)
class Plan:
    rate: float  # grid frames per second
    num_frames: int  # grid frames per window
    step: int  # grid frames between window starts
    grid: tuple[float, ...]  # each grid frame's time (s)
    starts: tuple[int, ...]  # each window's first grid frame
    duration: float  # of the video (s)

    @property
    def stride_s(self) -> float:
        return self.step / self.rate

    @property
    def window_s(self) -> float:
        return self.num_frames / self.rate

    def frames(self, k: int) -> list[int]:
        """Grid frames of window ``k`` (the last one repeats past the end of a short video)."""
        last = len(self.grid) - 1
        return [min(self.starts[k] + j, last) for j in range(self.num_frames)]

    def bounds(self, k: int) -> tuple[float, float]:
        """(start, end) seconds of window ``k``: from its first frame to one grid step past its
        last one, clipped to the video."""
        frames = self.frames(k)
        return self.grid[frames[0]], min(self.duration, self.grid[frames[-1]] + 1 / self.rate)

    def last_use(self) -> list[int]:
        """Per grid frame, the last window that holds it (frames are dropped after it)."""
        out = [0] * len(self.grid)
        for k in range(len(self.starts)):
            for g in self.frames(k):
                out[g] = k
        return out


def plan_windows(times: Sequence[float], duration: float, *, rate: float, num_frames: int,
                 stride: float | None = None) -> Plan:
    """The grid and windows for a video whose frames are shown at sorted ``times`` (seconds).

    ``stride`` (seconds between window starts) is rounded to whole grid frames, at least one;
    the default is half a window, so every moment lies in two windows.
    """
    if not times:
        raise ValueError("need at least one frame time")
    if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
        raise SettingsError(f"the clip rate must be a positive number of frames per second, got {rate!r}")
    if stride is None:
        step = max(1, num_frames // 2)
    else:
        if isinstance(stride, bool) or not isinstance(stride, (int, float)) or not math.isfinite(stride) or stride <= 0:
            raise SettingsError(f"stride must be a positive number of seconds, got {stride!r}")
        step = max(1, round(stride * rate))
    span = times[-1] - times[0]
    grid = tuple(times[0] + m / rate for m in range(math.floor(span * rate + 1e-9) + 1))
    n = len(grid)
    starts = list(range(0, max(1, n - num_frames + 1), step))
    if starts[-1] + num_frames < n:  # the last windows fell short of the end: one more ends there
        starts.append(n - num_frames)
    return Plan(float(rate), int(num_frames), step, grid, tuple(starts), float(duration))


def nearest_positions(times: Sequence[float], grid: Sequence[float]) -> list[int]:
    """For each grid time, the frame shown nearest to it, as ``read_clip``'s ``fps`` policy picks."""
    return [nearest(times, x) for x in grid]
