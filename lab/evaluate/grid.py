"""Every method of the Grad-CAM family at several layers, scored against the ground truth.

``python -m lab.evaluate --grid NAME[=WEIGHTS] ...`` (see :mod:`lab.evaluate.__main__`) runs
:func:`evaluate_layers` for each model and writes the "Methods x layers" section of the report:
pointing, energy in the mask, time mass and the sanity correlation for Grad-CAM, Grad-CAM++,
HiResCAM and LayerCAM at ``layer3``, ``layer4``, and LayerCAM fused over both (:func:`fuse`). One
decode and one forward pass per clip and layer serve every method.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch

from core.cam import Explainer
from core.cam.settings import Method
from core.trust import randomize_top_down, sanity_order, spearman

from ..data import CAMERA_CLASSES
from . import scores

__all__ = ["FUSED", "GRID_METHODS", "SECTION", "evaluate_layers", "fuse", "join_report", "layers_markdown",
           "split_report"]

GRID_METHODS = (Method.GRADCAM, Method.GRADCAMPP, Method.HIRESCAM, Method.LAYERCAM)
FUSED = "fused"  # LayerCAM fused over the grid's layers, as torch-cam's LayerCAM.fuse_cams
SECTION = "## Methods x layers"


def fuse(maps: list[torch.Tensor]) -> torch.Tensor:
    """LayerCAM's fusion (Jiang et al., 2021; torch-cam ``LayerCAM.fuse_cams``): each map scaled to
    [0, 1] over the clip, then tanh(2x), brought to the finest grid and combined by element-wise max.
    ``maps``: (T, h, w) tensors (the time axes must agree)."""
    size = max((m.shape[-2:] for m in maps), key=lambda s: s[0] * s[1])
    out = []
    for m in maps:
        lo, hi = m.min(), m.max()
        m = (m - lo) / (hi - lo) if hi > lo else torch.zeros_like(m)
        if tuple(m.shape[-2:]) != tuple(size):
            m = torch.nn.functional.interpolate(m[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
        out.append(torch.tanh(2 * m))
    return torch.stack(out).amax(0)


def _layer_maps(ex: Explainer, clip, y: int, layers, methods, size) -> tuple[dict, dict, dict, torch.Tensor]:
    """Per (method, layer or FUSED): maps on frames (T, H, W), raw maps (t, h, w), and the CAM cell
    in frame pixels; plus the probabilities."""
    on_frames, raw, cells, probs = {}, {}, {}, None
    for layer in layers:
        for m in methods:
            e = ex.explain(clip, y, method=m, layer=layer)
            on_frames[m, layer] = e.maps_on_frames(size)[0]
            raw[m, layer] = e.raw_maps[0]
            cells[m, layer] = scores.cam_cell(e)
            probs = e.probs
    if Method.LAYERCAM in methods:
        on_frames[Method.LAYERCAM, FUSED] = fuse([on_frames[Method.LAYERCAM, la] for la in layers])
        raw[Method.LAYERCAM, FUSED] = fuse([raw[Method.LAYERCAM, la] for la in layers])
        cells[Method.LAYERCAM, FUSED] = min((cells[Method.LAYERCAM, la] for la in layers), key=lambda c: c[0] * c[1])
    return on_frames, raw, cells, probs


def evaluate_layers(model, root: Path, split: str = "test", *, layers=("layer3", "layer4"), methods=GRID_METHODS,
                    limit: int | None = None, sanity_clips: int = 26, seed: int = 0) -> dict:
    """Explanation scores of every method at every layer (and LayerCAM fused over ``layers``)."""
    spec = model.spec
    methods = tuple(Method.parse(m, "method") for m in methods)
    n, samples = scores.held_out(spec, root, split, limit=limit, sanity_clips=sanity_clips, seed=seed,
                                 desc=f"evaluate layers {split}")
    ex = Explainer(model, spec, cache_size=len(layers))
    order = sanity_order(model, spec)
    rows: dict = {}
    correct, t0 = 0, time.time()
    for s in samples:
        y, clip, masks = s.target, s.clip, s.masks
        size = tuple(masks.shape[1:]) if masks is not None else clip.frames.shape[1:3]
        on_frames, raw, cells, probs = _layer_maps(ex, clip, y, layers, methods, size)
        correct += int(probs.argmax()) == y
        is_object = spec.categories[y] not in CAMERA_CLASSES
        grown: dict[tuple[int, int], np.ndarray] = {}  # masks grown by one cell, per cell size
        for key, maps in on_frames.items():
            r = rows.setdefault(key, {**scores.new_record(), "sanity": {},
                                      "map_grid": "x".join(map(str, raw[key].shape[-2:]))})
            if masks is not None:
                if cells[key] not in grown:
                    grown[cells[key]] = scores.near(masks, cells[key])
                clip_scores = scores.explanation_scores(maps.numpy(), masks, s.inside, cells[key], grown[cells[key]])
                scores.add_scores(r, clip_scores, spatial=is_object)
        if s.sanity:
            for names, rnd in randomize_top_down(copy.deepcopy(model), order, seed=seed):
                _, raw_r, _, _ = _layer_maps(Explainer(rnd, spec, cache_size=len(layers)), clip, y, layers, methods, size)
                for key in raw:
                    rows[key]["sanity"].setdefault("+".join(names), []).append(spearman(raw[key], raw_r[key]))
        ex.clear()
    grid = [{"method": m.value, "layer": layer, "map_grid": r["map_grid"], **scores.summary(r),
             "sanity": scores.sanity_summary(r["sanity"])} for (m, layer), r in rows.items()]
    return {"model": spec.name, "split": split, "clips": n, "top1": correct / max(n, 1),
            "seconds": round(time.time() - t0, 1), "layers": list(layers), "grid": grid}


def layers_markdown(results: list[dict], command: str) -> str:
    lines = [
        SECTION, "",
        f"Regenerate: `{command}`", "",
        f"Held-out `{results[0]['split']}` split, {results[0]['clips']} clips, explaining the true class. Pointing "
        "and energy: object classes only; time mass: all classes. "
        f"`{FUSED}`: LayerCAM at {' and '.join(f'`{la}`' for la in results[0]['layers'])}, each scaled "
        "to [0, 1], tanh(2x), combined by element-wise max (Jiang et al., 2021; torch-cam's `fuse_cams`). "
        "Uniform baselines in parentheses, over the same frames (a frame whose map is zero everywhere is "
        "left out, so they differ a little between rows). Sanity: Spearman rank correlation of the map with the map of the "
        "model re-initialised top-down (layer resolution), after `fc` alone and after every layer; it must "
        "fall towards 0 (a map that ignores the weights keeps 1).", "",
        "| model (top-1) | method | layer | map | pointing | pointing, one cell | energy in mask | "
        "time mass | sanity: fc | sanity: all |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for g in res["grid"]:
            first, last = (g["sanity"][0], g["sanity"][-1]) if g["sanity"] else ({}, {})
            lines.append(
                f"| `{res['model']}` ({res['top1']:.1%}) | {Method(g['method']).label} | {g['layer']} | {g['map_grid']} "
                f"| {g['pointing_game']:.1%} ({g['pointing_game_uniform']:.1%}) "
                f"| {g['pointing_game_near']:.1%} ({g['pointing_game_near_uniform']:.1%}) "
                f"| {g['energy_in_mask']:.1%} ({g['energy_in_mask_uniform']:.1%}) "
                f"| {g['mass_in_interval']:.1%} ({g['mass_in_interval_uniform']:.1%}) "
                f"| {first.get('spearman_mean', float('nan')):.3f} | {last.get('spearman_mean', float('nan')):.3f} |")
    return "\n".join(lines) + "\n"


def split_report(report: str) -> tuple[str, str, str]:
    """(the generated report, its "Methods x layers" section, what follows that section).

    Everything from the section on (it and any hand-written sections after it) is not the
    generated report's: regenerating the report keeps it, and ``--grid`` replaces only the section.
    """
    head, sep, tail = report.partition(SECTION)
    if not sep:
        return report, "", ""
    cut = tail.find("\n## ")
    if cut < 0:
        return head, sep + tail, ""
    return head, sep + tail[:cut + 1], tail[cut + 1:]


def join_report(head: str, section: str, rest: str) -> str:
    parts = [p.strip("\n") for p in (head, section, rest) if p.strip()]
    return "\n\n".join(parts) + "\n"
