"""Write a :class:`~core.TimelineResult`: JSON, CSV, a plot, and the whole-video heatmap.

``timeline.json`` holds every window's top classes with the model, the grid and the timings;
``timeline.csv`` one row per window with every class's probability; ``timeline.png`` the top
classes' probabilities over time; ``heatmap_full.mp4`` (one per heatmap class) the video at the
timeline's grid rate, original | heatmap side by side, each frame's map combined from the windows
that hold it (:meth:`TimelineResult.combined_maps`). The frames for it are kept on disk by a
:class:`FrameSpool` while the timeline streams, not in memory.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from ..render import combined_frames, overlay, write_mp4
from ..transforms import maps_to_frames
from .scan import TimelineResult

__all__ = ["DISPLAY_SIDE", "FILES", "FrameSpool", "timeline_plot", "write_timeline"]

DISPLAY_SIDE = 320  # longest side of each panel of heatmap_full.mp4, in pixels (as the GIFs)
FILES = ("timeline.json", "timeline.csv", "timeline.png", "heatmap_full.mp4")
_CHUNK = 32  # frames drawn and encoded at a time


class FrameSpool:
    """Grid frames shrunk for display, appended in order to an unnamed temporary file.

    Use it as ``on_frame`` of :func:`core.timeline`; the file is gone once the spool is
    closed (or garbage-collected), whatever happens, so nothing is left behind.
    """

    def __init__(self, max_side: int = DISPLAY_SIDE, dir: str | PathLike | None = None):
        self.max_side = max_side
        self.shape: tuple[int, int, int] | None = None
        self.count = 0
        # closed by close() / __exit__, not a with block: the file outlives this call by design
        self._file = tempfile.TemporaryFile(prefix="videocam-frames-", dir=dir)  # noqa: SIM115

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
        self._file.seek(start * size)
        data = self._file.read(n * size)
        return np.frombuffer(data, np.uint8).reshape(-1, *self.shape)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> FrameSpool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _heatmap_name(k: int) -> str:
    return "heatmap_full.mp4" if k == 0 else f"heatmap_full_{k}.mp4"


def write_timeline(result: TimelineResult, out_dir: str | PathLike, *, spool: FrameSpool | None = None,
                   heatmap_classes: Sequence[int] | None = None, top: int = 5, alpha: float = 0.5,
                   extra: dict | None = None) -> dict[str, Path]:
    """Write the timeline's files into ``out_dir`` (created); returns {file name: path}.

    ``heatmap_classes``: the classes to draw a ``heatmap_full`` video for (default: the targets
    the timeline was asked for, else its top class by mean probability); needs the ``spool`` the
    timeline streamed its frames into.
    ``extra`` is merged into ``timeline.json``.
    """
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if heatmap_classes is None:  # the targets asked for, else the top class; none if no maps were kept
        heatmap_classes = [c for c in result.targets or [result.top_classes(1)[0][0]] if c in result.maps]
    classes = list(heatmap_classes)
    written: dict[str, Path] = {}
    heatmaps = []
    if spool is not None and spool.count:
        for k, c in enumerate(classes):
            name = _heatmap_name(k)
            written[name], size = _heatmap_video(result, c, spool, out / name, alpha)
            heatmaps.append({"label": result.categories[c], "file": name, "fps": result.plan.rate,
                             "frames": spool.count, "size": size})
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
        "heatmaps": heatmaps or [],
        "combine": "each grid frame's map is the mean, over the windows holding it, of the window's "
                   "map (scaled to [0, 1] per window) times the window's probability of the class; the "
                   "heatmap video scales them so that its strongest frame reaches 1",
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


def _heatmap_video(result: TimelineResult, cls: int, spool: FrameSpool, path: Path, alpha: float):
    """Write one class's heatmap video; returns (path, [height, width] as encoded)."""
    maps = result.combined_maps(cls)  # (grid, h, w)
    maps = torch.from_numpy(maps / max(float(maps.max()), 1e-12))  # the video's strongest frame is 1
    H, W = spool.shape[:2]
    box = _scaled_box(result.crop_box, result.frame_size, (H, W))
    probs = result.frame_probs(cls)
    label = result.categories[cls]

    def frames():
        for start in range(0, spool.count, _CHUNK):
            f = spool.read(start, min(_CHUNK, spool.count - start))
            m = maps_to_frames(maps[start:start + len(f)][None], box, (H, W))[0].numpy()
            heat = overlay(f, m, alpha=alpha)
            labels = [f"{result.plan.grid[g]:7.2f}s  {label}  p={probs[g]:.2f}" for g in range(start, start + len(f))]
            both = combined_frames(f, heat, labels=labels)
            size[:] = [both.shape[1] + both.shape[1] % 2, both.shape[2] + both.shape[2] % 2]  # even, as encoded
            yield from both

    size: list[int] = []
    return write_mp4(frames(), path, fps=result.plan.rate), size


def _scaled_box(box, frame_size, size) -> tuple[int, int, int, int]:
    """A (top, left, h, w) box in ``frame_size`` pixels, in the pixels of the same frame at ``size``."""
    sy, sx = size[0] / frame_size[0], size[1] / frame_size[1]
    top, left, h, w = box
    return round(top * sy), round(left * sx), max(1, round(h * sy)), max(1, round(w * sx))
