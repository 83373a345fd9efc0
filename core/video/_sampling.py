"""Which source frames a clip keeps: pure index maths, no decoding (see ``core.video``)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

from ..errors import SettingsError
from ..options import Choice

__all__ = ["SAMPLING_POLICIES", "Sampling", "check_rate", "check_sampling", "display_size", "fps_indices", "nearest", "uniform_indices"]


class Sampling(Choice):
    """Which frames a clip keeps: spread over the whole clip (TSN test-time sampling), or at a
    fixed rate from the middle of it. The page's and the CLI's choices come from here."""

    UNIFORM = "uniform", "spread over the whole clip"
    FPS = "fps", "at a fixed rate, from the middle of the clip"


SAMPLING_POLICIES = tuple(m.value for m in Sampling)  # ("uniform", "fps")


def check_sampling(sampling: str, num_frames: int, fps: float) -> None:
    """Raise SettingsError naming the argument when a sampling request makes no sense."""
    if sampling not in SAMPLING_POLICIES:
        raise SettingsError(f"sampling={sampling!r} is not a policy; use one of {SAMPLING_POLICIES}")
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise SettingsError(f"num_frames must be a positive int, got {num_frames!r}")
    check_rate(fps, "fps")


def check_rate(value, name: str) -> None:
    """Raise SettingsError unless ``value`` is a finite, positive number of frames per second."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{name} must be a positive number of frames per second, got {value!r}")


def uniform_indices(n: int, t: int) -> list[int]:
    """``t`` indices into ``n`` frames: the centre of each of ``t`` equal segments (TSN test-time).

    With fewer frames than ``t`` each frame repeats in order, e.g. n=2, t=4 -> [0, 0, 1, 1].
    """
    if n < 1 or t < 1:
        raise ValueError(f"need n >= 1 and t >= 1, got n={n}, t={t}")
    return [min(n - 1, int((i + 0.5) * n / t)) for i in range(t)]


def fps_indices(times: Sequence[float], t: int, fps: float, start: float | None = None) -> list[int]:
    """``t`` indices at ``1/fps`` second spacing into frames shown at sorted ``times`` (seconds).

    ``start`` (seconds from the first frame) puts the window there; by default a clip longer
    than the window ``(t - 1) / fps`` gives a window centred in it, and a shorter clip
    starts at its first frame and, once past its last frame, holds that frame (the sample times
    that fall after the end repeat the last index, as a player that stops on its last frame).
    Each sample time takes the nearest frame (the earlier one on a tie), so variable frame rate
    clips are sampled by their timestamps, not by frame count.
    """
    if not times:
        raise ValueError("need at least one frame time")
    first, last = times[0], times[-1]
    window = (t - 1) / fps
    start = first + (max(0.0, (last - first - window) / 2) if start is None else start)
    return [nearest(times, start + k / fps) for k in range(t)]


def nearest(times: Sequence[float], x: float) -> int:
    """Index of the time in sorted ``times`` nearest to ``x`` (the earlier one on a tie)."""
    i = bisect_left(times, x)
    if i == 0:
        return 0
    if i == len(times):
        return len(times) - 1
    return i if times[i] - x < x - times[i - 1] else i - 1


def display_size(h: int, w: int, max_pixels: int) -> tuple[int, int]:
    """(h, w) scaled down, aspect kept, so that h * w <= max_pixels; unchanged when it fits."""
    if h * w <= max_pixels:
        return h, w
    scale = math.sqrt(max_pixels / (h * w))
    return max(1, int(h * scale)), max(1, int(w * scale))
