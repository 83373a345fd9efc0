"""What both evaluations share: the held-out clips, the explanation scores against the rendered
ground truth, their means, and the sanity check's cascade.

:func:`explanation_scores` scores one clip's maps; a *record* (:func:`new_record`) collects the
scores of many clips, and :func:`summary` turns it into the report's numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from core.video import Clip, read_clip

from ..data.ssv2 import DATASET_LIMITS, SSv2Dataset

__all__ = ["SPATIAL_KEYS", "Sample", "add_scores", "cam_cell", "explanation_scores", "held_out", "mean", "near",
           "new_record", "sanity_summary", "summary"]

# the per-frame scores, kept for object classes only in the pooled numbers (camera classes move the
# whole frame); a record also holds "interval" and "interval_uniform", one per clip, for every class
SPATIAL_KEYS = ("pointing", "pointing_near", "pointing_near_uniform", "energy", "energy_uniform")


def mean(v) -> float:
    return float(np.mean(v)) if len(v) else float("nan")


def near(masks: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """(T, H, W) masks grown by ``cell`` (height, width) pixels each way: a rectangular dilation,
    done as two 1-D max-pools (the same result as one 2-D pool, at a fraction of its cost)."""
    ch, cw = cell
    x = torch.from_numpy(masks).float()[:, None]
    x = torch.nn.functional.max_pool2d(x, (2 * ch + 1, 1), stride=1, padding=(ch, 0))
    x = torch.nn.functional.max_pool2d(x, (1, 2 * cw + 1), stride=1, padding=(0, cw))
    return x[:, 0].numpy() > 0


def cam_cell(exp) -> tuple[int, int]:
    """The frame pixels (height, width) one cell of the explanation's layer grid covers."""
    _, _, box_h, box_w = exp.crop_box  # frame pixels the layer's grid covers
    return max(1, round(box_h / exp.raw_maps.shape[-2])), max(1, round(box_w / exp.raw_maps.shape[-1]))


def explanation_scores(maps: np.ndarray, masks: np.ndarray, in_interval: np.ndarray,
                       cell: tuple[int, int], grown: np.ndarray | None = None) -> dict:
    """Per clip: pointing game (exact, and within one layer cell of the mask, like Zhang et al.'s
    15-pixel tolerance), energy in mask, mass in interval, and the uniform-map baselines.
    ``cell``: the frame pixels (height, width) one cell of the CAM's layer covers; ``grown``: the
    masks grown by it (:func:`near`), when the caller already has them."""
    T = maps.shape[0]
    grown = near(masks, cell) if grown is None else grown
    hits, hits_near, energy, base_energy, base_near = [], [], [], [], []
    for t in range(T):
        m, g = maps[t], masks[t]
        if not g.any() or m.max() <= 0:
            continue
        peak = np.unravel_index(np.argmax(m), m.shape)
        hits.append(bool(g[peak]))
        hits_near.append(bool(grown[t][peak]))
        energy.append(float(m[g].sum() / m.sum()))
        base_energy.append(float(g.mean()))  # a uniform map puts this share inside the mask
        base_near.append(float(grown[t].mean()))  # ... and a random peak lands this near it this often
    mass = maps.reshape(T, -1).sum(1)
    return {
        "pointing": hits, "pointing_near": hits_near, "pointing_near_uniform": base_near,
        "energy": energy, "energy_uniform": base_energy,
        "interval_mass": float(mass[in_interval].sum() / max(mass.sum(), 1e-12)),
        "interval_uniform": float(in_interval.mean()),
    }


def new_record() -> dict[str, list]:
    return {k: [] for k in (*SPATIAL_KEYS, "interval", "interval_uniform")}


def add_scores(record: dict, scores: dict, *, spatial: bool = True) -> None:
    """Add one clip's :func:`explanation_scores` to ``record`` (its per-frame scores only if ``spatial``)."""
    if spatial:
        for k in SPATIAL_KEYS:
            record[k] += scores[k]
    record["interval"].append(scores["interval_mass"])
    record["interval_uniform"].append(scores["interval_uniform"])


def summary(record: dict) -> dict[str, float]:
    """The report's numbers of a record: each score's mean next to its uniform-map baseline."""
    return {
        "pointing_game": mean(record["pointing"]), "pointing_game_uniform": mean(record["energy_uniform"]),
        "pointing_game_near": mean(record["pointing_near"]),
        "pointing_game_near_uniform": mean(record["pointing_near_uniform"]),
        "energy_in_mask": mean(record["energy"]), "energy_in_mask_uniform": mean(record["energy_uniform"]),
        "mass_in_interval": mean(record["interval"]), "mass_in_interval_uniform": mean(record["interval_uniform"]),
    }


def sanity_summary(rows: dict[str, list[float]]) -> list[dict]:
    """``rows``: "+"-joined names randomised so far -> Spearman correlation per clip."""
    return [{"randomized": k.split("+"), "spearman_mean": mean(v), "clips": len(v)} for k, v in rows.items()]


class Sample(NamedTuple):
    """One held-out clip, as the model samples it."""

    target: int
    clip: Clip
    masks: np.ndarray | None  # (T, H, W) bool at the clip's frames; None without ground truth
    inside: np.ndarray | None  # (T,) bool: the frames inside the action's interval
    sanity: bool  # one of the clips the sanity check runs on


def held_out(spec, root: Path, split: str, *, limit: int | None, sanity_clips: int, seed: int,
             desc: str, per_class: int | None = None) -> tuple[int, Iterator[Sample]]:
    """(number of clips, the clips): the first ``limit`` clips of ``split`` (of those, only the
    first ``per_class`` of each class, when given; the others are not decoded), ``sanity_clips``
    of them drawn by ``seed`` for the sanity check."""
    ds = SSv2Dataset(root, split, classes=spec.categories)
    n = len(ds) if limit is None else min(limit, len(ds))
    chosen = list(range(n))
    if per_class is not None:
        seen: Counter[int] = Counter()
        kept = []
        for i in chosen:
            y = ds.samples[i].target
            if seen[y] < per_class:
                seen[y] += 1
                kept.append(i)
        chosen = kept
    rng = np.random.default_rng(seed)
    sanity_ids = {chosen[k] for k in rng.choice(len(chosen), size=min(sanity_clips, len(chosen)), replace=False)}

    def samples() -> Iterator[Sample]:
        for i in tqdm(chosen, desc=desc):
            clip = read_clip(ds.video_path(i), spec, limits=DATASET_LIMITS)
            gt = ds.ground_truth(i)
            idx = np.asarray(clip.indices)
            masks = inside = None
            if gt is not None:
                masks = gt.masks[idx]
                inside = (idx >= gt.interval[0]) & (idx <= gt.interval[1])
            yield Sample(ds.samples[i].target, clip, masks, inside, i in sanity_ids)

    return len(chosen), samples()
