"""Drawing: turn CAM maps and frames into heatmaps, side-by-side clips, GIF/MP4 files and plots.

Pure functions; nothing here knows about models or hooks. Every output path is chosen by the
caller. Shapes used throughout:

- frames: (T, H, W, 3) uint8 RGB (numpy array or torch tensor)
- maps:   (T, h, w) float in [0, 1]; resized bilinearly to the frames' (H, W) when they differ

Length: every drawing the product makes, as pure functions that share the input checks and colour
tables above; split by output kind, the checks would be scattered.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageFont

from .errors import RenderInputError, RenderInputTypeError
from .transforms import fit_frames, resize_frames
from .video import encode_video, h264_codec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "OUTPUT_KINDS",
    "colorize",
    "combined_frames",
    "overlay",
    "render_explanation",
    "save_gif",
    "save_mp4",
    "save_npy",
    "temporal_plot",
    "titled",
    "write_mp4",
]

_BACKGROUND = (255, 255, 255)  # gap and label bar
_TEXT = (0, 0, 0)


def _to_numpy(x, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return x
    raise RenderInputTypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")


def _check_frames(frames, name: str = "frames") -> np.ndarray:
    x = _to_numpy(frames, name)
    if x.ndim == 4 and x.shape[1] == 3 and x.shape[-1] != 3:
        raise RenderInputError(f"{name} looks like (T, 3, H, W) {tuple(x.shape)}; "
                         "permute to (T, H, W, 3), e.g. x.permute(0, 2, 3, 1)")
    if x.ndim != 4 or x.shape[-1] != 3 or 0 in x.shape:
        hint = "; for one image use x[None]" if x.ndim == 3 and x.shape[-1] == 3 else ""
        raise RenderInputError(f"{name} must be (T, H, W, 3) RGB with T, H, W >= 1, "
                         f"got shape {tuple(x.shape)}{hint}")
    if x.dtype != np.uint8:
        raise RenderInputTypeError(f"{name} must be uint8 RGB in 0..255, got {x.dtype}; convert floats in "
                        "[0, 1] with (x * 255).round().astype(np.uint8)")
    return x


def _check_maps(maps, size: tuple[int, int] | None = None, name: str = "maps") -> np.ndarray:
    """(T, h, w) float in [0, 1] -> float32, resized bilinearly to ``size`` (H, W) if given."""
    x = _to_numpy(maps, name)
    if x.ndim != 3 or 0 in x.shape:
        raise RenderInputError(f"{name} must be (T, h, w), got shape {tuple(x.shape)}; "
                         "squeeze batch/channel axes first")
    if not np.issubdtype(x.dtype, np.floating):
        raise RenderInputTypeError(f"{name} must be floating point in [0, 1], got {x.dtype}; "
                        "for uint8 maps divide by 255")
    x = x.astype(np.float32, copy=False)
    lo, hi = float(x.min()), float(x.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RenderInputError(f"{name} contains NaN or inf; check the CAM normalisation")
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise RenderInputError(f"{name} must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]; "
                         "normalise per clip, e.g. (m - m.min()) / (m.max() - m.min())")
    if size is not None and x.shape[1:] != tuple(size):
        x = resize_frames(x[..., None], size)[..., 0]
    return np.clip(x, 0.0, 1.0)


def _check_number(value, name: str, *, positive: bool = False) -> float:
    """A real number: in [0, 1], or any finite value > 0 when ``positive``."""
    want = "a positive number" if positive else "a number in [0, 1]"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RenderInputTypeError(f"{name} must be {want}, got {type(value).__name__}")
    v = float(value)
    if not (math.isfinite(v) and (v > 0 if positive else 0.0 <= v <= 1.0)):
        raise RenderInputError(f"{name} must be {want}, got {value}")
    return v


def _check_int(value, name: str, lo: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise RenderInputTypeError(f"{name} must be an int >= {lo} ({what}), got {type(value).__name__}")
    if value < lo:
        raise RenderInputError(f"{name} must be an int >= {lo} ({what}), got {value!r}")
    return int(value)


def _fit(x: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink (T, H, W, C) so that max(H, W) <= max_side, keeping the aspect ratio."""
    if max_side is None:
        return x
    max_side = _check_int(max_side, "max_side", 1, "longest panel side in pixels, or None")
    return fit_frames(x, max_side=max_side)


