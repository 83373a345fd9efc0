"""The Something-Something v2 on-disk layout: write rendered clips into it, read it (or SSv2).

Layout written by :func:`write_dataset` (SSv2's own files, plus ground truth)::

    root/labels.json              {"Moving something up": "2", ...}  bracket-free template -> index
    root/train.json               [{"id": "1", "label": "Moving mug up",
    root/validation.json            "template": "Moving [something] up", "placeholders": ["mug"]}]
    root/test.json                [{"id": "27"}]  ids only, as SSv2 ships it
    root/test-answers.csv         27;Moving something up   (SSv2's "id;label" answers file)
    root/videos/{id}.webm         VP9 (or {id}.mp4, H.264), yuv420p, quality varied per clip
    root/ground_truth/{id}.npz    masks (bit-packed), interval, fps, params: see load_ground_truth

:class:`SSv2Dataset` reads that, and a real SSv2 download too (json files in ``root`` or
``root/labels``; videos in ``root/videos``, ``root/20bn-something-something-v2`` or ``root``),
mapping each entry to its class through ``template`` with the brackets removed, as SSv2's tools do.

Length: the data set's layout on disk, written and read in one place so that the two cannot
disagree.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.video import Limits, encode_video, read_frames

from .classes import CLASSES, normalize_template
from .generator import GroundTruth, Style, render_clip
from .shortcut import Shortcut, draw_logo

# The upload limits' 10 s wall clock per read is for untrusted files on a quiet server; a data
# set's clips are our own renders, often decoded at nice 19 on a busy machine: a generous cap.
DATASET_LIMITS = Limits(time_budget=600.0)

__all__ = [
    "DATASET_LIMITS",
    "SPLITS",
    "GroundTruth",
    "SSv2Dataset",
    "decode_video",
    "load_ground_truth",
    "write_dataset",
    "write_video",
]

SPLITS = ("train", "validation", "test")
_SPLIT_CODE = {"train": 0, "validation": 1, "test": 2}
_VIDEO_DIRS = ("videos", "20bn-something-something-v2", ".")
_VIDEO_EXTS = (".webm", ".mp4")
# (encoder, options, CRF range): VP9 in realtime mode encodes about as fast as x264 "veryfast".
_CODECS = {
    ".webm": ("libvpx-vp9", {"b": "0", "deadline": "realtime", "cpu-used": "8"}, (24, 44)),
    ".mp4": ("libx264", {"preset": "veryfast"}, (18, 32)),
}


def write_video(path: str | Path, frames: np.ndarray, fps: float, *, crf: int | None = None) -> None:
    """Encode (T, H, W, 3) uint8 RGB frames to ``path`` (.webm VP9 or .mp4 H.264, yuv420p).

    For .webm, the same frames and ``crf`` give the same bytes (VP9, and the muxer runs in
    bitexact mode). For .mp4 they need not: libx264 on some CPUs (seen on a 2-core AMD EPYC VM,
    even single-threaded) makes slightly different choices from run to run, so two encodes may
    decode ~1 grey level apart. Keep .webm where bytes must match (the data set's default).
    """
    path = Path(path)
    if path.suffix not in _CODECS:
        raise ValueError(f"cannot write {path.name!r}: use a .webm or .mp4 file name")
    h, w = frames.shape[1:3]
    if h % 2 or w % 2:
        raise ValueError(f"frames are {h}x{w}; yuv420p needs an even height and width")
    codec, options, (lo, hi) = _CODECS[path.suffix]
    encode_video(frames, path, fps=fps, codec=codec,
                 options={**options, "crf": str(crf if crf is not None else (lo + hi) // 2)},
                 container_options={"fflags": "+bitexact"})  # no random ids or dates


def decode_video(path: str | Path) -> np.ndarray:
    """Every frame of a data set video as (T, H, W, 3) uint8 RGB at its stored size, read by
    :func:`core.video.read_frames` under :data:`DATASET_LIMITS` (a bad file is a VideoError)."""
    return read_frames(path, limits=DATASET_LIMITS)


def _save_ground_truth(path: Path, clip, extra: dict) -> None:
    np.savez_compressed(
        path,
        masks=np.packbits(clip.masks, axis=-1),
        shape=np.array(clip.masks.shape),
        interval=np.array(clip.interval),
        fps=np.array(clip.fps),
        label=np.array(clip.label),
        placeholders=np.array(json.dumps(list(clip.placeholders))),
        params=np.array(json.dumps({**clip.params, **extra})),
    )


def load_ground_truth(path: str | Path) -> GroundTruth:
    """Read a ``ground_truth/{id}.npz`` file written by :func:`write_dataset`."""
    with np.load(path) as z:
        t, h, w = (int(v) for v in z["shape"])
        masks = np.unpackbits(z["masks"], axis=-1, count=w).astype(bool).reshape(t, h, w)
        return GroundTruth(masks, tuple(int(v) for v in z["interval"]), float(z["fps"]), str(z["label"]),
                           tuple(json.loads(str(z["placeholders"]))), json.loads(str(z["params"])))


def _seed(*words: int) -> int:
    """A 63-bit seed from (dataset seed, split, index, ...): stable across runs and machines."""
    a, b = np.random.SeedSequence(list(words)).generate_state(2, np.uint32)
    return (int(a) << 31) ^ int(b)


def _job(args: tuple) -> dict:
    """Render, encode and save one clip; returns its SSv2 record (runs in worker processes)."""
    root, clip_id, label, seed, split, index, ext, options, shortcut = args
    clip = render_clip(label, seed=_seed(seed, _SPLIT_CODE[split], index), **options)
    lo, hi = _CODECS[ext][2]
    crf = int(np.random.default_rng(_seed(seed, _SPLIT_CODE[split], index, 1)).integers(lo, hi + 1))
    extra = {"crf": crf, "codec": ext}
    if shortcut is not None and clip.label == shortcut.label:
        extra["shortcut"] = {**shortcut.manifest(), "pixels": list(draw_logo(clip.frames, shortcut))}
    video = Path(root, "videos", f"{clip_id}{ext}")
    write_video(video, clip.frames, clip.fps, crf=crf)
    _save_ground_truth(Path(root, "ground_truth", f"{clip_id}.npz"), clip, extra)
    return {"id": clip_id, "label": clip.text, "template": clip.label,
            "placeholders": list(clip.placeholders), "bytes": video.stat().st_size}


def write_dataset(root: str | Path, *, n_train: int, n_val: int, n_test: int, seed: int,
                  workers: int = 1, container: str = "webm", progress: bool = False,
                  overwrite: bool = False, render_options: dict | None = None) -> dict:
    """Render ``n_train + n_val + n_test`` clips into the SSv2 layout under ``root``.

    Classes are balanced within each split (counts differ by at most one) and shuffled; clip
    ``i`` of a split is rendered from a seed derived from (``seed``, split, ``i``), so the output
    is the same for any ``workers``. Ids run from 1 over train, then validation, then test.
    ``render_options`` (``size``, ``fps``, ``duration``) fix what :func:`render_clip` would draw;
    ``style`` ("standard", "unfamiliar" or "varied", see :class:`~lab.data.generator.Style`) picks its pools;
    ``shortcut`` (a class name, or a :class:`~lab.data.shortcut.Shortcut`) plants a logo in a fixed
    corner of every clip of that class (the manifest and those clips' ground truth say where).
    A split may have 0 clips (its json file then holds an empty list).
    Returns a summary: counts per split and class, bytes written, seconds taken.
    """
    ext = "." + container.lstrip(".")
    if ext not in _CODECS:
        raise ValueError(f"container={container!r}; use 'webm' (SSv2's) or 'mp4'")
    for name, n in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test), ("workers", workers)):
        if not isinstance(n, int) or n < (1 if name == "workers" else 0):
            raise ValueError(f"{name}={n!r}; need a non-negative int (workers >= 1)")
    render_options = dict(render_options or {})
    shortcut = Shortcut.parse(render_options.pop("shortcut", None))
    if "style" in render_options:
        render_options["style"] = Style.parse(render_options["style"]).value
    size = render_options.get("size")
    if size is not None and (size[0] % 2 or size[1] % 2):
        raise ValueError(f"size={tuple(size)}: videos are yuv420p, so height and width must be even")
    root = Path(root)
    if (root / "labels.json").exists() and not overwrite:
        raise FileExistsError(f"{root} already holds a dataset; pick another folder or pass overwrite=True")
    (root / "videos").mkdir(parents=True, exist_ok=True)
    (root / "ground_truth").mkdir(exist_ok=True)
    jobs, next_id = [], 1
    for split, n in zip(SPLITS, (n_train, n_val, n_test), strict=True):
        order = np.random.default_rng(_seed(seed, _SPLIT_CODE[split], 2**31)).permutation(n)
        for i in range(n):
            label = CLASSES[int(order[i]) % len(CLASSES)]
            jobs.append((str(root), str(next_id), label, seed, split, i, ext, render_options, shortcut))
            next_id += 1
    start = time.perf_counter()
    records = _run(jobs, workers, progress)
    summary = {"root": str(root), "seconds": 0.0, "bytes": 0, "splits": {}}
    labels = {normalize_template(c): str(i) for i, c in enumerate(CLASSES)}
    _dump(root / "labels.json", labels)
    for split in SPLITS:
        recs = [r for r, j in zip(records, jobs, strict=True) if j[4] == split]
        summary["bytes"] += sum(r.pop("bytes") for r in recs)
        counts = {c: sum(r["template"] == c for r in recs) for c in CLASSES}
        summary["splits"][split] = {"clips": len(recs), "per_class": counts}
        if split == "test":
            _dump(root / "test.json", [{"id": r["id"]} for r in recs])
            with open(root / "test-answers.csv", "w", newline="") as fh:
                csv.writer(fh, delimiter=";").writerows([r["id"], normalize_template(r["template"])] for r in recs)
        else:
            _dump(root / f"{split}.json", recs)
    summary["seconds"] = time.perf_counter() - start
    # Our own manifest (SSv2 has none): enough to re-render the exact same folder.
    _dump(root / "dataset.json", {
        "generator": "lab.data", "seed": seed, "container": ext.lstrip("."),
        "n_train": n_train, "n_val": n_val, "n_test": n_test,
        "render_options": {**{k: list(v) if isinstance(v, tuple) else v for k, v in render_options.items()},
                           **({"shortcut": shortcut.manifest()} if shortcut else {})},
        "classes": list(CLASSES),
    })
    return summary


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")


def _run(jobs: list, workers: int, progress: bool) -> list[dict]:
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="clip")
    try:
        if workers == 1 or len(jobs) < 2:
            out = []
            for j in jobs:
                out.append(_job(j))
                if bar is not None:
                    bar.update()
            return out
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # fork starts in a blink; spawn would re-import torch in every worker (seconds each).
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(workers, mp_context=mp.get_context(method)) as pool:
            out = []
            for rec in pool.map(_job, jobs, chunksize=4):
                out.append(rec)
                if bar is not None:
                    bar.update()
            return out
    finally:
        if bar is not None:
            bar.close()


@dataclass(frozen=True)
class Sample:
    """One entry of a split: video id, its class index in ``SSv2Dataset.classes`` (-1 if unknown)."""

    id: str
    target: int
    template: str | None
    text: str | None
    placeholders: tuple[str, ...]


class SSv2Dataset(torch.utils.data.Dataset):
    """A split of an SSv2-layout folder: ``dataset[i]`` is ``(video, target)``.

    ``classes`` restricts and orders the classes (templates, with or without brackets, like the
    2017 post's 40-class subset); entries of other classes are dropped and ``target`` indexes
    ``classes``. By default the classes are ``labels.json``'s names in index order. ``decode``
    maps a video path to frames (default :func:`decode_video`: (T, H, W, 3) uint8 at the stored
    size); ``transform`` then maps those frames to what a model eats. Test entries have targets
    only where ``test-answers.csv`` is present; otherwise their target is -1 (and, with a class
    subset, they are left out, as there is no telling which class they belong to).
    """

    def __init__(self, root: str | Path, split: str = "train", *, classes: Sequence[str] | None = None,
                 transform: Callable | None = None, decode: Callable | None = None):
        self.root = Path(root)
        split = {"val": "validation"}.get(split, split)
        if split not in SPLITS:
            raise ValueError(f"split={split!r}; use one of {SPLITS} (or 'val')")
        self.split = split
        labels = self._json("labels.json")
        if classes is None:
            classes = sorted(labels, key=lambda k: int(labels[k]))
        self.classes = tuple(classes)
        index = {normalize_template(c): i for i, c in enumerate(self.classes)}
        known = {normalize_template(k) for k in labels}
        unknown = [c for c in self.classes if normalize_template(c) not in known]
        if unknown:
            raise ValueError(f"classes not in {self.root / 'labels.json'}: {unknown[:3]}")
        answers = self._answers() if split == "test" else {}
        self.samples: list[Sample] = []
        for e in self._json(f"{split}.json"):
            template = e.get("template")
            key = normalize_template(template) if template else answers.get(str(e["id"]))
            if key is None:
                if len(index) < len(known):
                    continue  # cannot tell whether an unlabeled test clip belongs to the subset
                target = -1
            elif key in index:
                target = index[key]
            else:
                continue
            self.samples.append(Sample(str(e["id"]), target, template, e.get("label"),
                                       tuple(e.get("placeholders", ()))))
        self.video_dir = next((self.root / d for d in _VIDEO_DIRS if (self.root / d).is_dir()), self.root)
        self.transform, self.decode = transform, decode or decode_video

    def _json(self, name: str):
        for folder in (self.root, self.root / "labels"):
            for candidate in (name, f"something-something-v2-{name}"):
                if (folder / candidate).exists():
                    return json.loads((folder / candidate).read_text())
        raise FileNotFoundError(f"no {name} in {self.root} or {self.root / 'labels'}; is this an SSv2 folder?")

    def _answers(self) -> dict[str, str]:
        for folder in (self.root, self.root / "labels"):
            path = folder / "test-answers.csv"
            if path.exists():
                with open(path, newline="") as fh:
                    return {row[0]: normalize_template(row[1]) for row in csv.reader(fh, delimiter=";") if row}
        return {}

    def __len__(self) -> int:
        return len(self.samples)

    def video_path(self, i: int) -> Path:
        sid = self.samples[i].id
        for ext in _VIDEO_EXTS:
            path = self.video_dir / f"{sid}{ext}"
            if path.exists():
                return path
        raise FileNotFoundError(f"no video for id {sid} in {self.video_dir} (tried {', '.join(_VIDEO_EXTS)})")

    def ground_truth(self, i: int) -> GroundTruth | None:
        """The clip's masks/interval/params if it was rendered by :func:`write_dataset`, else None."""
        path = self.root / "ground_truth" / f"{self.samples[i].id}.npz"
        return load_ground_truth(path) if path.exists() else None

    def __getitem__(self, i: int):
        video = self.decode(self.video_path(i))
        if self.transform is not None:
            video = self.transform(video)
        return video, self.samples[i].target
