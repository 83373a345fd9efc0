"""What may go wrong reading a video, and how much work one read may do."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import VideoTimeoutError, VideoTooLargeError

__all__ = ["Budget", "Limits", "timeout_error"]


@dataclass(frozen=True)
class Limits:
    """Bounds on the work one ``read_clip`` call may do.

    ``max_duration`` and ``max_index_frames`` truncate (only the clip's first ``max_duration``
    seconds and first ``max_index_frames`` frames are considered); the others raise.
    """

    max_bytes: int = 500 * 1024 * 1024
    max_pixels: int = 4096 * 4096  # per frame; 4000x3000 phone video fits
    max_duration: float = 2 * 3600.0  # seconds considered
    max_index_frames: int = 500_000  # packets listed by the demux pass
    max_decoded_frames: int = 20_000  # packets decoded per call (seeking keeps this small)
    time_budget: float = 10.0  # wall-clock seconds per call
    display_pixels: int = 1920 * 1080  # larger frames are downscaled in the decoder


class Budget:
    """Counts packets and watches the clock; raises once either limit is passed."""

    def __init__(self, name: str, limits: Limits):
        self.name, self.limits = name, limits
        self.deadline = time.monotonic() + limits.time_budget
        self.packets = self.ticks = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise timeout_error(self.name, self.limits)

    def count_packet(self) -> None:
        self.packets += 1
        if self.packets > self.limits.max_decoded_frames:
            raise VideoTooLargeError(
                f"{self.name}: sampling needs more than {self.limits.max_decoded_frames:,} frames "
                "decoded (keyframes are too far apart); trim it or re-encode with a keyframe every "
                "few seconds"
            )
        self.check_every(32)

    def check_every(self, n: int) -> None:
        self.ticks += 1
        if self.ticks % n == 0:
            self.check_time()


def timeout_error(name: str, limits: Limits) -> VideoTimeoutError:
    return VideoTimeoutError(
        f"{name}: reading took longer than {limits.time_budget:g} s; the file may be damaged or "
        "very long — trim or re-encode it"
    )