# matplotlib's 'jet' (its ``_jet_data`` segments: value -> channel, linear in between), so the
# default colormap needs no matplotlib import; a test checks it against matplotlib's table.
_JET = {
    "red": ((0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)),
    "green": ((0.0, 0.0), (0.125, 0.0), (0.375, 1.0), (0.64, 1.0), (0.91, 0.0), (1.0, 0.0)),
    "blue": ((0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)),
}


def _segments(points: tuple[tuple[float, float], ...], n: int = 256) -> np.ndarray:
    """(n,) values of a piecewise-linear channel, computed as matplotlib's lookup table does."""
    x = np.array([p[0] for p in points]) * (n - 1)
    y = np.array([p[1] for p in points])
    xind = (n - 1) * np.linspace(0.0, 1.0, n)
    ind = np.searchsorted(x, xind)[1:-1]
    distance = (xind[1:-1] - x[ind - 1]) / (x[ind] - x[ind - 1])
    return np.clip(np.concatenate([[y[0]], distance * (y[ind] - y[ind - 1]) + y[ind - 1], [y[-1]]]), 0.0, 1.0)


@lru_cache(maxsize=8)
def _lut(cmap: str) -> np.ndarray:
    """256-entry uint8 RGB lookup table for a matplotlib colormap name ('jet' without matplotlib)."""
    if cmap == "jet":
        rgb = np.stack([_segments(_JET[c]) for c in ("red", "green", "blue")], -1)
    else:
        from matplotlib import colormaps

        try:
            rgb = colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3]
        except KeyError:
            raise RenderInputError(f"unknown cmap {cmap!r}; use a matplotlib name such as 'jet', "
                             "'turbo' or 'inferno'") from None
    lut = np.rint(rgb * 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def colorize(maps, cmap: str = "jet") -> np.ndarray:
    """Map (T, H, W) values in [0, 1] to (T, H, W, 3) uint8 RGB; with 'jet' 0 is blue, 1 is red."""
    m = _check_maps(maps)
    return _lut(cmap)[np.rint(m * 255).astype(np.uint8)]


def overlay(frames, maps, *, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend colourised maps onto frames: ``(1 - alpha) * frame + alpha * heat``.

    ``alpha`` is the heatmap opacity: 0 gives the frames back, 1 gives the pure heatmap.
    """
    f = _check_frames(frames)
    a = _check_number(alpha, "alpha (heatmap opacity)")
    m = _check_maps(maps, size=f.shape[1:3])
    if m.shape[0] != f.shape[0]:
        raise RenderInputError(f"maps has {m.shape[0]} frames but frames has {f.shape[0]}; "
                         "upsample the CAM in time to the clip length first")
    heat = _lut(cmap)[np.rint(m * 255).astype(np.uint8)]
    # each output value is that blend of two uint8 values: look it up in a 256 x 256 table
    # (the same float32 arithmetic, done once per pair) instead of doing it per pixel
    table = _blend_table(a)
    out = np.empty_like(f)
    for i in range(len(f)):  # one frame at a time keeps the index temporaries small
        index = f[i].astype(np.uint16) << 8
        index |= heat[i]
        np.take(table, index, out=out[i])
    return out


@lru_cache(maxsize=8)
def _blend_table(alpha: float) -> np.ndarray:
    """(65536,) uint8: ``rint((1 - alpha) * frame + alpha * heat)`` at ``frame * 256 + heat``."""
    f, h = np.divmod(np.arange(65536, dtype=np.float32), np.float32(256))
    table = np.clip(np.rint(np.float32(1.0 - alpha) * f + np.float32(alpha) * h), 0, 255).astype(np.uint8)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=8)
def label_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's default font at ``size`` px, for text drawn on frames (here and in the app)."""
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


def _label_bars(labels: Sequence[str], width: int, panel_h: int, *, px: int | None = None) -> np.ndarray:
    """(T, bar_h, width, 3) uint8 bars with one left-aligned label each (lines split at "\\n");
    ``px``: the font size (default: from the panel's height)."""
    font = label_font(px if px is not None else int(min(24, max(10, round(panel_h * 0.07)))))
    lines = max((len(str(t).splitlines()) for t in labels), default=1) or 1
    bar_h = font.getbbox("Ag")[3] + 6 + (lines - 1) * _line_height(font)
    bars = np.empty((len(labels), bar_h, width, 3), np.uint8)
    drawn: dict[str, np.ndarray] = {}
    for i, text in enumerate(labels):
        text = str(text)
        if text not in drawn:  # labels repeat (one per frame of a clip): draw each once
            drawn[text] = _glyph_row(text, font, width, bar_h)
        bars[i] = drawn[text]
    return bars


def _line_height(font) -> int:
    return font.getbbox("Ag")[3] + 3


def titled(frames, title: str, *, px: int = 13) -> np.ndarray:
    """``frames`` (N, H, W, 3) uint8 with a white bar on top holding ``title`` (lines split at
    "\\n"), in a ``px`` font: a panel's caption."""
    f = _check_frames(frames)
    if not isinstance(title, str):
        raise RenderInputTypeError(f"title must be a str (lines split at \"\\n\"), got {type(title).__name__}")
    px = _check_int(px, "px", 1, "the caption's font size in pixels")
    return np.concatenate([_label_bars([title] * len(f), f.shape[2], f.shape[1], px=px), f], axis=1)


@lru_cache(maxsize=4096)
def _word(word: str, font) -> tuple[np.ndarray, int, int, float]:
    """One word's coverage (h, w) uint8, its offset from the pen and its advance."""
    mask, (ox, oy) = font.getmask2(word, mode="L", anchor="la")
    return np.asarray(mask, np.uint8).reshape(mask.size[1], mask.size[0]), ox, oy, font.getlength(word)


def _glyph_row(text: str, font, width: int, bar_h: int) -> np.ndarray:
    """A label bar drawn from cached words: what ``ImageDraw.text`` draws with the pen at (4, 3)
    (the same pixels with Pillow's basic layout, tested), at a third of its cost: the thousands of
    labels of a long video's frames share most of their words (Pillow took 2 ms a label). A text
    of several lines is drawn line by line, each as ``ImageDraw.text`` draws it alone with the pen
    at (4, 3 + row * :func:`_line_height`) (not Pillow's own multiline spacing)."""
    cover = np.zeros((bar_h, width), np.uint8)
    space, line_h = font.getlength(" "), _line_height(font)
    for row, line in enumerate(text.splitlines()):
        x, pen_y = 4.0, 3 + row * line_h
        for word in line.split(" "):
            if word:
                g, ox, oy, advance = _word(word, font)
                left, top = round(x) + ox, pen_y + oy
                h, w = min(g.shape[0], bar_h - top), min(g.shape[1], width - left)
                if h > 0 and w > 0 and left >= 0 and top >= 0:
                    np.maximum(cover[top:top + h, left:left + w], g[:h, :w], out=cover[top:top + h, left:left + w])
                x += advance
            x += space
    return _ink_ramp()[cover]


@lru_cache(maxsize=1)
def _ink_ramp() -> np.ndarray:
    """(256, 3) uint8: the colour of a label pixel at each coverage, from background to text."""
    back, ink = np.asarray(_BACKGROUND, np.float32), np.asarray(_TEXT, np.float32)
    ramp = np.rint(back + np.arange(256, dtype=np.float32)[:, None] / 255 * (ink - back)).astype(np.uint8)
    ramp.setflags(write=False)
    return ramp


def combined_frames(frames, heat, *, labels=None, gap: int = 4,
                    max_side: int | None = None) -> np.ndarray:
    """Place ``frames`` and ``heat`` (both (T, H, W, 3) uint8) side by side: original | heatmap.

    ``labels``: one string for every frame, or a sequence of T strings, drawn in a bar on top.
    ``max_side`` shrinks each panel first so that its longer side is at most that many pixels.
    Returns (T, H', 2W' + gap, 3) uint8; H' includes the label bar when labels are given.
    """
    f, h = _check_frames(frames), _check_frames(heat, "heat")
    if f.shape != h.shape:
        raise RenderInputError(f"frames {tuple(f.shape)} and heat {tuple(h.shape)} must have the same "
                         "shape; build heat with overlay(frames, maps)")
    gap = _check_int(gap, "gap", 0, "pixels between the panels")
    f, h = _fit(f, max_side), _fit(h, max_side)
    t, ph, pw, _ = f.shape
    out = np.empty((t, ph, 2 * pw + gap, 3), np.uint8)
    out[:, :, :pw], out[:, :, pw:pw + gap], out[:, :, pw + gap:] = f, _BACKGROUND, h
    if labels is None:
        return out
    if isinstance(labels, str):
        labels = [labels] * t
    if len(labels) != t:
        raise RenderInputError(f"labels has {len(labels)} entries but there are {t} frames; "
                         "pass one string per frame or a single string")
    return np.concatenate([_label_bars(labels, out.shape[2], ph), out], axis=1)


def save_gif(frames, path: str | PathLike, *, fps: float = 4.0, loop: int | None = 0) -> Path:
    """Write (T, H, W, 3) uint8 frames as an animated GIF; ``loop=0`` repeats forever, None once.

    One adaptive 255-colour palette is built from a subsample of the whole clip and shared by all
    frames (no colour flicker, no dithering noise). Frame delays are at least 20 ms, because
    browsers slow anything shorter down to 100 ms. Pillow merges a frame identical to the one
    before it into a longer delay, so such a GIF holds fewer than T frames but plays as long.
    """
    f = _check_frames(frames)
    fps = _check_number(fps, "fps", positive=True)
    if loop is not None:
        loop = _check_int(loop, "loop", 0, "0 = forever; None plays once")
    path = Path(path)
    stride = max(1, math.ceil(math.sqrt(f.size / 3 / 400_000)))  # palette from <= ~400k pixels
    sample = f[:, ::stride, ::stride]
    sample = Image.fromarray(np.ascontiguousarray(sample.reshape(-1, *sample.shape[2:])))
    palette = sample.quantize(255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    images = [Image.fromarray(x).quantize(palette=palette, dither=Image.Dither.NONE) for x in f]
    extra = {} if loop is None else {"loop": loop}
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(20, round(1000 / fps)), optimize=False, **extra)
    return path


def _mp4_codec() -> str:  # a seam: the tests force the mpeg4 fallback through it
    return h264_codec()


def save_mp4(frames, path: str | PathLike, *, fps: float = 4.0) -> Path:
    """Write (T, H, W, 3) uint8 frames as H.264 yuv420p MP4 (mpeg4 if libx264 is missing).

    yuv420p needs even sizes: an odd height or width is padded by repeating the last row/column.
    """
    return write_mp4(iter(_check_frames(frames)), path, fps=fps)


def write_mp4(frames: Iterator[np.ndarray], path: str | PathLike, *, fps: float = 4.0) -> Path:
    """:func:`save_mp4` for (H, W, 3) uint8 frames that come one at a time (a long video is
    encoded as it is drawn, never held whole): the same codec, options and padding."""
    fps = _check_number(fps, "fps", positive=True)
    first = next(frames, None)
    if first is None:
        raise RenderInputError(f"frames is empty: no frames to write to {Path(path).name}")
    h, w = first.shape[0] + first.shape[0] % 2, first.shape[1] + first.shape[1] % 2
    codec = _mp4_codec()
    if codec == "libx264":
        options = {"crf": "20", "preset": "veryfast"}
    else:  # "b" is the encoder's bit rate: 8 bits a pixel a frame
        options = {"b": str(8 * h * w * max(1, round(fps)))}

    def even():
        for f in itertools.chain([first], frames):
            yield np.pad(f, ((0, f.shape[0] % 2), (0, f.shape[1] % 2), (0, 0)), mode="edge")

    return encode_video(even(), path, fps=fps, codec=codec, options=options,
                        container_options={"movflags": "+faststart"}, format="mp4")


def save_npy(maps, path: str | PathLike) -> Path:
    """Write maps (any shape) as float32 .npy at exactly ``path`` (no suffix is added)."""
    x = _to_numpy(maps, "maps")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise RenderInputTypeError(f"maps must be numeric, got {x.dtype}")
    path = Path(path)
    with open(path, "wb") as fh:
        np.save(fh, x.astype(np.float32, copy=False))
    return path


def _floats(x) -> np.ndarray:
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)


def temporal_plot(importance, *, timestamps=None, labels=None, path=None, ax=None) -> Figure:
    """Line plot of per-frame CAM mass, one line per target; returns the Figure.

    ``importance``: (T,), (K, T) with one row per target, or a mapping {label: (T,)}.
    ``timestamps``: T seconds for the x axis (frame index if None). ``ax``: draw into this Axes
    instead of a new Figure. ``path``: also write a PNG there.
    """
    if isinstance(importance, Mapping):
        labels = list(importance) if labels is None else labels
        importance = np.stack([_floats(v) for v in importance.values()])
    y = np.atleast_2d(_floats(importance))
    if y.ndim != 2 or y.shape[1] == 0:
        raise RenderInputError(f"importance must be (T,) or (K, T) with one row per target, got {y.shape}")
    k, t = y.shape
    if labels is not None and len(labels) != k:
        raise RenderInputError(f"labels has {len(labels)} entries for {k} importance rows; give one per row")
    if timestamps is None:
        x, xlabel = np.arange(t), "frame"
    else:
        x, xlabel = np.asarray(timestamps, dtype=np.float64), "time (s)"
        if x.shape != (t,):
            raise RenderInputError(f"timestamps has shape {x.shape}; need ({t},), one per frame")
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5.0, 2.2), dpi=100, layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    for i, row in enumerate(y):
        ax.plot(x, row, marker="o", markersize=3, linewidth=1.5,
                label=None if labels is None else str(labels[i]))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("CAM mass")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if labels is not None:
        ax.legend(fontsize=8, frameon=False)
    if path is not None:
        fig.savefig(Path(path), format="png")
    return fig


