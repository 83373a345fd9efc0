"""Robustness: how far the map moves under changes of the input that keep the class.

Every figure is the relative change of :func:`relative_change` (Quantus's max-sensitivity
quotient, Frobenius norms), between the map of the clip and the map of the changed clip:

- ``noise``: max-sensitivity (Yeh et al., 2019): the largest change over a few draws of
  Gaussian noise on the model input;
- ``shift``: the sampled window one source frame later (frame t of one map against frame t
  of the other);
- ``reencode``: the video re-encoded at low quality by the project's encoder
  (:func:`core.video.encode_video`), the same frames sampled;
- ``flicker``: two windows half a window apart, as the timeline's overlapping windows are,
  compared on the frames they share (:func:`flicker`: each part scaled to its own peak first,
  as the timeline shows each window's map).

The windows and the re-encode are made here from the whole decoded video (:func:`shifted`,
:func:`overlapping`, :func:`reencoded`); explaining them is the caller's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

__all__ = ["flicker", "max_sensitivity", "overlapping", "reencoded", "relative_change", "shifted"]

REENCODE_CRF = 40  # libx264's constant rate factor for the low-quality re-encode (18 is near lossless)


def relative_change(a, b) -> float:
    """``||b - a|| / ||a||`` (Frobenius norms, over every voxel): 0 when the map did not move;
    NaN when ``a`` is all zero."""
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    den = float(a.norm())
    return float((b - a).norm()) / den if den > 0 else float("nan")


def flicker(a, b) -> float:
    """The change between two windows' maps on the frames they share, ``a`` and ``b`` (same
    shape): :func:`relative_change` of the two, each scaled to its own peak (a map is drawn
    scaled to its window's peak, so that is what changes on screen when the window moves on;
    unscaled, a window whose evidence lies in its other frames would divide by almost 0).
    NaN when either part is all zero."""
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    pa, pb = float(a.abs().max()), float(b.abs().max())
    return relative_change(a / pa, b / pb) if pa > 0 and pb > 0 else float("nan")


def max_sensitivity(explain: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, samples: int = 3,
                    sigma: float = 0.1, seed: int = 0, base: torch.Tensor | None = None) -> float:
    """Max-sensitivity: ``max_j relative_change(explain(x), explain(x + e_j))`` over ``samples``
    draws ``e_j`` of Gaussian noise of std ``sigma`` (in model-input units), seeded. ``base``:
    ``explain(x)`` when the caller has it. Quantus draws uniform noise in a ball by default; the
    quotient is the same (``norm_numerator`` and ``norm_denominator`` Frobenius). NaN when the
    map of ``x`` is all zero."""
    g = torch.Generator().manual_seed(seed)
    a = explain(x) if base is None else base
    if not bool(torch.as_tensor(a).abs().sum() > 0):
        return float("nan")
    worst = 0.0
    for _ in range(samples):
        e = torch.randn(x.shape, generator=g, dtype=x.dtype) * sigma
        worst = max(worst, relative_change(a, explain(x + e.to(x.device))))
    return worst


def shifted(indices, n: int, by: int = 1) -> list[int]:
    """The sampled source frames ``indices`` moved ``by`` frames, kept inside the video's ``n``."""
    return [min(max(i + by, 0), n - 1) for i in indices]


def overlapping(indices) -> tuple[list[int], int]:
    """(the frames of the next window, frames the two share): the window that starts half a
    window later with the same spacing (the timeline's default stride), past the video's end
    allowed (the caller clamps, as :func:`shifted` does). Window ``indices``' frames from
    ``T // 2`` on are the next window's first ``T - T // 2``."""
    idx = list(indices)
    half = len(idx) // 2
    ext = [idx[-1] + (idx[i] - idx[0]) for i in range(1, half + 1)]
    return idx[half:] + ext, len(idx) - half


def reencoded(video: np.ndarray, fps: float, *, crf: int = REENCODE_CRF) -> np.ndarray:
    """(N, H, W, 3) uint8 ``video`` encoded by :func:`core.video.encode_video` at low quality
    (H.264 at ``crf``; where this PyAV has no libx264, MPEG-4 at quantiser 31) and decoded back."""
    from core.video import encode_video, h264_codec, read_frames

    codec = h264_codec()
    options = {"crf": str(crf)} if codec == "libx264" else {"qscale": "31"}
    h, w = video.shape[1:3]
    frames = video[:, : h - h % 2, : w - w % 2]  # yuv420p: even sizes
    with tempfile.TemporaryDirectory() as tmp:
        path = encode_video(frames, Path(tmp) / "low.mp4", fps=fps, codec=codec, options=options)
        out = np.asarray(read_frames(path))
    if out.shape[1:3] != video.shape[1:3]:  # put the cropped row or column back
        out = np.pad(out, ((0, 0), (0, h - out.shape[1]), (0, w - out.shape[2]), (0, 0)), mode="edge")
    return out[: len(video)]
