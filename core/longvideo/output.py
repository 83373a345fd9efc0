"""Write a :class:`~core.TimelineResult`: JSON, CSV, a plot, and the whole-video heatmap.

``timeline.json`` holds every window's top classes with the model, the grid and the timings;
``timeline.csv`` one row per window with every class's probability; ``timeline.png`` the top
classes' probabilities over time; ``heatmap_full.mp4`` the video at the timeline's grid rate,
original | heatmap side by side, each frame's map combined from the windows that hold it
(:meth:`TimelineResult.combined_maps`) for that moment's top class, or for one pinned class
(:mod:`.moments`), the class and its probability burned in above the panels; ``timeline.json``
says what each of its frames shows (``mode``, ``heatmap_frames``). The frames for it are kept on
disk by a :class:`FrameSpool` while the timeline streams, not in memory, so that
:func:`heatmap_video` can draw it again for another class without decoding.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from ..render import combined_frames, overlay, write_mp4
from ..transforms import maps_to_frames
from .moments import shown
from .scan import TimelineResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DISPLAY_SIDE", "FILES", "FrameSpool", "heatmap_video", "timeline_plot", "write_timeline"]

DISPLAY_SIDE = 320  # longest side of each panel of heatmap_full.mp4, in pixels (as the GIFs)
FILES = ("timeline.json", "timeline.csv", "timeline.png", "heatmap_full.mp4")
_CHUNK = 32  # frames drawn and encoded at a time


class FrameSpool(AbstractContextManager):
    """Grid frames shrunk for display, appended in order to an unnamed temporary file.

    Use it as ``on_frame`` of :func:`core.timeline`; the file is gone once the spool is
    closed (or garbage-collected), whatever happens, so nothing is left behind. With ``path``
    the frames go to that file instead, which stays after close (its owner deletes it) and
    :meth:`reopen` reads again, to draw another heatmap video without decoding.
    """

    def __init__(self, max_side: int = DISPLAY_SIDE, dir: str | PathLike | None = None, *,
                 path: str | PathLike | None = None):
        self.max_side = max_side
        self.shape: tuple[int, int, int] | None = None
        self.count = 0
        self.path = None if path is None else Path(path)
        self._lock = threading.Lock()  # read() seeks: one reader at a time
        # closed by close() / __exit__, not a with block: the file outlives this call by design
        self._file = (tempfile.TemporaryFile(prefix="videocam-frames-", dir=dir)  # noqa: SIM115
                      if path is None else open(path, "w+b"))  # noqa: SIM115

    @classmethod
    def reopen(cls, path: str | PathLike, shape: tuple[int, int, int], count: int) -> FrameSpool:
        """The ``count`` frames of ``shape`` a spool made with ``path`` wrote, to read again."""
        size = os.path.getsize(path)  # FileNotFoundError when its owner deleted it
        if size != count * int(np.prod(shape)):
            raise ValueError(f"{path} holds {size} bytes, not {count} frames of {tuple(shape)}")
        spool = cls.__new__(cls)
        spool.max_side, spool.shape, spool.count, spool.path = max(shape[:2]), tuple(shape), count, Path(path)
        spool._lock = threading.Lock()
        spool._file = open(path, "rb")  # noqa: SIM115 (closed by close() / __exit__)
        return spool

    def __call__(self, g: int, frame: np.ndarray) -> None:
        if g != self.count:
            raise ValueError(f"grid frame {g} arrived out of order (expected {self.count})")
        h, w = frame.shape[:2]
        scale = self.max_side / max(h, w)
        small = frame
        if scale < 1:  # Pillow's antialiased resize: a tenth of torch's time for one small frame
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))
        if self.shape is None:
            self.shape = small.shape
        self._file.write(np.ascontiguousarray(small, np.uint8).tobytes())
        self.count += 1

    def read(self, start: int, n: int) -> np.ndarray:
        """(n, H, W, 3) frames from grid frame ``start`` on."""
        size = int(np.prod(self.shape))
        with self._lock:
            self._file.seek(start * size)
            data = self._file.read(n * size)
        return np.frombuffer(data, np.uint8).reshape(-1, *self.shape)

    def close(self) -> None:
        self._file.close()

    def __exit__(self, *exc) -> None:  # (__enter__ returns the spool: AbstractContextManager's)
        self.close()


def _heatmap_name(k: int) -> str:
    return "heatmap_full.mp4" if k == 0 else f"heatmap_full_{k}.mp4"


def write_timeline(result: TimelineResult, out_dir: str | PathLike, *, spool: FrameSpool | None = None,
                   heatmap_classes: Sequence[int | None] | None = None, top: int = 5, alpha: float = 0.5,
                   extra: dict | None = None) -> dict[str, Path]:
    """Write the timeline's files into ``out_dir`` (created); returns {file name: path}.

    ``heatmap_classes``: a ``heatmap_full`` video for each entry: a class index pins the video to
    that class, None follows each moment's top class (default: the targets the timeline was asked
    for, else [None]; entries whose maps were not kept are left out); needs the ``spool`` the
    timeline streamed its frames into. ``extra`` is merged into ``timeline.json``.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if heatmap_classes is None:  # the targets asked for, else each moment's top class
        heatmap_classes = result.targets if result.targets else [None]
    full, kept = set(result.classes_with_maps()), set(result.maps)
    classes = [c for c in heatmap_classes if c in full or (c is None and kept >= set(result.moment_classes()))]
    written: dict[str, Path] = {}
    heatmaps = []
    if spool is not None and spool.count:
        for k, c in enumerate(classes):
            name = _heatmap_name(k)
            heatmaps.append(heatmap_video(result, spool, out / name, c, alpha=alpha))
            written[name] = out / name
    written["timeline.csv"] = _write_csv(result, out / "timeline.csv")
    written["timeline.png"] = out / "timeline.png"
    timeline_plot(result, top=top).savefig(written["timeline.png"], format="png")
    doc = timeline_json(result, top=top, heatmaps=heatmaps, files=sorted([*written, "timeline.json"]))
    doc["timings_s"]["write_s"] = round(time.perf_counter() - t0, 3)
    doc.update(extra or {})
    written["timeline.json"] = out / "timeline.json"
    written["timeline.json"].write_text(json.dumps(doc, indent=1))
    return written


