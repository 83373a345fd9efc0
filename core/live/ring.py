"""The newest clip of a live stream, held at the model's own clip rate.

Frames arrive at whatever rate the source has (a webcam at 30 fps, a page that sends one every
0.1 s, a file played at its speed). The model was made for ``num_frames`` frames
``1 / spec.clip_rate`` seconds apart, so :class:`ClipRing` keeps a frame only when it is due on
that grid (a frame that comes early is skipped, one that comes late is kept and the grid moves
with it) and holds the last ``num_frames`` kept frames in a preallocated ring: memory is fixed
from the first frame on, whatever the stream's length.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ClipRing"]


class ClipRing:
    """The last ``num_frames`` frames at ``rate`` frames per second, with their capture times."""

    def __init__(self, num_frames: int, rate: float):
        if num_frames < 1 or rate <= 0:
            raise ValueError(f"need num_frames >= 1 and rate > 0, got {num_frames}, {rate}")
        self.num_frames = num_frames
        self.period = 1.0 / rate
        self._frames: np.ndarray | None = None  # (num_frames, H, W, 3) uint8, allocated once
        self._times = np.zeros(num_frames)
        self._count = 0  # frames kept so far (the next one goes to slot count % num_frames)
        self._next_due = -np.inf

    @property
    def full(self) -> bool:
        return self._count >= self.num_frames

    @property
    def kept(self) -> int:
        """Frames kept since the stream began (the grid frames)."""
        return self._count

    @property
    def nbytes(self) -> int:
        return 0 if self._frames is None else self._frames.nbytes

    def due(self, t: float) -> bool:
        """Whether a frame captured at ``t`` seconds would be kept (not if it comes more than a
        quarter period before it is due on the grid)."""
        return t >= self._next_due - 0.25 * self.period

    def offer(self, frame: np.ndarray, t: float) -> bool:
        """Keep ``frame`` (H, W, 3) uint8 captured at ``t`` seconds if it is :meth:`due` (False
        if not). Every frame must have the size of the first one."""
        if not self.due(t):
            return False
        if self._frames is None:
            self._frames = np.empty((self.num_frames, *frame.shape), dtype=np.uint8)
        elif frame.shape != self._frames.shape[1:]:
            raise ValueError(f"frame size changed from {self._frames.shape[1:3]} to {frame.shape[:2]} "
                             "mid-stream; restart the stream")
        slot = self._count % self.num_frames
        self._frames[slot] = frame
        self._times[slot] = t
        self._count += 1
        # the next frame is due one period after this one's due time, so a steady source keeps
        # its phase; after a gap the grid starts again from this frame (half a period of
        # catching up at most)
        first = self._count == 1
        self._next_due = t + self.period if first else max(self._next_due + self.period, t + 0.5 * self.period)
        return True

    def clip(self) -> tuple[np.ndarray, np.ndarray]:
        """(T, H, W, 3) frames oldest first, and their capture times; a copy (the ring goes on).
        Before the ring is full the first frame repeats at the start, as a player that waits."""
        if self._frames is None:
            raise ValueError("no frame yet")
        n = self.num_frames
        if self._count >= n:
            order = [(self._count + i) % n for i in range(n)]
        else:
            order = [0] * (n - self._count) + list(range(self._count))
        return self._frames[order], self._times[order].copy()

    def clear(self) -> None:
        """Drop the frames (a stopped stream frees its memory)."""
        self._frames = None
        self._count = 0
        self._next_due = -np.inf
