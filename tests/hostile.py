"""Hostile and odd inputs, generated on demand: what a public Space gets uploaded.

Each :class:`Case` writes one small file into a folder and says what must happen to it: ``OK``
(a result) or a phrase the error message must contain. ``app`` differs from ``cli`` where the
app is stricter (it refuses clips over 60 s). Shared by tests/test_hostile_inputs.py and
benchmarks/hostile_inputs.py (which times each one); nothing here is committed as a binary.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tests.media import moving_square_frames, write_audio_only, write_gif, write_video

__all__ = ["CASES", "OK", "Case"]

OK = "ok"
LONG = "longer than 60 s"  # the app's refusal of a clip over demo/config.py MAX_SECONDS


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # the file name (the message must name it)
    make: Callable[[Path], None]  # writes the file at the given path
    cli: str  # OK, or a phrase of the one-line error
    app: str | None = None  # the same for the app; None: as cli
    what: str = ""  # for the table in docs/reliability.md

    @property
    def expect_app(self) -> str:
        return self.cli if self.app is None else self.app

    def build(self, folder: Path) -> Path:
        path = folder / self.id / self.file  # one folder each: file names may repeat
        path.parent.mkdir(parents=True, exist_ok=True)
        self.make(path)
        return path


def _square(t: int = 12, h: int = 48, w: int = 64) -> np.ndarray:
    return moving_square_frames(t, h, w)


def _bytes(data: bytes):
    return lambda p: p.write_bytes(data)


def _video(t=12, h=48, w=64, fps=10.0, **kwargs):
    return lambda p: write_video(p, _square(t, h, w), fps, **kwargs)


def _image(fmt: str):
    return lambda p: Image.fromarray(_square(1)[0]).save(p, format=fmt)


def _mp4_bytes(path: Path, **kwargs) -> bytes:
    tmp = path.with_name("src.mp4")
    write_video(tmp, _square(20), 10, **kwargs)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def _cut(faststart: bool):
    """Cut halfway: after the 10th of 20 frames' data with the index first (those 10 survive);
    in the middle of the file with the index last (FFmpeg's default: the 'moov' atom is lost)."""
    def make(p: Path):
        data = _mp4_bytes(p, container_options={"movflags": "faststart"} if faststart else None)
        if not faststart:
            p.write_bytes(data[: len(data) // 2])
            return
        p.write_bytes(data)
        with av.open(str(p)) as container:
            ends = sorted(k.pos + k.size for k in container.demux(video=0) if k.size)
        p.write_bytes(data[: ends[9]])
    return make


def _no_moov(p: Path):
    """A whole file whose index atom is renamed to 'junk' (not 'free': FFmpeg looks inside a
    'free' atom for a lost index and finds it)."""
    p.write_bytes(_mp4_bytes(p).replace(b"moov", b"junk", 1))


def _fourcc(new: bytes):
    """The sample entry claims another codec than the H.264 data it holds."""
    return lambda p: p.write_bytes(_mp4_bytes(p).replace(b"avc1", new))


def _declared_duration(p: Path):
    """An MP4 whose headers (mvhd, tkhd, mdhd) declare ~4.5 years; the data is 2 s."""
    data = bytearray(_mp4_bytes(p))
    for box, offset in ((b"mvhd", 16), (b"tkhd", 20), (b"mdhd", 16)):  # v0: duration's offset
        at = data.find(box) + 4
        if data[at] != 0:
            raise RuntimeError(f"{box!r} is not version 0")
        data[at + offset : at + offset + 4] = struct.pack(">I", 0xFFFFFFF0)
    p.write_bytes(bytes(data))


def _pts_gap(p: Path):
    """Six frames in half a second, then one at 5 hours: the timestamps declare 5 h."""
    pts = [0, 100, 200, 300, 400, 500, 5 * 3600 * 1000]
    write_video(p, _square(7), 10, pts=pts, time_base=Fraction(1, 1000))


def _one_hour(p: Path):
    """A real hour: 3600 frames of 64x48 at 1 fps (~70 kbit/s at most, ~0.3 MB)."""
    write_video(p, _square(3600), 1, options={"g": "60"})


def _vfr(p: Path):
    gaps = [40, 40, 200, 40, 500, 40, 40, 100, 40, 300, 40]
    write_video(p, _square(12), 10, pts=[0, *np.cumsum(gaps).tolist()], time_base=Fraction(1, 1000))


def _grey(h: int, w: int):
    frames = np.zeros((4, h, w, 3), np.uint8)
    frames[..., 1] = 200
    return lambda p: write_video(p, frames, 10)


def _big(p: Path):
    """Two 4000x3000 frames (a phone photo's size), flat so the file stays small."""
    frames = np.zeros((2, 3000, 4000, 3), np.uint8)
    frames[:, :, 2000:] = 255
    write_video(p, frames, 10)


def _renamed(real_ext: str):
    """A file of one container saved under another extension."""
    def make(p: Path):
        tmp = p.with_name("src" + real_ext)
        write_video(tmp, _square(12), 10)
        tmp.rename(p)
    return make


def _header_only(p: Path):
    """An MP4 that was opened for a video and closed before any frame (the muxer then keeps
    no stream at all: 262 bytes of header)."""
    with av.open(str(p), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()


_NOISE = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
_TEXT = b"these are meeting notes, not a video\n" * 20
_HTML = b"<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>\n"

CASES: tuple[Case, ...] = (
    # --- not a video at all
    Case("empty", "empty.mp4", _bytes(b""), "file is empty", what="0 bytes"),
    Case("header_only", "noframes.mp4", _header_only, "has no video stream", what="MP4 header, no frame written"),
    Case("text", "notes.mp4", _bytes(_TEXT), "is a text file, not a video", what="text renamed .mp4"),
    Case("html", "page.mp4", _bytes(_HTML), "is an HTML/XML page, not a video", what="HTML renamed .mp4"),
    Case("noise", "noise.mp4", _bytes(_NOISE), "not a video FFmpeg can read", what="4 KB of random bytes"),
    Case("png", "photo.mp4", _image("PNG"), "still image", what="PNG renamed .mp4"),
    Case("jpeg", "photo.mp4", _image("JPEG"), "still image", what="JPEG renamed .mp4"),
    Case("audio", "song.mp4", write_audio_only, "has no video stream", what="AAC only, in MP4"),
    # --- broken video
    Case("cut_index_first", "cut.mp4", _cut(faststart=True), OK, what="faststart MP4 cut halfway through its frames"),
    Case("cut_index_last", "cut.mp4", _cut(faststart=False), "'moov' atom", what="MP4 cut halfway (its index at the end is lost)"),
    Case("moov_renamed", "nomoov.mp4", _no_moov, "'moov' atom", what="whole MP4, 'moov' renamed 'junk'"),
    Case("fourcc_unknown", "zzzz.mp4", _fourcc(b"zzzz"), "codec", what="H.264 data, sample entry 'zzzz'"),
    Case("fourcc_lies", "hevc.mp4", _fourcc(b"hev1"), "decoded", what="H.264 data, sample entry 'hev1' (HEVC)"),
    Case("declared_years", "years.mp4", _declared_duration, OK, what="2 s of data, headers declare 4.5 years"),
    Case("pts_gap", "gap.mkv", _pts_gap, OK, what="0.5 s of frames, last timestamp at 5 h"),
    # --- odd but valid
    Case("one_frame", "one.mp4", _video(t=1), "clip has 1 frame", what="1-frame H.264"),
    Case("two_frames", "two.mp4", _video(t=2), OK, what="2-frame H.264"),
    Case("big_4000x3000", "big.mp4", _big, OK, what="2 frames of 4000x3000 H.264"),
    Case("one_hour", "hour.mp4", _one_hour, OK, LONG, what="1 h, 64x48 at 1 fps, H.264"),
    Case("size_1x1", "1x1.mkv", _grey(1, 1), OK, what="1x1 H.264 4:4:4"),
    Case("size_17x9", "17x9.mkv", _grey(9, 17), OK, what="17x9 H.264 4:4:4"),
    Case("size_4096x8", "4096x8.mp4", _grey(8, 4096), OK, what="4096x8 H.264"),
    Case("grayscale", "gray.mp4", _video(pix_fmt="gray"), OK, what="H.264 gray"),
    Case("rotated", "rotated.mp4", _video(rotation=90), OK, what="H.264, display matrix 90°"),
    Case("vfr", "vfr.mkv", _vfr, OK, what="H.264, frame gaps 40-500 ms"),
    Case("ten_bit", "10bit.mp4", _video(pix_fmt="yuv420p10le"), OK, what="H.264 yuv420p10le"),
    Case("webm_vp9", "clip.webm", _video(), OK, what="VP9 WebM"),
    Case("avi_mjpeg", "clip.avi", _video(), OK, what="MJPEG AVI"),
    Case("mov", "clip.mov", _video(), OK, what="H.264 MOV"),
    Case("mkv", "clip.mkv", _video(), OK, what="H.264 MKV"),
    Case("gif", "clip.gif", _video(), OK, what="animated GIF, 12 frames"),
    Case("gif_one_frame", "still.gif", lambda p: write_gif(p, _square(1)), "clip has 1 frame", what="GIF, 1 frame"),
    Case("webm_named_mp4", "really_webm.mp4", _renamed(".webm"), OK, what="VP9 WebM renamed .mp4"),
    Case("unicode_name", "ä 视频 clip (1) ✓.mp4", _video(), OK, what="unicode and spaces in the name"),
)