def timeline_json(result: TimelineResult, *, top: int = 5, heatmaps: list | None = None, files=()) -> dict:
    """The document ``timeline.json`` holds. ``heatmaps``: :func:`heatmap_video`'s entries, the
    first for ``heatmap_full.mp4``: its ``mode`` and ``heatmap_frames`` go to the top level (the
    other videos keep theirs in their entry); no heatmap video: ``mode`` null, no frames."""
    heatmaps = [dict(h) for h in heatmaps or []]
    main = heatmaps[0].pop("heatmap_frames") if heatmaps else []
    plan = result.plan
    k = min(top, len(result.categories))
    windows = []
    for w in range(result.num_windows):
        start, end = plan.bounds(w)
        order = np.argsort(-result.probs[w], kind="stable")[:k]
        windows.append({"start_s": round(start, 4), "end_s": round(end, 4), "top_k": [
            {"label": result.categories[i], "score": round(float(result.probs[w, i]), 5)} for i in order]})
    return {
        "video": result.video,
        "model": result.model,
        "layer": result.settings.layer,
        "method": result.settings.method.value,
        "pooling": result.settings.pooling.value,
        "duration_s": round(result.duration, 4),
        "source_fps": round(result.source_fps, 4),
        "source_frames": result.num_source_frames,
        "frame_size": list(result.frame_size),
        "sample_fps": plan.rate,
        "window_frames": plan.num_frames,
        "window_s": plan.window_s,
        "stride_s": plan.stride_s,
        "num_windows": result.num_windows,
        "passes": result.passes,
        "top_classes": [{"label": result.categories[c], "mean_score": round(p, 5)} for c, p in result.top_classes(k)],
        "mode": heatmaps[0]["mode"] if heatmaps else None,
        "heatmap_frames": main,
        "heatmaps": heatmaps,
        "combine": "each grid frame's map is the mean, over the windows holding it, of the window's "
                   "map (scaled to [0, 1] per window) times the window's probability of the class; the "
                   "class is the frame's top class (the highest mean probability over the windows "
                   "holding it) in mode 'moment', one class in mode 'pinned'; the heatmap video "
                   "scales the maps so that its strongest frame reaches 1",
        "timings_s": {key: round(v, 3) for key, v in result.timings.items()},
        "files": list(files),
        "windows": windows,
    }