OUTPUT_KINDS = ("combined.gif", "combined.mp4", "heatmap.gif", "heatmap.mp4", "original.gif")


def render_explanation(frames, maps, out_dir: str | PathLike, *,
                       files: Sequence[str] | Mapping[str, str] = ("combined.gif",),
                       alpha: float = 0.5, labels=None, fps: float = 4.0,
                       max_side: int | None = 320) -> dict[str, Path]:
    """Frames and one target's maps -> files: the overlay, then original | heatmap side by side
    (as in the 2017 post), then GIF and MP4. The CLI, the app and the sample builder all draw
    through here.

    ``files``: which of :data:`OUTPUT_KINDS` to write, or ``{kind: file name}`` to name them.
    ``labels`` (one string, or one per frame) and ``max_side`` (each panel's longer side) apply
    to the ``combined`` files; ``heatmap`` and ``original`` files keep the frames' size.
    Returns {kind: path}.
    """
    names = dict(files) if isinstance(files, Mapping) else {kind: kind for kind in files}
    unknown = sorted(set(names) - set(OUTPUT_KINDS))
    if unknown:
        raise RenderInputError(f"files: unknown output kinds {unknown}; choose from {', '.join(OUTPUT_KINDS)}")
    f = _check_frames(frames)
    heat = overlay(f, maps, alpha=alpha)
    both = (combined_frames(f, heat, labels=labels, max_side=max_side)
            if any(k.startswith("combined") for k in names) else None)
    panels = {"combined": both, "heatmap": heat, "original": f}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, name in names.items():
        panel, ext = kind.split(".")
        save = save_gif if ext == "gif" else save_mp4
        written[kind] = save(panels[panel], out / name, fps=fps)
    return written
