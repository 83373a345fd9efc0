"""Evaluate a model and its explanations on a held-out split with ground truth.

:func:`evaluate` gives top-1/top-2 accuracy and the confusion matrix (time-mirrored pairs called
out); explanation quality against the rendered masks and action intervals (pointing game, CAM
energy inside the mask, CAM mass inside the action's time interval), each next to a uniform-map
baseline; and the model-randomisation sanity check (Spearman correlation falling as layers are
re-initialised). :func:`markdown` and :func:`confusion_png` write them up
(``python -m lab.evaluate``, :mod:`lab.evaluate.__main__`).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np

from core.cam import explain
from core.trust import randomize_top_down, sanity_order, spearman

from ..data import CAMERA_CLASSES, MIRROR_PAIRS
from . import scores

__all__ = ["confusion_png", "evaluate", "markdown"]

# the names of a record's means in the report's per-class table (as the reports have always written them)
_PER_CLASS = {"pointing_game": "pointing", "pointing_game_near": "pointing_near",
              "pointing_near_uniform": "pointing_near_uniform", "energy_in_mask": "energy",
              "energy_uniform": "energy_uniform", "mass_in_interval": "interval", "interval_uniform": "interval_uniform"}


def evaluate(model, root: Path, split: str = "test", *, limit: int | None = None, sanity_clips: int = 26,
             method: str = "gradcam", seed: int = 0) -> dict:
    spec = model.spec
    n, samples = scores.held_out(spec, root, split, limit=limit, sanity_clips=sanity_clips, seed=seed,
                                 desc=f"evaluate {split}")
    cats = list(spec.categories)
    C = len(cats)
    confusion = np.zeros((C, C), dtype=int)
    top2_hits = 0
    per_class = {c: scores.new_record() for c in cats}
    sanity_rows: dict[str, list[float]] = {}
    t0 = time.time()
    for s in samples:
        y, clip = s.target, s.clip
        exp = explain(model, clip, y, method=method)
        pred = exp.probs.topk(2).indices.tolist()
        confusion[y, pred[0]] += 1
        top2_hits += y in pred
        if s.masks is not None:
            maps = exp.maps_on_frames(tuple(s.masks.shape[1:]))[0].numpy()
            clip_scores = scores.explanation_scores(maps, s.masks, s.inside, scores.cam_cell(exp))
            scores.add_scores(per_class[cats[y]], clip_scores)
        if s.sanity:
            for names, rnd in randomize_top_down(copy.deepcopy(model), sanity_order(model, spec), seed=seed):
                r = explain(rnd, clip, y, method=method)
                sanity_rows.setdefault("+".join(names), []).append(spearman(exp.raw_maps[0], r.raw_maps[0]))
    seconds = time.time() - t0
    top1 = float(np.trace(confusion) / max(confusion.sum(), 1))
    mirror = []
    for a, b in MIRROR_PAIRS:
        if a in cats and b in cats:
            ia, ib = cats.index(a), cats.index(b)
            mirror.append({"pair": [a, b], "a_as_b": int(confusion[ia, ib]), "b_as_a": int(confusion[ib, ia]),
                           "a_total": int(confusion[ia].sum()), "b_total": int(confusion[ib].sum())})

    object_classes = [c for c in cats if c not in CAMERA_CLASSES]
    pooled = scores.summary({k: [v for c in (object_classes if k in scores.SPATIAL_KEYS else cats)
                                 for v in per_class[c][k]] for k in scores.new_record()})  # time mass: every class
    return {
        "split": split, "clips": n, "seconds": round(seconds, 1), "method": method,
        "top1": top1, "top2": top2_hits / max(n, 1),
        "confusion": confusion.tolist(), "categories": cats, "mirror_pairs": mirror,
        "explanations": {
            "object_classes": {k: v for k, v in pooled.items() if not k.startswith("mass_in_interval")},
            "all_classes": {k: v for k, v in pooled.items() if k.startswith("mass_in_interval")},
            "per_class": {c: {name: scores.mean(v[k]) for name, k in _PER_CLASS.items()} for c, v in per_class.items()},
        },
        "sanity": scores.sanity_summary(sanity_rows),
    }


def confusion_png(result: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    cm = np.asarray(result["confusion"], dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    cats = [c.replace(" [something]", " [sth]") for c in result["categories"]]
    fig = Figure(figsize=(9, 8), dpi=110)
    ax = fig.add_subplot()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cats)), cats, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(cats)), cats, fontsize=7)
    for i in range(len(cats)):
        for j in range(len(cats)):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{result['split']} split: top-1 {result['top1']:.1%}, {result['clips']} clips")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path)


def markdown(result: dict, command: str, model_name: str, png_name: str) -> str:
    e = result["explanations"]
    o, a = e["object_classes"], e["all_classes"]
    lines = [
        f"# Evaluation of `{model_name}`", "",
        f"Regenerate: `{command}`", "",
        f"Held-out `{result['split']}` split, {result['clips']} clips, method `{result['method']}` at the default layer "
        f"({result['seconds']:.0f} s on this machine).", "",
        "## Accuracy", "",
        "| top-1 | top-2 |", "|---|---|", f"| {result['top1']:.1%} | {result['top2']:.1%} |", "",
        f"![confusion matrix]({png_name})", "",
        "Time-mirrored pairs (a model that ignores temporal order cannot tell these apart):", "",
        "| pair | A predicted as B | B predicted as A |", "|---|---|---|",
    ]
    for m in result["mirror_pairs"]:
        lines.append(f"| {m['pair'][0]} / {m['pair'][1]} | {m['a_as_b']} of {m['a_total']} | {m['b_as_a']} of {m['b_total']} |")
    lines += [
        "", "## Explanations against the ground truth", "",
        "Explaining the true class. Object classes only for the spatial scores (the camera classes move "
        "the whole frame). The uniform baseline is a map that is the same everywhere.", "",
        "| score | Grad-CAM | uniform map |", "|---|---|---|",
        f"| pointing game (per frame: is the CAM peak inside the object's mask?) | {o['pointing_game']:.1%} | {o['pointing_game_uniform']:.1%} |",
        f"| pointing game within one CAM cell of the mask (the layer's resolution; cf. Zhang et al.'s 15 px) "
        f"| {o['pointing_game_near']:.1%} | {o['pointing_game_near_uniform']:.1%} |",
        f"| CAM energy inside the mask | {o['energy_in_mask']:.1%} | {o['energy_in_mask_uniform']:.1%} |",
        f"| CAM mass inside the action's time interval (all classes) | {a['mass_in_interval']:.1%} | {a['mass_in_interval_uniform']:.1%} |",
        "", "Per class:", "",
        "| class | pointing | pointing, one cell (uniform) | energy in mask (uniform) | mass in interval (uniform) |",
        "|---|---|---|---|---|",
    ]
    for c, v in e["per_class"].items():
        lines.append(f"| {c} | {v['pointing_game']:.1%} | {v['pointing_game_near']:.1%} ({v['pointing_near_uniform']:.1%}) "
                     f"| {v['energy_in_mask']:.1%} ({v['energy_uniform']:.1%}) | "
                     f"{v['mass_in_interval']:.1%} ({v['interval_uniform']:.1%}) |")
    lines += [
        "", "## Sanity check (Adebayo et al., 2018)", "",
        "Layers re-initialised top-down, cumulatively; Spearman rank correlation of the CAM with the trained "
        "model's (layer resolution, mean over clips). It must fall.", "",
        "| randomised | Spearman |", "|---|---|",
    ]
    for s in result["sanity"]:
        lines.append(f"| {' + '.join(s['randomized'])} | {s['spearman_mean']:.3f} ({s['clips']} clips) |")
    return "\n".join(lines) + "\n"
