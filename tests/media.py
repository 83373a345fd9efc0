"""Synthetic test media: write small clips in any container, and frames whose content is known.

Every writer goes through PyAV (the same FFmpeg the reader uses) except GIF, which Pillow
writes; codecs are picked per container from what this FFmpeg build actually has.
"""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np

__all__ = [
    "ACTIONS",
    "CONTAINER_CODECS",
    "action_sequence",
    "moving_square_frames",
    "pick_codec",
    "square_centroid_x",
    "write_audio_only",
    "write_gif",
    "write_video",
]

# Preferred encoders per container, best first; the first one this build has wins.
CONTAINER_CODECS: dict[str, tuple[str, ...]] = {
    ".mp4": ("libx264", "h264", "mpeg4"),
    ".mov": ("libx264", "h264", "mpeg4"),
    ".mkv": ("libx264", "h264", "ffv1", "mpeg4"),
    ".webm": ("libvpx-vp9", "libvpx"),
    ".avi": ("mjpeg", "mpeg4"),
}

# Codecs that need even frame sizes in 4:2:0; anything odd is written as 4:4:4 (x264) instead.
_YUV420 = "yuv420p"


def pick_codec(ext: str) -> str:
    """The first encoder for ``ext`` (".mp4", ...) that this FFmpeg build can write."""
    for name in CONTAINER_CODECS[ext.lower()]:
        try:
            av.codec.Codec(name, "w")
        except (av.error.FFmpegError, ValueError):
            continue
        return name
    raise RuntimeError(f"no encoder for {ext} in this FFmpeg build")


def moving_square_frames(t: int, h: int, w: int, *, size: int | None = None) -> np.ndarray:
    """(T, H, W, 3) uint8: a white square on grey that moves left to right, one step a frame."""
    size = size or max(2, min(h, w) // 4)
    frames = np.full((t, h, w, 3), 64, np.uint8)
    top = (h - size) // 2
    travel = max(w - size, 0)
    for i in range(t):
        left = round(i * travel / max(t - 1, 1))
        frames[i, top : top + size, left : left + size] = 255
    return frames


def square_centroid_x(frame) -> float:
    """x centre of the bright pixels in one (H, W, 3) frame (numpy or torch)."""
    gray = np.asarray(frame, dtype=np.float32).mean(-1)
    xs = np.nonzero(gray > 160)[1]
    return float(xs.mean()) if xs.size else float("nan")


def write_video(
    path,
    frames: np.ndarray,
    fps: float = 25.0,
    codec: str | None = None,
    *,
    pix_fmt: str | None = None,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int | None = None,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> str:
    """Write (T, H, W, 3) uint8 RGB ``frames`` to ``path``; the extension picks the container.

    ``pts`` (in ``time_base`` units) gives each frame its own timestamp for variable frame rate;
    ``rotation`` stores a display rotation (degrees counter-clockwise, FFmpeg's convention);
    ``options`` go to the encoder (``{"g": "5"}``), ``container_options`` to the muxer
    (``{"movflags": "faststart"}`` puts an MP4's index first).
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    if ext == ".gif":
        return write_gif(path, frames, fps)
    codec = codec or pick_codec(ext)
    _, h, w, _ = frames.shape
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(path, "w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = w, h
        odd = h % 2 or w % 2
        if pix_fmt is None:
            pix_fmt = {"mjpeg": "yuvj420p", "ffv1": "yuv444p"}.get(codec, _YUV420)
            if odd and pix_fmt in (_YUV420, "yuvj420p"):
                pix_fmt = "yuv444p" if codec in ("libx264", "h264", "libvpx-vp9") else "bgr0"
        stream.pix_fmt = pix_fmt
        if codec in ("libx264", "h264"):
            stream.options = {"preset": "ultrafast", **(options or {})}
        elif options:
            stream.options = options
        if time_base is not None:
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def write_gif(path, frames: np.ndarray, fps: float = 10.0) -> str:
    """An animated GIF (a single frame gives a still GIF) written by Pillow."""
    from PIL import Image

    images = [Image.fromarray(f) for f in np.asarray(frames, dtype=np.uint8)]
    duration = max(20, round(1000 / fps))
    images[0].save(path, save_all=len(images) > 1, append_images=images[1:], duration=duration, loop=0)
    return os.fspath(path)


def write_audio_only(path, seconds: float = 0.5, rate: int = 8000, *, cover: bool = False) -> str:
    """A file with one audio stream and no video: AAC for .mp4/.m4a, 16-bit PCM for .wav.

    ``cover=True`` (.mp4 only) adds a JPEG cover picture: a video stream marked ``attached_pic``.
    """
    path = os.fspath(path)
    codec, fmt = ("pcm_s16le", "s16") if path.endswith(".wav") else ("aac", "fltp")
    wave = np.sin(np.arange(int(seconds * rate)) / 10)[None]
    samples = (wave * 10000).astype(np.int16) if fmt == "s16" else (wave * 0.3).astype(np.float32)
    with av.open(path, "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        if cover:
            picture = out.add_stream("mjpeg", rate=1)
            picture.width, picture.height, picture.pix_fmt = 16, 16, "yuvj420p"
            picture.disposition = av.stream.Disposition.attached_pic
            image = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 128, np.uint8), format="rgb24")
            out.mux(picture.encode(image))
            out.mux(picture.encode(None))
        frame = av.AudioFrame.from_ndarray(samples, format=fmt, layout="mono")
        frame.sample_rate, frame.pts = rate, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


# Four actions the shipped model knows well, for videos of several actions back to back.
ACTIONS = ("Spinning [something]", "Moving [something] from left to right", "Dropping [something]",
           "Approaching [something] with your camera")


def action_sequence(path, actions=ACTIONS, *, seconds: float = 6.0, clips: int = 2, size=(120, 160),
                    fps: float = 12.0, seed: int = 50) -> str:
    """A video of ``actions`` back to back, ``seconds`` each (``clips`` rendered clips of the
    action in a row: another object and backdrop each), drawn by the project's generator."""
    from lab.data.generator import render_clip

    frames = [render_clip(a, seed=seed + 10 * i + k, size=size, fps=fps, duration=seconds / clips).frames
              for i, a in enumerate(actions) for k in range(clips)]
    return write_video(path, np.concatenate(frames), fps)

