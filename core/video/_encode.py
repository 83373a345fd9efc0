"""Encode RGB frames into a video file with PyAV: the one encode loop of the project.

``core.render.save_mp4`` (what users download), ``lab.data.ssv2.write_video`` (the data set),
the benchmarks' test videos and the tests' hostile files all go through :func:`encode_video`.
Frames may be any iterable of (H, W, 3) uint8 arrays, so a long video is encoded as it is
generated, never held whole in memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from os import PathLike
from pathlib import Path

import av
import numpy as np

__all__ = ["encode_video", "h264_codec"]


def h264_codec() -> str:
    """``libx264`` where this PyAV build has it, else ``mpeg4`` (plays everywhere too)."""
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def encode_video(
    frames: Iterable[np.ndarray],
    path: str | PathLike,
    *,
    fps: float | Fraction,
    codec: str | None = None,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    format: str | None = None,
) -> Path:
    """Write (H, W, 3) uint8 RGB frames to ``path``; the size is taken from the first frame.

    ``codec`` defaults to :func:`h264_codec`; ``options`` go to the encoder (``{"crf": "20"}``),
    ``container_options`` to the muxer (``{"movflags": "+faststart"}``). ``fps`` is written as a
    rational (``Fraction(fps).limit_denominator(1001)`` for a float, so 29.97 stays exact).
    """
    path = Path(path)
    rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)
    codec = codec or h264_codec()
    with av.open(str(path), mode="w", format=format, options=container_options or {}) as out:
        stream = None
        for rgb in frames:
            rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
            if stream is None:
                stream = out.add_stream(codec, rate=rate)
                stream.height, stream.width = rgb.shape[:2]
                stream.pix_fmt = pix_fmt
                if options:
                    stream.options = dict(options)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        if stream is None:
            raise ValueError(f"no frames to write to {path.name}")
        out.mux(stream.encode(None))
    return path
