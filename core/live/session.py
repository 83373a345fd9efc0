"""One live stream explained as it happens: frames in, the newest heatmap and smoothed classes out.

:meth:`LiveSession.push` never waits for the model. It offers the frame to the
:class:`~core.live.ring.ClipRing` (the model's clip at its own rate) and, every ``stride`` kept
frames once the ring is full, hands the newest clip to the session's worker thread, which
explains it (one forward pass, Grad-CAM family by default) and publishes an :class:`Update`.
If the worker is still busy when the next clip is due, the waiting clip is *replaced* by the
newer one: stale clips are dropped, never queued, so the heatmap is at most one explanation
behind the camera (``dropped`` counts them). Probabilities are smoothed over time (an
exponential moving average with time constant ``smoothing`` seconds, so the stride does not
change how smooth they are), and the last ``history`` seconds of them are kept for the plot.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SettingsError
from ..transforms import fit_frames
from .ring import ClipRing

__all__ = ["LiveSession", "Update", "work_side"]


@dataclass(frozen=True)
class Update:
    """One explained clip. Times are on the session's clock (seconds)."""

    index: int  # 1, 2, ... in the order explained
    clip_end: float  # capture time of the clip's newest frame
    started: float  # when its explanation began
    finished: float  # when it was ready to show
    target: str  # the class the heatmap explains
    pinned: bool  # the class was pinned (else it is the clip's top-1)
    top: tuple[tuple[str, float], ...]  # smoothed probabilities, best first (top 3)
    clip_top: tuple[tuple[str, float], ...]  # this clip's own probabilities, best first (top 3)
    heatmap: np.ndarray  # (h, w) float32 in [0, 1]: the newest frame's map, on the ring's frames
    peak: tuple[float, float]  # (x, y) of the map's maximum, as fractions of the frame's width, height

    @property
    def age(self) -> float:
        """Seconds from the capture of the clip's newest frame to the heatmap being ready."""
        return self.finished - self.clip_end


def work_side(spec) -> int:
    """The short side frames are kept at: what the model's resize needs, so preprocessing a clip
    costs little, and a camera's full frames are never held."""
    rs = spec.resize_size
    if rs is None:
        return int(max(spec.input_size))
    return int(rs if isinstance(rs, int) else max(rs))