def _write_csv(result: TimelineResult, path: Path) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["start_s", "end_s", "top1", "top1_score", *result.categories])
        for k in range(result.num_windows):
            start, end = result.plan.bounds(k)
            i = int(np.argmax(result.probs[k]))
            w.writerow([f"{start:.4f}", f"{end:.4f}", result.categories[i], f"{result.probs[k, i]:.5f}",
                        *(f"{p:.5f}" for p in result.probs[k])])
    return path


def timeline_plot(result: TimelineResult, *, top: int = 5, marker: float | None = None) -> Figure:
    """The top classes' probabilities over time (one point per window, at its centre)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 2.6), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    centres = [sum(result.plan.bounds(k)) / 2 for k in range(result.num_windows)]
    for c, _ in result.top_classes(top):
        ax.plot(centres, result.probs[:, c], marker="o", markersize=2.5, linewidth=1.5, label=result.categories[c])
    if marker is not None:
        ax.axvline(marker, color="black", linewidth=1.2)
    ax.set_xlim(0, max(result.duration, 1e-3))
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def heatmap_video(result: TimelineResult, spool: FrameSpool, path: str | PathLike, cls: int | None = None, *,
                  alpha: float = 0.5) -> dict:
    """Write a whole-video heatmap video of class ``cls`` (None: each moment's top class) from the
    ``spool``'s frames and the maps ``result`` kept: no decoding. Returns its ``timeline.json``
    entry: ``mode``, ``label`` (the pinned class, else None), ``classes`` (those it shows), ``file``,
    ``fps``, ``frames``, ``size`` ([height, width] as encoded) and ``heatmap_frames`` (per frame:
    ``t`` seconds, ``label``, ``p``). Raises :class:`core.SettingsError` when the maps were not kept."""
    what = shown(result, cls)
    maps = torch.from_numpy(what.maps / max(float(what.maps.max()), 1e-12))  # the video's strongest frame is 1
    H, W = spool.shape[:2]
    box = _scaled_box(result.crop_box, result.frame_size, (H, W))
    n = spool.count  # every grid frame the decode reached (a truncated tail has fewer than the grid)
    frames_shown = [{"t": round(result.plan.grid[g], 4), "label": result.categories[what.classes[g]],
                     "p": round(float(what.probs[g]), 4)} for g in range(n)]

    def frames():
        for start in range(0, n, _CHUNK):
            f = spool.read(start, min(_CHUNK, n - start))
            m = maps_to_frames(maps[start:start + len(f)][None], box, (H, W))[0].numpy()
            heat = overlay(f, m, alpha=alpha)
            labels = [f"{s['t']:7.2f}s  {s['label']}  p={s['p']:.2f}" for s in frames_shown[start:start + len(f)]]
            both = combined_frames(f, heat, labels=labels)
            size[:] = [both.shape[1] + both.shape[1] % 2, both.shape[2] + both.shape[2] % 2]  # even, as encoded
            yield from both

    size: list[int] = []
    path = write_mp4(frames(), path, fps=result.plan.rate)
    return {"mode": what.mode.value, "label": None if cls is None else result.categories[cls],
            "classes": [result.categories[c] for c in dict.fromkeys(int(c) for c in what.classes[:n])],
            "file": Path(path).name, "fps": result.plan.rate, "frames": n, "size": size,
            "heatmap_frames": frames_shown}


def _scaled_box(box, frame_size, size) -> tuple[int, int, int, int]:
    """A (top, left, h, w) box in ``frame_size`` pixels, in the pixels of the same frame at ``size``."""
    sy, sx = size[0] / frame_size[0], size[1] / frame_size[1]
    top, left, h, w = box
    return round(top * sy), round(left * sx), max(1, round(h * sy)), max(1, round(w * sx))
