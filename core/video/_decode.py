"""The PyAV side of :mod:`core.video`: list a stream's frames, then decode only the ones kept.

Two passes, each on its own freshly opened container:

1. ``index_stream`` demuxes every packet of the video stream without decoding it and builds a
   :class:`Timeline`: each frame's presentation timestamp, in presentation order, and the latest
   keyframe at or before it. Files whose packets carry no timestamps (raw H.264) are counted
   instead: frame i is at ``i / fps`` and nothing seeks.
2. ``decode_frames`` splits the wanted positions into runs (``plan_groups``): a new run seeks to
   the keyframe before its first target when that keyframe lies more than ``SEEK_GAP`` frames
   past the previous target; otherwise decoding goes straight on. Within a run, frames nothing
   refers to are skipped unless wanted, and once every target's packet is in, the decoder is
   drained instead of fed further packets (B-frame reordering and frame threads would otherwise
   cost a few extra frames per run). Only kept frames are converted to RGB, by one shared
   swscale context, downscaled in the same call when past the display budget.

Both passes check the wall-time budget and the frame counts of ``Limits`` as they go.

Length: the two passes share the Timeline and the seeking rule; split, a change to one could silently break the other.
"""

from __future__ import annotations

import statistics
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from itertools import pairwise

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ..errors import VideoError, VideoTooLargeError
from ._limits import Budget, Limits
from ._sampling import display_size

__all__ = ["Decoded", "Timeline", "decode_frames", "index_stream", "iter_frames", "plan_groups"]

# Seek only when the target's keyframe is more than this many frames past the decoder position:
# closer than that, decoding straight on costs less than a seek plus a decoder flush.
SEEK_GAP = 6
_FALLBACK_FPS = 25.0
_MAX_BAD_PACKETS = 100


@dataclass(frozen=True)
class Timeline:
    """Every frame of the stream, in presentation order."""

    times: list[float]  # seconds from the first frame, ascending
    pts: list[int] | None  # the same in stream time_base units; None: no timestamps, count frames
    keypos: list[int]  # per position: position of the latest keyframe at or before it
    fps: float
    duration: float
    declared_frames: int = 0  # what the container header claims (0: unknown)

    @property
    def n(self) -> int:
        """How many frames the stream holds (what the demux pass listed)."""
        return len(self.times)


@dataclass
class Decoded:
    """What ``decode_frames`` got: RGB per wanted position, and the position really used."""

    rgb: dict[int, np.ndarray] = field(default_factory=dict)
    actual: dict[int, int] = field(default_factory=dict)
    source_hw: tuple[int, int] = (0, 0)
    rotation: int = 0
    reformatter: VideoReformatter = field(default_factory=VideoReformatter, repr=False)


def index_stream(container, stream, budget: Budget) -> Timeline:
    """Demux (without decoding) the video stream's packets into a :class:`Timeline`."""
    limits = budget.limits
    tb = float(stream.time_base) if stream.time_base else None
    rows: list[tuple] = []  # (pts, dts, keyframe, duration)
    first = None
    for i, packet in enumerate(container.demux(stream)):
        if i % 256 == 0:
            budget.check_time()
        if packet.size == 0 or packet.is_corrupt:  # the flush packet at the end; a cut-off one
            continue
        rows.append((packet.pts, packet.dts, packet.is_keyframe, packet.duration))
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is not None and tb:
            first = ts if first is None else min(first, ts)
            if (ts - first) * tb > limits.max_duration + 60:  # demux order ~ time order
                break
        if len(rows) >= limits.max_index_frames:
            break
    if tb and rows and all(r[0] is not None for r in rows) and len({r[0] for r in rows}) == len(rows):
        line = _timed(rows, tb, stream, limits)
    else:
        line = _counted(len(rows), stream, limits)
    return replace(line, declared_frames=max(0, stream.frames or 0))


