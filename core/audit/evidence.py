"""One video of an audit: decode, explain its labelled class once, keep what the audit needs.

A record is plain JSON (so a resumed or sharded audit gathers it from disk or over the process
group, and two runs compare byte for byte): the prediction (top-2 and the labelled class's
probability), the evidence for the labelled class averaged over time on the audit grid (the
map's own grid, pooled to at most :data:`MAX_GRID` cells a side; it spans the model's input,
which is the whole frame for a model that squashes frames), its temporal profile, and where the
clip moves (mean absolute frame difference on the same grid). Each map sums to 1. ``moves``: motion
or appearance for the labelled class (:func:`core.trust.motion_check`: the evidence's share on
what moves and the class's drops without motion / without appearance; 2 more clip passes). Beside it,
the labelled class's maps over time (pooled to at most :data:`MAX_GRID` a side, float16) are kept
for the report's GIFs, so drawing them needs no second explanation.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from ..cam import Explainer, Settings
from ..transforms import crop_box_for, maps_to_frames, preprocess
from ..trust.motion import motion_check
from ..video import read_clip
from .inputs import Item

__all__ = ["MAX_GRID", "grid_of", "input_of", "maps_on_display", "video_record"]

MAX_GRID = 28  # finer maps (RISE's, occlusion's at a small stride) are pooled to this many cells a side
_DIGITS = 5


def grid_of(raw_hw: tuple[int, int]) -> tuple[int, int]:
    h, w = raw_hw
    return (h, w) if max(h, w) <= MAX_GRID else (min(h, MAX_GRID), min(w, MAX_GRID))


def _share(x: torch.Tensor) -> list[list[float]]:
    """(h, w) non-negative -> rows of shares summing to 1 (uniform when all zero), rounded."""
    x = x.clamp(min=0).double()
    s = float(x.sum())
    x = x / s if s > 0 else torch.full_like(x, 1 / x.numel())
    return [[round(v, _DIGITS) for v in row] for row in x.tolist()]


def _kept(maps: torch.Tensor) -> np.ndarray:
    h, w = maps.shape[-2:]
    return F.adaptive_avg_pool2d(maps, (min(h, MAX_GRID), min(w, MAX_GRID))).numpy().astype(np.float16)


def input_of(item: Item, spec, limits=None) -> torch.Tensor:
    """The model input (1, C, T, H, W) of a video: decoded and preprocessed as the model eats it."""
    clip = read_clip(item.path, spec, limits=limits)
    return preprocess(clip.frames, spec)[0]


def maps_on_display(maps: np.ndarray, frame_size: tuple[int, int], spec) -> np.ndarray:
    """A record's kept maps (T, h, w) -> (T, H, W) float32 over frames of ``frame_size`` (0
    outside what the model saw), as :meth:`core.Explanation.maps_on_frames` places them."""
    m = F.interpolate(torch.from_numpy(maps.astype(np.float32))[None], size=tuple(spec.input_size),
                      mode="bilinear", align_corners=False)
    return maps_to_frames(m.clamp_(0, 1), crop_box_for(tuple(frame_size), spec), tuple(frame_size))[0].numpy()


def video_record(explainer: Explainer, item: Item, settings: Settings, limits=None) -> tuple[dict, np.ndarray]:
    """Decode ``item`` (under ``limits``, a :class:`core.video.Limits`: default the decoder's),
    explain its labelled class, and return its record (see the module doc) and its kept maps.

    A video that cannot be read raises :class:`core.VideoError`; the caller records it.
    """
    t0 = time.perf_counter()
    x = input_of(item, explainer.spec, limits)
    t1 = time.perf_counter()
    exp = explainer.explain(x, [item.target], settings=settings)
    t2 = time.perf_counter()
    moves = motion_check(explainer, x, item.target, exp=exp).to_dict()
    moves = {k: moves[k] for k in ("share", "area", "motion_drop", "appearance_drop", "verdict", "weak")}
    t3 = time.perf_counter()
    raw = exp.raw_maps[0].clamp(min=0).mean(0)  # (h', w'): the labelled class's evidence, over time
    grid = grid_of(tuple(raw.shape))
    evidence = F.adaptive_avg_pool2d(raw[None, None], grid)[0, 0]
    motion = (x[0, :, 1:] - x[0, :, :-1]).abs().mean((0, 1)) if x.shape[2] > 1 else torch.zeros(x.shape[-2:])
    motion = F.adaptive_avg_pool2d(motion[None, None], grid)[0, 0]
    probs = exp.probs
    top = probs.topk(min(2, probs.numel()))
    cats = exp.categories
    return {
        "index": item.index, "video": item.name, "target": item.target, "label": cats[item.target],
        "top2": [[cats[i], round(float(p), _DIGITS)] for p, i in zip(top.values.tolist(), top.indices.tolist(),
                                                                   strict=True)],
        "p_true": round(float(probs[item.target]), _DIGITS),
        "rank": int((probs > probs[item.target]).sum()),  # 0: right; 1: the labelled class is second
        "grid": list(grid),
        "evidence": _share(evidence),
        "motion": _share(motion),
        "profile": [round(v, _DIGITS) for v in exp.temporal_importance[0].tolist()],
        "moves": moves,
        "seconds": {"decode": round(t1 - t0, 4), "explain": round(t2 - t1, 4), "motion": round(t3 - t2, 4)},
    }, _kept(exp.maps[0])
