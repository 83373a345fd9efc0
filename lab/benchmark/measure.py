"""One clip, every row: what the benchmark measures of each method's map, as one record.

A *row* is a method at a layer (the Grad-CAM family at each layer asked; the other methods need
none). :func:`measure_clip` explains the clip's true class with every row, then takes the six
kinds of evidence of each map (:mod:`lab.benchmark.metrics`) and its cost, and returns plain data
(a *record*) that :mod:`lab.benchmark.run` writes to disk as soon as it is made.

Motion or appearance (:mod:`core.trust.motion`): each row's ``motion_share`` (the share of its
map's positive evidence on the voxels that move; no forward pass), and once a clip, not once a
row, the causal check (:func:`_motion`): the class's drop when motion is removed and when
appearance is removed, which the model answers whatever map explains it (2 clip passes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.attribution import Perturbation
from core.cam import Explainer
from core.cam.registry import method_entry, methods_for
from core.cam.settings import PERTURBATION_METHODS, Method
from core.errors import SettingsError
from core.trust.motion import motion_check, motion_share

from .metrics import complexity as cx
from .metrics import faithfulness as fa
from .metrics import localisation as lo
from .metrics import randomisation as ra
from .metrics import robustness as ro
from .metrics.axiomatic import CLAIMS_COMPLETENESS, completeness_gap

__all__ = ["Options", "Row", "Sample", "measure_clip", "rows_for"]


@dataclass(frozen=True)
class Row:
    method: Method
    layer: str | None = None

    @property
    def key(self) -> str:
        return f"{self.method.value}@{self.layer}" if self.layer else self.method.value


@dataclass(frozen=True)
class Options:
    """How much of each test runs (what the report states next to its tables)."""

    noise_samples: int = 3  # max-sensitivity's draws
    noise_sigma: float = 0.1  # their std, in model-input units (the input is normalised)
    deletion_steps: int = 6
    road_noise: float = 0.01  # ROAD's noise on the imputed voxels
    cascade_depth: int | None = None  # layers the cascade randomises (None: the head and every layer)
    masks: int = 250  # RISE's masks
    seed: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Sample:
    """One clip of the split, with what the tests need of its video."""

    index: int
    name: str
    target: int
    path: Path
    masks: np.ndarray | None  # (N, H, W) bool per source frame; None without ground truth
    interval: tuple[int, int] | None  # the action's first and last source frame
    fps: float
    object_class: bool  # camera classes move the whole frame: no spatial localisation
    perturbation: bool  # one of the clips occlusion and RISE run on


def rows_for(spec, methods=None, layers=None) -> list[Row]:
    """The rows for a model: ``methods`` (names; default every method that applies to it,
    :func:`core.cam.registry.methods_for`), those that need a layer (the Grad-CAM family) at each
    of ``layers`` (default the spec's layers), the others once."""
    applies = methods_for(spec)
    asked = applies if methods is None else [Method.parse(m, "method") for m in methods]
    wrong = [m.value for m in asked if m not in applies]
    if wrong:
        raise SettingsError(f"--methods {' '.join(wrong)}: does not apply to {spec.name} (attention methods "
                            "need a video transformer); leave it out")
    layers = list(spec.layers if layers is None else layers)
    bad = [la for la in layers if la not in spec.layers]
    if bad:
        raise SettingsError(f"--layers {' '.join(bad)}: {spec.name}'s layers are {', '.join(spec.layers)}")
    rows = [Row(m, la) for la in layers for m in asked if method_entry(m).needs_layer]
    return rows + [Row(m) for m in asked if not method_entry(m).needs_layer]


def _explain(ex: Explainer, clip, target, row: Row, opts: Options):
    extra = {"perturbation": Perturbation(masks=opts.masks, seed=opts.seed)} if row.method in PERTURBATION_METHODS else {}
    return ex.explain(clip, target, method=row.method, layer=row.layer, **extra)


def measure_clip(ex: Explainer, s: Sample, rows: list[Row], opts: Options) -> dict:
    """The record of clip ``s``: per row key, each figure of :data:`lab.benchmark.board.FIGURES`
    (None where it cannot be measured on this clip) and the row's cost (forward passes and
    seconds, uncached)."""
    from core.video import read_clip, read_frames

    from ..data.ssv2 import DATASET_LIMITS

    spec = ex.spec
    clip = read_clip(s.path, spec, limits=DATASET_LIMITS)
    video = read_frames(s.path, limits=DATASET_LIMITS)
    idx = list(clip.indices)
    n = len(video)
    masks = s.masks[idx] if s.masks is not None else None
    inside = None if s.interval is None else (np.asarray(idx) >= s.interval[0]) & (np.asarray(idx) <= s.interval[1])
    size = tuple(masks.shape[1:]) if masks is not None else tuple(clip.frames.shape[1:3])
    variants = {"shift": torch.from_numpy(video[ro.shifted(idx, n)])}
    low = ro.reencoded(video, s.fps)
    variants["reencode"] = torch.from_numpy(low[idx])
    nxt, shared = ro.overlapping(idx)
    variants["flicker"] = torch.from_numpy(video[[min(i, n - 1) for i in nxt]])
    rows = [r for r in rows if s.perturbation or r.method not in PERTURBATION_METHODS]
    rng = np.random.default_rng([opts.seed, s.index])
    out: dict[str, dict] = {}
    cost: dict[str, dict] = {}
    kept: dict[str, tuple] = {}
    probs = None
    e = None
    std = torch.tensor(spec.std, dtype=torch.float32)  # frame differences in pixel units
    for row in rows:
        other = ra.other_class(s.target, len(spec.categories), rng)  # the random-logit test's class
        # a perturbation method's passes score every class: the other class's map comes with the
        # first at no further cost (the same map as asked alone: the same masks, tested)
        paired = row.method in PERTURBATION_METHODS
        ex.clear()  # uncached: the row's own cost
        t0 = time.perf_counter()
        e = _explain(ex, clip, [s.target, other] if paired else s.target, row, opts)
        cost[row.key] = {"passes": int(e.method_info.get("forward_passes", 1)),
                         "seconds": round(time.perf_counter() - t0, 4)}
        probs = e.probs
        m = e.maps[0]  # (T, h, w) at the model input, in [0, 1]
        f = out[row.key] = {}
        _localisation(f, e, m, size, masks, inside, s.object_class)
        for name, fn in (("gini", cx.gini), ("entropy", cx.entropy)):
            f[f"{name}_spatial"] = cx.spatial(fn, m.numpy())
            f[f"{name}_temporal"] = cx.temporal(fn, m.numpy())
        x = ex.model_input(clip)
        f["motion_share"] = motion_share(e, x, std=std)[0]
        curves = fa.deletion_insertion(ex.predict, x, s.target, e.temporal_importance[0], e.raw_maps[0],
                                       steps=opts.deletion_steps, seed=opts.seed)
        f["deletion"], f["insertion"] = curves["regions_deletion_cam"].auc, curves["regions_insertion_cam"].auc
        road = fa.road_curves(ex.predict, x, s.target, m, noise=opts.road_noise, seed=opts.seed)
        f["road_morf"], f["srg"] = road["morf"].auc, fa.srg(road["morf"], road["lerf"])

        def again(inp, settings=e.settings):
            return ex.explain(inp, s.target, settings=settings).maps[0]

        f["noise"] = ro.max_sensitivity(again, x, samples=opts.noise_samples, sigma=opts.noise_sigma,
                                        seed=opts.seed, base=m)
        f["shift"] = ro.relative_change(m, again(variants["shift"]))
        f["reencode"] = ro.relative_change(m, again(variants["reencode"]))
        f["flicker"] = ro.flicker(m[len(idx) - shared:], again(variants["flicker"])[:shared])
        other_map = e.raw_maps[1] if paired else ex.explain(clip, other, settings=e.settings).raw_maps[0]
        f["random_logit"] = ra.spearman(e.raw_maps[0], other_map)
        f["completeness"] = (completeness_gap(e.raw_maps[0], float(e.logits[s.target]))
                             if row.method in CLAIMS_COMPLETENESS else None)
        kept[row.key] = (e.settings, e.raw_maps[0], m)
    moves = _motion(ex, clip, s.target, e)
    _cascade(ex, clip, s.target, kept, out, opts)
    return {"index": s.index, "video": s.name, "target": s.target, "label": spec.categories[s.target],
            "object": s.object_class, "perturbation": s.perturbation,
            "top1": bool(probs is not None and int(probs.argmax()) == s.target), "rows": out, "cost": cost,
            "motion": moves}


def _motion(ex: Explainer, clip, target: int, e) -> dict:
    """Motion or appearance for the clip's class (:func:`core.trust.motion_check`), once a clip:
    P(class) as is, with motion removed (the frozen clip) and with appearance removed (the
    temporal high-pass), the drops, the verdict, and the moving voxels' fraction of the clip (a
    uniform map's ``motion_share``). The drops are the model's answer, the same for every row, so
    any row's explanation ``e`` gives P(class) (None: one with the model's default is made)."""
    t0 = time.perf_counter()
    r = motion_check(ex, clip, target, exp=e).to_dict()
    keep = ("prob", "prob_frozen", "prob_still_removed", "motion_drop", "appearance_drop", "verdict", "weak",
            "area", "appearance_removal", "forward_passes")
    return {**{k: r[k] for k in keep}, "seconds": round(time.perf_counter() - t0, 4)}


def _localisation(f: dict, e, m, size, masks, inside, object_class: bool) -> None:
    keys = ("pointing", "pointing_near", "energy", "rank_accuracy", "top_iou", "time_mass")
    f.update(dict.fromkeys(keys))
    if masks is None:
        return
    on = e.maps_on_frames(size)[0].numpy()
    sc = lo.explanation_scores(on, masks, inside, lo.cam_cell(e))
    f["time_mass"] = sc["interval_mass"]
    if object_class:
        f["pointing"] = float(np.mean(sc["pointing"])) if sc["pointing"] else None
        f["pointing_near"] = float(np.mean(sc["pointing_near"])) if sc["pointing_near"] else None
        f["energy"] = float(np.mean(sc["energy"])) if sc["energy"] else None
        f["rank_accuracy"] = lo.rank_accuracy(on, masks)
        f["top_iou"] = lo.top_region_iou(on, masks)


def _cascade(ex: Explainer, clip, target: int, kept: dict, out: dict, opts: Options) -> None:
    """The randomisation cascade for every row at once: each step's model explains every row;
    Spearman of the raw maps after the head (``sanity_head``), the next layer (``sanity_top``)
    and the last step (``sanity_full``), and eMPRT at the last step."""
    order = ra.sanity_order(ex.model, ex.spec, opts.cascade_depth)
    last: dict[str, torch.Tensor] = {}
    scratch = ex.copy_model()
    for depth, (_, rnd) in enumerate(ra.randomize_top_down(scratch, order, seed=opts.seed)):
        rex = Explainer(rnd, ex.spec, cache_size=2)
        for key, (settings, raw, _) in kept.items():
            r = rex.explain(clip, target, settings=settings)
            rho = ra.spearman(raw, r.raw_maps[0])
            if depth == 0:
                out[key]["sanity_head"] = rho
            elif depth == 1:
                out[key]["sanity_top"] = rho
            out[key]["sanity_full"] = rho
            last[key] = r.maps[0]
    for key, (_, _, m) in kept.items():
        out[key].setdefault("sanity_top", None)
        out[key]["emprt"] = ra.emprt(m.numpy(), last[key].numpy()) if key in last else None
    del scratch