def _timed(rows: list[tuple], tb: float, stream, limits: Limits) -> Timeline:
    rows = sorted(rows, key=lambda r: r[0])
    t0 = rows[0][0]
    rows = [r for r in rows if (r[0] - t0) * tb <= limits.max_duration]
    pts = [r[0] for r in rows]
    times = [(p - t0) * tb for p in pts]
    keypos, key = [], 0
    for i, row in enumerate(rows):
        key = i if row[2] else key
        keypos.append(key)
    gaps = [b - a for a, b in pairwise(times)]
    last = rows[-1][3] * tb if rows[-1][3] else (statistics.median(gaps) if gaps else 0.0)
    fps = float(stream.average_rate or 0) or (len(gaps) / times[-1] if times[-1] > 0 else _FALLBACK_FPS)
    return Timeline(times, pts, keypos, fps, times[-1] + last)


def _counted(n: int, stream, limits: Limits) -> Timeline:
    fps = float(stream.average_rate or stream.guessed_rate or 0) or _FALLBACK_FPS
    n = min(n, int(limits.max_duration * fps) + 1)
    return Timeline([i / fps for i in range(n)], None, [0] * n, fps, n / fps)


def plan_groups(line: Timeline, wanted: list[int]) -> list[tuple[int | None, list[int]]]:
    """Split sorted targets into runs decoded without a seek: ``(keyframe to seek to, targets)``.

    A run starts a new seek when the keyframe before its first target lies more than
    ``SEEK_GAP`` frames past the previous target; the first run seeks only when that pays too.
    """
    groups: list[tuple[int | None, list[int]]] = []
    for t in wanted:
        prev = groups[-1][1][-1] if groups else -1
        key = line.keypos[t]
        if line.pts is not None and key > prev + SEEK_GAP:
            groups.append((key, [t]))
        elif groups:
            groups[-1][1].append(t)
        else:
            groups.append((None, [t]))
    return groups


def decode_frames(container, stream, line: Timeline, wanted: list[int], budget: Budget) -> Decoded:
    """Decode the frames at the sorted, unique timeline positions ``wanted`` (see module doc).

    Each run of :func:`plan_groups` seeks to its keyframe (or, where seeking fails or lands past
    the target, demuxes forward to it without decoding), decodes until the packets of all its
    targets are in, then drains the decoder so that no packet past the last target is decoded.
    A target whose frame never comes out takes the next decoded frame, or, when none follows in
    its run (a truncated tail), the last one before it. ``Decoded.actual`` records what was used.
    """
    out = Decoded()
    for w, actual, rgb in iter_frames(container, stream, line, wanted, budget, out):
        out.rgb[w], out.actual[w] = rgb, actual
    return out


def iter_frames(container, stream, line: Timeline, wanted: list[int], budget: Budget, out: Decoded):
    """:func:`decode_frames` as a stream: yields ``(target, position used, rgb)`` in target order,
    as each frame comes out of the decoder, so a long video never sits in memory. ``out`` keeps
    the conversion state (size, rotation, the shared swscale context); its ``rgb`` is not filled.
    """
    state = _State(packets=container.demux(stream))
    unresolved: list[int] = []
    for key, targets in plan_groups(line, wanted):
        todo = list(targets)
        if not state.finished:
            yield from _decode_run(container, stream, line, key, todo, out, state, budget)
        unresolved += todo
        if unresolved and state.last is not None:  # the latest decoded frame stands in
            rgb = _to_rgb(state.last, out, budget.limits)
            for w in unresolved:
                yield w, state.pos, rgb
            unresolved = []
    if unresolved:
        raise VideoError(f"{budget.name}: no frame could be decoded; the file is corrupt or truncated — re-export it")


@dataclass
class _State:
    packets: object  # the demux iterator in use
    pos: int = -1  # timeline position of the last frame out of the decoder
    last: object = None  # that frame
    can_seek: bool = True
    drained: bool = False
    finished: bool = False
    skip_until: int | None = None  # demux forward, without decoding, to the packet with this pts
    bad_packets: int = 0


