"""Opening a video file: checked before FFmpeg sees it, opened with a stall timeout, its first
real video stream picked within the :class:`~core.video.Limits`, and every failure turned into a
:class:`~core.errors.VideoError` that names the file and says what to do (a web page saved
instead of the video, a recording cut off, a cover picture but no video, ...).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field

import av

from ..errors import VideoError, VideoTooLargeError
from ._decode import Timeline, index_stream
from ._limits import Budget, Limits, timeout_error

__all__ = ["MIN_FRAMES", "VideoSource", "open_video", "reading"]

MIN_FRAMES = 2


@contextmanager
def reading(name: str, limits: Limits):
    """Turn FFmpeg and OS failures while reading ``name`` into a :class:`VideoError` saying what
    to do (a stalled read into a timeout). ``read_clip`` and the whole-video timeline read in it."""
    try:
        yield
    except av.error.ExitError as e:
        raise timeout_error(name, limits) from e
    except av.error.FFmpegError as e:
        raise VideoError(f"{name}: could not be decoded ({_ffmpeg_reason(e)}); the file may be corrupt — try re-encoding it to H.264 MP4") from e
    except OSError as e:
        raise VideoError(f"{name}: could not be read ({e.strerror or e})") from e


@dataclass
class VideoSource:
    """An open video file: its container and video stream (threaded, within ``limits``), its
    file ``name`` for messages, and the ``budget`` of work every pass over it shares."""

    path: str
    name: str
    limits: Limits
    container: av.container.InputContainer
    stream: av.video.stream.VideoStream
    budget: Budget = field(repr=False)

    def index(self) -> Timeline:
        """The demux pass (no decoding): every frame's time, in order. Refuses a stream with
        fewer than :data:`MIN_FRAMES` frames. The container is read to its end: decoding needs a
        fresh :func:`open_video` (pass ``budget=`` to share this one)."""
        line = index_stream(self.container, self.stream, self.budget)
        if line.n < MIN_FRAMES:
            raise VideoError(_too_few_frames(self.name, line.n, line.declared_frames))
        return line


@contextmanager
def open_video(path, *, limits: Limits | None = None, budget: Budget | None = None):
    """Open the video at ``path`` for reading, as a ``with`` block yielding a :class:`VideoSource`.

    The file is checked (exists, not empty, at most ``limits.max_bytes``), opened with FFmpeg's
    stall timeout, and its first real video stream (not a cover picture) picked within
    ``limits.max_pixels``; every FFmpeg or OS failure inside the block becomes a
    :class:`VideoError` naming the file (:func:`reading`). ``budget`` (default: a fresh one for
    ``limits``) bounds the wall time and decoded frames of all the passes that share it. The
    container is closed when the block ends. :func:`read_clip`, :func:`read_frames` and the
    whole-video timeline read through it.
    """
    limits = limits or Limits()
    path = os.fspath(path)
    name = os.path.basename(path) or path
    _check_file(path, name, limits)
    budget = budget if budget is not None else Budget(name, limits)
    with reading(name, limits), _open(path, name, limits) as container:
        yield VideoSource(path, name, limits, container, _video_stream(container, name, limits), budget)


def _too_few_frames(name: str, n: int, declared: int) -> str:
    if declared > n:
        return (f"{name}: file is truncated: it declares {declared} frames but holds {n}; "
                "re-export or re-upload it")
    if n == 0:
        return f"{name}: its video stream holds no frames; re-export it"
    return f"{name}: clip has {n} frame; need at least {MIN_FRAMES} — is this a still image?"


def _check_file(path: str, name: str, limits: Limits) -> None:
    if not os.path.exists(path):
        raise VideoError(f"video file not found: {path!r}; check the path")
    if not os.path.isfile(path):
        raise VideoError(f"{path!r} is not a file (a directory?); pass the path of a video file")
    size = os.path.getsize(path)
    if size == 0:
        raise VideoError(f"{name}: file is empty (0 bytes); the upload or copy probably failed")
    if size > limits.max_bytes:
        raise VideoTooLargeError(
            f"{name}: file is {size / 2**20:.0f} MB, over the {limits.max_bytes / 2**20:.0f} MB "
            "limit; trim or re-encode it smaller"
        )


def _open(path: str, name: str, limits: Limits):
    try:  # FFmpeg's interrupt callback gives up on an open or read that stalls past the budget
        return av.open(path, timeout=limits.time_budget, metadata_errors="replace")  # tags may be junk
    except av.error.ExitError as e:
        raise timeout_error(name, limits) from e
    except (av.error.FFmpegError, OSError) as e:
        raise VideoError(_open_failure(path, name, e)) from e


def _open_failure(path: str, name: str, error: Exception) -> str:
    """Say why FFmpeg could not open ``path``, guessing from its first bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        head = b""
    if head[4:8] == b"ftyp":
        return (f"{name}: MP4/MOV file is truncated or corrupt (its index, the 'moov' atom, is "
                "missing — was the recording or upload cut off?); re-export or re-upload it")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return f"{name}: Matroska/WebM file is truncated or corrupt; re-export or re-upload it"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype", b"<html", b"<?xml", b"{", b"[")) or _looks_like_text(head):
        kind = "an HTML/XML page" if text.startswith((b"<!doctype", b"<html", b"<?xml")) else "a text file"
        return f"{name}: is {kind}, not a video (a web page saved instead of the file?)"
    return f"{name}: is not a video FFmpeg can read ({_ffmpeg_reason(error)}); use MP4, WebM, AVI, MOV, MKV or GIF"


def _looks_like_text(head: bytes) -> bool:
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in decoded)


def _ffmpeg_reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or type(error).__name__


def _video_stream(container, name: str, limits: Limits):
    """The first real video stream (not an attached cover picture), threaded, within limits."""
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        kinds = sorted({s.type for s in container.streams} - {"video"})
        if container.streams.video:
            kinds.append("a cover picture")
        raise VideoError(f"{name}: has no video stream (it has {', '.join(kinds) or 'no streams'}); upload a video file")
    stream = videos[0]
    if stream.codec_context is None:
        raise VideoError(f"{name}: its video codec is not supported by this FFmpeg build; re-encode it to H.264 MP4")
    cc = stream.codec_context
    if cc.width * cc.height > limits.max_pixels:
        raise VideoTooLargeError(
            f"{name}: frames are {cc.width}x{cc.height}, over the {limits.max_pixels:,}-pixel limit; "
            "downscale the video first"
        )
    stream.thread_type = "AUTO"  # frame + slice threads
    return stream