class LiveSession:
    """Explains the newest clip of a stream every ``stride`` grid frames (default a quarter clip).

    ``explainer``: a :class:`core.Explainer` (its lock serialises this session's forward passes
    with everything else that uses the model). ``pin``: a class to explain instead of each
    clip's top-1. ``settings``: a :class:`core.Settings` (default: the model's).
    ``clock``: where capture times come from when :meth:`push` is given none.
    """

    def __init__(self, explainer, *, stride: int | None = None, pin: str | int | None = None,
                 settings=None, smoothing: float = 1.0, history: float = 30.0, top: int = 3,
                 clock=time.monotonic):
        spec = explainer.spec
        if spec is None:
            raise SettingsError("live needs a model with a spec (load it with core.load_model)")
        self.explainer = explainer
        self.spec = spec
        self.stride = max(1, spec.num_frames // 4) if stride is None else int(stride)
        if self.stride < 1:
            raise SettingsError(f"stride={stride!r}; give a whole number of frames >= 1")
        self.settings = settings
        self.smoothing = float(smoothing)
        self.history_s = float(history)
        self.top = top
        self.clock = clock
        self.ring = ClipRing(spec.num_frames, spec.clip_rate)
        self.pin = pin
        self.frames = 0  # frames pushed
        self.dropped = 0  # due clips replaced by a newer one before the worker took them
        self.updates = 0
        self.error: str | None = None
        self.closed = False
        self._side = work_side(spec)
        self._since = 0  # kept frames since the last clip was due
        self._smoothed: torch.Tensor | None = None
        self._smoothed_at = 0.0
        self._history: deque[tuple[float, np.ndarray]] = deque()
        self._latest: Update | None = None
        self._job: tuple[np.ndarray, np.ndarray] | None = None
        self._cv = threading.Condition()
        self._ring_lock = threading.Lock()
        self._worker: threading.Thread | None = None

    # -- the stream side ----------------------------------------------------------------------------
    @property
    def pin(self) -> str | int | None:
        return self._pin

    @pin.setter
    def pin(self, value) -> None:
        if value is not None and value != "":
            from ..cam.engine import class_index

            class_index(value, self.spec.categories)  # an unknown class is refused now, not later
        self._pin = value if value != "" else None

    def push(self, frame: np.ndarray, t: float | None = None) -> bool:
        """Offer one (H, W, 3) uint8 RGB frame captured at ``t`` (default: now). True when it
        completed a due clip, which the worker explains next (replacing one still waiting)."""
        if self.closed:
            raise RuntimeError("this live session is closed")
        if self.error is not None:
            raise RuntimeError(self.error)
        t = self.clock() if t is None else float(t)
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"a frame is (H, W, 3) uint8 RGB; got {frame.shape} {frame.dtype}")
        self.frames += 1
        if not self.ring.due(t):
            return False
        small = _fit(frame, self._side)  # only the frames the ring keeps are shrunk
        with self._ring_lock:  # close() may come from another thread (an idle stream's reaper)
            if self.closed:
                raise RuntimeError("this live session is closed")
            if not self.ring.offer(small, t):
                return False
            self._since += 1
            if not self.ring.full or self._since < self.stride:
                return False
            self._since = 0
            job = self.ring.clip()
        with self._cv:
            if self._job is not None:
                self.dropped += 1
            self._job = job
            self._cv.notify()
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="videocam-live", daemon=True)
            self._worker.start()
        return True

    @property
    def latest(self) -> Update | None:
        return self._latest

    def wait(self, after: int = 0, timeout: float | None = None) -> Update | None:
        """The first update with index > ``after`` (None on timeout, error or close)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while (self._latest is None or self._latest.index <= after) and not self.closed and self.error is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cv.wait(left)
            return self._latest if self._latest is not None and self._latest.index > after else None

    def history(self) -> list[tuple[float, dict[str, float]]]:
        """(capture time of the clip's newest frame, smoothed probability of each class) for the
        updates of the last ``history`` seconds, oldest first."""
        cats = self.spec.categories
        with self._cv:
            rows = list(self._history)
        return [(t, dict(zip(cats, p.tolist(), strict=True))) for t, p in rows]

    def stats(self) -> dict:
        ages = None if self._latest is None else round(self._latest.age * 1000)
        return {"frames": self.frames, "kept": self.ring.kept, "updates": self.updates,
                "dropped": self.dropped, "filling": None if self.ring.full else
                f"{self.ring.kept}/{self.ring.num_frames}", "last_age_ms": ages,
                "buffer_bytes": self.ring.nbytes, "error": self.error}

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker (after the explanation it is running) and free the buffers."""
        with self._cv:
            self.closed = True
            self._job = None
            self._cv.notify_all()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout)
        with self._ring_lock:
            self.ring.clear()
        with self._cv:
            self._history.clear()
            self._latest = None
            self._smoothed = None

    # -- the worker ---------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cv:
                while self._job is None and not self.closed:
                    self._cv.wait()
                if self.closed:
                    return
                frames, times = self._job
                self._job = None
            try:
                update = self._explain(frames, times)
            except Exception as e:  # the stream ends with the message, not a hang
                with self._cv:
                    self.error = f"explaining the live clip failed: {e}"
                    self._cv.notify_all()
                return
            with self._cv:
                if self.closed or update is None:
                    return
                self._latest = update
                self._cv.notify_all()

    def _explain(self, frames: np.ndarray, times: np.ndarray) -> Update | None:
        started = self.clock()
        pin = self._pin
        exp = self.explainer.explain(torch.from_numpy(frames), pin, settings=self.settings)
        heat = exp.maps_on_frames()[0, -1].numpy()
        probs = exp.probs.float()
        clip_end = float(times[-1])
        with self._cv:
            if self.closed:  # closed while explaining: keep nothing (close() has freed the rest)
                return None
            if self._smoothed is None:
                self._smoothed = probs.clone()
            else:
                a = 1.0 - float(np.exp(-max(clip_end - self._smoothed_at, 0.0) / max(self.smoothing, 1e-6)))
                self._smoothed = a * probs + (1.0 - a) * self._smoothed
            self._smoothed_at = clip_end
            self._history.append((clip_end, self._smoothed.numpy().copy()))
            while self._history and self._history[0][0] < clip_end - self.history_s:
                self._history.popleft()
            smoothed = self._smoothed
            self.updates += 1
            index = self.updates
        cats = self.spec.categories
        k = min(self.top, len(cats))
        y, x = divmod(int(np.argmax(heat)), heat.shape[1])
        return Update(
            index=index, clip_end=clip_end, started=started, finished=self.clock(),
            target=exp.targets[0].label, pinned=pin is not None,
            top=tuple((cats[i], float(smoothed[i])) for i in smoothed.topk(k).indices.tolist()),
            clip_top=tuple(exp.topk(k)), heatmap=heat,
            peak=((x + 0.5) / heat.shape[1], (y + 0.5) / heat.shape[0]))


def _fit(frame: np.ndarray, side: int) -> np.ndarray:
    return fit_frames(frame[None], short_side=side)[0] if min(frame.shape[:2]) > side else frame