def _decode_run(container, stream, line, key, todo, out, state, budget):
    """Decode one run, yielding ``(target, position, rgb)``; ``todo`` (its targets) is emptied
    as their frames come out."""
    sought = key is not None and _go_to(container, stream, line, key, state)
    pending = {line.pts[t] for t in todo} if line.pts is not None else set()
    while todo:
        packet = next(state.packets, None)
        if packet is None:
            state.finished = True  # end of stream
            return
        if state.skip_until is not None:
            budget.check_every(64)
            if packet.pts != state.skip_until:
                continue
            state.skip_until = None
        if pending:  # frames no other frame refers to are skipped unless they are targets
            stream.codec_context.skip_frame = "DEFAULT" if packet.pts in pending else "NONREF"
        frames = _decode_packet(packet, budget, state)
        if packet.pts in pending:
            pending.discard(packet.pts)
            if not pending:  # every target's packet is in: drain rather than decode on
                frames += _decode_packet(None, budget, state, stream)
                state.drained = True
        for frame in frames:
            _check_pixels(frame, budget)
            p = _position(line, frame, state.pos)
            if p is None:  # past the part of the clip that is considered
                state.finished = True
                return
            if sought and p > todo[0] and _rewind(container, stream, line, key, state):
                pending, sought = {line.pts[t] for t in todo}, False  # the seek overshot: retry
                break
            sought = False
            state.pos, state.last = p, frame
            rgb = None
            while todo and todo[0] <= p:  # a missing target takes the next frame
                rgb = rgb if rgb is not None else _to_rgb(frame, out, budget.limits)
                yield todo.pop(0), p, rgb
        if state.drained:
            return


def _go_to(container, stream, line: Timeline, key: int, state: _State) -> bool:
    """Put the demuxer at keyframe ``key``; True when by a seek, False when by demuxing on."""
    state.drained = False
    if state.can_seek:
        try:
            container.seek(line.pts[key], stream=stream, backward=True)  # flushes the decoder
        except av.error.FFmpegError:
            state.can_seek = False
        else:
            state.packets = container.demux(stream)
            return True
    stream.codec_context.flush_buffers()
    state.skip_until = line.pts[key]
    return False


def _rewind(container, stream, line: Timeline, key: int, state: _State) -> bool:
    """After a seek that landed past its target: back to the start, to demux forward to ``key``.

    Seeking is off from then on. False when even that seek fails (the caller goes on as is).
    """
    state.can_seek = False
    try:
        container.seek(line.pts[0], stream=stream, backward=True)
    except av.error.FFmpegError:
        return False
    state.packets, state.drained = container.demux(stream), False
    state.skip_until, state.pos = line.pts[key], -1
    return True


def _decode_packet(packet, budget: Budget, state: _State, stream=None) -> list:
    """Frames out of one packet (``None``: drain the decoder); a corrupt packet gives none."""
    try:
        if packet is None:
            return list(stream.codec_context.decode(None))
        if packet.size:
            budget.count_packet()
        return list(packet.decode())
    except av.error.InvalidDataError:
        state.bad_packets += 1
        if state.bad_packets > _MAX_BAD_PACKETS:
            raise
        return []
    except av.error.EOFError:
        return []


def _position(line: Timeline, frame, pos: int) -> int | None:
    if line.pts is None or frame.pts is None:
        return pos + 1 if pos + 1 < line.n else None
    if frame.pts > line.pts[-1]:
        return None
    return max(0, bisect_right(line.pts, frame.pts) - 1)


def _check_pixels(frame, budget: Budget) -> None:
    if frame.width * frame.height > budget.limits.max_pixels:
        raise VideoTooLargeError(
            f"{budget.name}: frames are {frame.width}x{frame.height}, over the "
            f"{budget.limits.max_pixels:,}-pixel limit; downscale the video first"
        )


def _to_rgb(frame, out: Decoded, limits: Limits) -> np.ndarray:
    """(H, W, 3) uint8; the first kept frame fixes the size (and rotation) for the rest."""
    if out.source_hw == (0, 0):
        out.source_hw = (frame.height, frame.width)
        out.rotation = _rotation(frame)
    h, w = display_size(*out.source_hw, limits.display_pixels)
    # One reformatter for the whole clip: a frame's own one (frame.to_ndarray) builds a new
    # swscale context every call, which costs more than the conversion (5 ms vs 0.4 at 720p).
    rgb = out.reformatter.reformat(frame, format="rgb24", width=w, height=h, interpolation="AREA")
    return rgb.to_ndarray()


def _rotation(frame) -> int:
    """Degrees counter-clockwise to turn the frame upright (FFmpeg's display matrix)."""
    rotation = getattr(frame, "rotation", None)  # PyAV >= 14
    return round(rotation or 0)
