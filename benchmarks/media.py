"""Decoding and rendering: ``read_clip`` against decoding every frame; the combined GIF and MP4.

The clip is written by ``benchmarks/video_decode.py`` (a moving textured gradient, H.264, 25 fps,
a keyframe every 12 frames). Rendering uses what the app renders: 16 frames shrunk so the
longer side is 320 pixels (``GIF_MAX_SIDE``), a heatmap overlay, and the "original | heatmap"
strip with a label bar per frame.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

import core
from core.transforms import fit_frames

from . import interleaved, median_ms
from .video_decode import decode_all, write_clip

__all__ = ["bench_decode", "bench_render", "make_video"]

PANEL_SIDE = 320  # demo.config.GIF_MAX_SIDE (not imported: that would import Gradio)


def make_video(path: Path, *, seconds: float, size: tuple[int, int]) -> Path:
    h, w = size
    write_clip(path, seconds, gop=12, h=h, w=w)
    return path


def bench_decode(path: Path, *, repeats: int) -> dict:
    """Median ms: ``read_clip`` uniform-16 vs decoding and RGB-converting every frame."""
    samples = interleaved({
        "read_clip": lambda: core.read_clip(path, sampling="uniform", num_frames=16),
        "decode_all": lambda: decode_all(path),
    }, repeats)
    return {"ms": {k: median_ms(v) for k, v in samples.items()},
            "n": {k: len(v) for k, v in samples.items()}}


def bench_render(frames: torch.Tensor, *, repeats: int) -> dict:
    """Median ms of the combined GIF (overlay + strip + labels + save) and of its MP4."""
    panel = fit_frames(frames.numpy(), max_side=PANEL_SIDE)
    t = len(panel)
    g = torch.Generator().manual_seed(0)
    maps = F.interpolate(torch.rand(1, 1, t, 4, 4, generator=g), size=(t, 112, 112),
                         mode="trilinear")[0, 0].numpy()
    labels = [f"t={i / 4:.2f}s  Moving [something] from left to right" for i in range(t)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        both = core.combined_frames(panel, core.overlay(panel, maps), labels=labels)

        def gif():
            strip = core.combined_frames(panel, core.overlay(panel, maps), labels=labels)
            core.save_gif(strip, out / "combined.gif")

        samples = interleaved({"gif": gif, "mp4": lambda: core.save_mp4(both, out / "combined.mp4")},
                              repeats)
    return {"ms": {k: median_ms(v) for k, v in samples.items()},
            "n": {k: len(v) for k, v in samples.items()},
            "size": tuple(both.shape)}
