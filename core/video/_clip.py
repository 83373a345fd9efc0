"""Video decode and frame sampling: a file (or an array) in, a :class:`Clip` of T RGB frames out.

Sampling policies (``sampling=``):

- ``"uniform"``: T frames spread over the whole clip, the centre of each of T equal segments of
  the frame sequence (TSN test-time sampling). A clip with fewer than T frames repeats each frame
  in order (a 2-frame clip and T=4 gives indices 0, 0, 1, 1).
- ``"fps"``: T frames ``1/fps`` seconds apart (the original post: 4 fps, 16 frames, a 3.75 s
  window). A longer clip gives a window centred in it; a shorter one starts at its first frame and
  holds its last frame once the sample times pass the end (padding repeats the last frame; it does
  not loop). Each sample time takes the frame with the nearest timestamp.

Timestamps are the frames' own presentation timestamps (pts), in seconds from the first frame, so
variable-frame-rate clips are sampled by time, not by frame count. ``Clip.indices`` and
``Clip.timestamps`` report the source frames actually used (a repeated frame repeats its index).

Decoding does bounded work: a demux pass (no decoding) lists every frame's timestamp and which
frames are keyframes; then only the kept frames are converted to RGB, seeking to the keyframe
before a target when that skips frames and decoding straight on otherwise. Frames are upright
(the display rotation is applied) and downscaled in the decoder only past a display pixel budget.
Every failure is a :class:`VideoError` whose message names the file and says what to do; the
limits on size, duration and work are in :class:`Limits`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SettingsError, VideoError
from ._decode import decode_frames
from ._limits import Limits
from ._open import MIN_FRAMES, VideoSource, open_video
from ._sampling import check_rate, check_sampling, fps_indices, uniform_indices

__all__ = ["DEFAULT_FPS", "DEFAULT_NUM_FRAMES", "DEFAULT_SAMPLING", "MAX_CLIP_BYTES", "Clip",
           "clip_from_frames", "read_clip", "read_frames"]

DEFAULT_SAMPLING = "uniform"
DEFAULT_NUM_FRAMES = 16
DEFAULT_FPS = 4.0
MAX_CLIP_BYTES = 8 * 2**30  # a decoded clip (uint8 RGB at the video's size): 8 GB


@dataclass(frozen=True)
class Clip:
    """Frames sampled from a video, with where they came from.

    ``frames`` is (T, H, W, 3) uint8 RGB at the source resolution (downscaled, aspect kept, only
    when the source exceeds the display pixel budget; ``display_scale`` says by how much).
    ``timestamps`` are seconds from the first frame; ``source_size`` is (H, W) after rotation;
    ``rotation`` is the display rotation that was applied (degrees counter-clockwise).
    """

    frames: torch.Tensor
    indices: tuple[int, ...]
    timestamps: tuple[float, ...]
    source_fps: float
    source_size: tuple[int, int]
    duration: float
    num_source_frames: int
    sampling: str
    path: str | None = None
    rotation: int = 0
    sample_fps: float | None = None  # the rate of the "fps" policy, when it was used

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def display_scale(self) -> float:
        return self.frames.shape[1] / self.source_size[0]


def read_clip(path, spec=None, *, sampling=None, num_frames=None, fps=None, start=None, limits=None) -> Clip:
    """Decode ``num_frames`` RGB frames from the video at ``path`` by the ``sampling`` policy.

    Defaults come from ``spec`` (a ``ModelSpec``: ``sampling``, ``num_frames``, ``sample_fps``),
    else uniform, 16 frames, 4 fps. ``fps`` is the sampling rate of the ``"fps"`` policy, and
    ``start`` (seconds) where its window begins (default: centred; e.g. a timeline's window).
    Raises :class:`VideoError` (or a subclass) for anything wrong with the file.
    """
    sampling = _first(sampling, getattr(spec, "sampling", None), DEFAULT_SAMPLING)
    num_frames = _first(num_frames, getattr(spec, "num_frames", None), DEFAULT_NUM_FRAMES)
    fps = _first(fps, getattr(spec, "sample_fps", None), DEFAULT_FPS)
    check_sampling(sampling, num_frames, fps)
    if start is not None and (sampling != "fps" or not isinstance(start, (int, float)) or isinstance(start, bool)
                              or not 0 <= start < float("inf")):
        raise SettingsError(f"start={start!r}: a window start is a number of seconds >= 0, with sampling='fps'")
    with open_video(path, limits=limits) as video:  # pass 1: list the frames
        line = video.index()
        _check_frames(video, num_frames, line.n, getattr(spec, "num_frames", None) or DEFAULT_NUM_FRAMES)
    if sampling == "uniform":
        wanted = uniform_indices(line.n, num_frames)
    else:
        wanted = fps_indices(line.times, num_frames, fps, start)
    with open_video(path, limits=limits, budget=video.budget) as again:  # pass 2: decode the kept ones
        got = decode_frames(again.container, again.stream, line, sorted(set(wanted)), again.budget)

    frames = torch.from_numpy(np.stack([got.rgb[i] for i in wanted]))
    turns = round(got.rotation / 90) % 4
    if turns:
        frames = torch.rot90(frames, turns, dims=(1, 2)).contiguous()  # counter-clockwise
    h, w = got.source_hw if turns % 2 == 0 else got.source_hw[::-1]
    indices = tuple(got.actual[i] for i in wanted)
    return Clip(
        frames=frames,
        indices=indices,
        timestamps=tuple(line.times[i] for i in indices),
        source_fps=line.fps,
        source_size=(h, w),
        duration=line.duration,
        num_source_frames=line.n,
        sampling=sampling,
        path=video.path,
        rotation=got.rotation,
        sample_fps=float(fps) if sampling == "fps" else None,
    )


def _check_frames(video: VideoSource, num_frames: int, n: int, usual: int) -> None:
    """Refuse more frames than the video has (beyond the model's ``usual`` count, which a short
    clip repeats frames to fill), or than :data:`MAX_CLIP_BYTES` holds at the video's size."""
    if num_frames > max(n, usual):
        raise SettingsError(f"{video.name}: {num_frames} frames asked for, but the video has {n}; "
                            f"ask for at most {max(n, usual)}")
    h, w = video.stream.codec_context.height or 1, video.stream.codec_context.width or 1
    if num_frames * h * w * 3 > MAX_CLIP_BYTES:
        most = max(1, MAX_CLIP_BYTES // (h * w * 3))
        raise SettingsError(f"{video.name}: {num_frames} frames of {w}x{h} need {num_frames * h * w * 3 / 2**30:.1f} GB "
                            f"of memory (the limit is {MAX_CLIP_BYTES / 2**30:.0f} GB); ask for at most {most}")


def clip_from_frames(frames, *, fps: float = 25.0, num_frames: int | None = None,
                     sampling: str = "uniform", sample_fps: float = DEFAULT_FPS) -> Clip:
    """A :class:`Clip` from frames already in memory: (T, H, W, 3) uint8 RGB, numpy or torch.

    ``fps`` is the frames' own rate (for timestamps); ``num_frames`` None keeps every frame in
    order, else the ``sampling`` policy picks that many (``sample_fps`` for the ``"fps"`` policy).
    """
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(frames)
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"frames must be a numpy array or torch tensor, got {type(frames).__name__}")
    if frames.dtype != torch.uint8:
        raise TypeError(f"frames must be uint8 RGB (0-255), got dtype {frames.dtype}; convert with (x * 255).round().to(torch.uint8)")
    if frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
        raise ValueError(f"frames must have shape (T, H, W, 3), got {tuple(frames.shape)}")
    n = int(frames.shape[0])
    if n < MIN_FRAMES:
        raise VideoError(f"clip has {n} frame; need at least {MIN_FRAMES} — is this a still image?")
    check_sampling(sampling, n if num_frames is None else num_frames, sample_fps)
    check_rate(fps, "fps")
    times = [i / fps for i in range(n)]
    if num_frames is None:
        indices = list(range(n))
    elif sampling == "uniform":
        indices = uniform_indices(n, num_frames)
    else:
        indices = fps_indices(times, num_frames, sample_fps)
    return Clip(
        frames=frames[indices].contiguous(),
        indices=tuple(indices),
        timestamps=tuple(times[i] for i in indices),
        source_fps=float(fps),
        source_size=(int(frames.shape[1]), int(frames.shape[2])),
        duration=n / fps,
        num_source_frames=n,
        sampling=sampling,
        sample_fps=float(sample_fps) if num_frames is not None and sampling == "fps" else None,
    )


def read_frames(path, *, limits: Limits | None = None) -> np.ndarray:
    """Every frame of the video at ``path``, as (T, H, W, 3) uint8 RGB, upright, under ``limits``
    (frames past ``limits.display_pixels`` are downscaled; ``max_duration`` keeps only the first
    seconds). For a data set's short clips; a long video wants :func:`read_clip` or a timeline."""
    with open_video(path, limits=limits) as video:
        line = video.index()
    with open_video(path, limits=limits, budget=video.budget) as again:
        got = decode_frames(again.container, again.stream, line, list(range(line.n)), again.budget)
    frames = np.stack([got.rgb[i] for i in range(line.n)])
    turns = round(got.rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(frames, turns, axes=(1, 2))) if turns else frames


def _first(*values):
    return next(v for v in values if v is not None)
