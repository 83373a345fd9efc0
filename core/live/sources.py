"""Where live frames come from: a camera, a stream URL, or a file played at its own speed.

:func:`live_frames` reads the source in a thread and yields ``(frame, capture time)`` as frames
arrive. Between the reader and the caller sits one slot, not a queue: when the caller is slower
than the source, the frame waiting there is replaced by the newer one (``Frames.skipped``
counts them), so what the caller gets is always the newest frame. The stream ends with a
:class:`~core.errors.VideoError` that says why when the source cannot be opened, sends what
FFmpeg cannot decode, or stalls (no frame for ``stall`` seconds, opening included); a source
that simply ends (a file, a camera unplugged) ends the iteration, and ``Frames.ended`` says so.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import av
import numpy as np

from ..errors import VideoError

__all__ = ["Frames", "describe_source", "live_frames"]

_CAMERA = re.compile(r"^(\d+|/dev/video\d+)$")


def describe_source(source: str) -> tuple[str, str, dict]:
    """(kind, what av.open gets, its options): ``camera`` (``0`` or ``/dev/video0``, through
    video4linux2), ``url`` (anything with ``://``), or ``file`` (played at its own speed)."""
    if _CAMERA.match(source):
        device = f"/dev/video{source}" if source.isdigit() else source
        return "camera", device, {"format": "v4l2"}
    if "://" in source:
        return "url", source, {}
    return "file", source, {}


@dataclass
class Frames:
    """What :func:`live_frames` yields from, and how the stream went."""

    source: str
    kind: str
    fps: float | None = None  # the source's nominal rate, once open
    received: int = 0  # frames the reader decoded
    skipped: int = 0  # frames replaced in the slot before the caller took them
    ended: str | None = None  # why the stream ended, when it did
    _slot: tuple | None = field(default=None, repr=False)
    _cv: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _stop: bool = field(default=False, repr=False)

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()


def live_frames(source: str, *, stall: float = 5.0, realtime: bool | None = None,
                max_side: int | None = None, loop: bool = False, clock=time.monotonic) -> tuple[Frames, Iterator[tuple[np.ndarray, float]]]:
    """(the :class:`Frames` record, an iterator of ``((H, W, 3) uint8 RGB, capture time)``).

    ``realtime``: pace a file by its timestamps, as a camera would deliver it (default: files
    yes, cameras and URLs come at their own pace anyway). ``max_side``: shrink frames so the
    longer side is at most this, in the reader thread. ``loop``: play a file again from its start
    when it ends (a stream that lasts as long as the caller wants). The capture time is ``clock()`` when the
    frame was due (a paced file) or decoded (a camera, a URL)."""
    kind, target, options = describe_source(source)
    if kind == "file" and not os.path.exists(source):
        raise VideoError(f"{source}: no such file; give a video file, a camera (0 or /dev/video0) "
                         "or a stream URL (rtsp://..., http://...)")
    if kind == "camera" and not os.path.exists(target):
        raise VideoError(f"{target}: no such camera on this machine; list them with "
                         "`ls /dev/video*`, or give a file or a stream URL")
    state = Frames(source, kind)
    pace = (kind == "file") if realtime is None else realtime
    reader = threading.Thread(target=_read, args=(state, target, options, stall, pace, max_side, loop and kind == "file", clock),
                              name="videocam-live-reader", daemon=True)
    reader.start()
    return state, _take(state, stall)


def _read(state: Frames, target: str, options: dict, stall: float, pace: bool, max_side, loop: bool,
          clock) -> None:
    from ..transforms import fit_frames

    def put(item) -> None:
        with state._cv:
            if state._slot is not None and state._slot[0] == "frame":
                state.skipped += 1
            state._slot = item
            state._cv.notify_all()

    try:
        fmt = options.get("format")
        with av.open(target, format=fmt, timeout=stall, metadata_errors="replace") as container:
            if not container.streams.video:
                put(("error", f"{state.source}: has no video stream"))
                return
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate
            state.fps = float(rate) if rate else None
            start, offset, last = None, 0.0, 0.0  # a loop's frames go on from the last one's time
            while True:
                for frame in container.decode(stream):
                    if state._stop:
                        return
                    rgb = frame.to_ndarray(format="rgb24")
                    if max_side is not None:
                        rgb = fit_frames(rgb[None], max_side=max_side)[0]
                    if pace and frame.time is not None:
                        last = offset + frame.time
                        if start is None:
                            start = clock() - last
                        wait = start + last - clock()
                        if wait > 0:
                            time.sleep(wait)
                    state.received += 1
                    put(("frame", rgb, clock()))
                if not loop or state.received == 0:
                    break
                offset = last + 1.0 / (state.fps or 25.0)
                container.seek(0)
        put(("end", f"the source ended after {state.received} frames"))
    except av.error.ExitError:
        put(("error", f"{state.source}: no data for {stall:g} s; the source stalled"))
    except av.error.FFmpegError as e:
        what = getattr(e, "strerror", None) or type(e).__name__
        if state.received:
            put(("error", f"{state.source}: the stream broke after {state.received} frames ({what})"))
        else:
            put(("error", f"{state.source}: is not a video FFmpeg can read ({what}); give a video "
                          "file, a camera or a stream URL"))
    except OSError as e:
        put(("error", f"{state.source}: could not be read ({e.strerror or e})"))


def _take(state: Frames, stall: float) -> Iterator[tuple[np.ndarray, float]]:
    try:
        while True:
            with state._cv:
                if not state._cv.wait_for(lambda: state._slot is not None, timeout=stall):
                    state.ended = f"no frame from {state.source} for {stall:g} s; the source stalled"
                    raise VideoError(state.ended)
                item, state._slot = state._slot, None
            if item[0] == "frame":
                yield item[1], item[2]
            elif item[0] == "end":
                state.ended = item[1]
                return
            else:
                state.ended = item[1]
                raise VideoError(item[1])
    finally:
        state.close()
