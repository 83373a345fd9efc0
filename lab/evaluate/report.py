"""Evaluate a model and its explanations on a held-out split with ground truth.

    python -m core.evaluate --data /path/to/actions13 --split test --out docs/evaluation

Writes ``OUT.md`` (the report), ``OUT.json`` (every number) and ``OUT_confusion.png``:
top-1/top-2 accuracy and the confusion matrix (time-mirrored pairs called out); explanation
quality against the rendered masks and action intervals (pointing game, CAM energy inside the
mask, CAM mass inside the action's time interval), each next to a uniform-map baseline; and the
model-randomisation sanity check (Spearman correlation falling as layers are re-initialised).

    python -m core.evaluate --data /path/to/actions13 --split test --grid i3d_tiny i3d_tiny14 \
        --out docs/evaluation

``--grid`` instead scores every method of the Grad-CAM family at ``layer3``, ``layer4`` and
LayerCAM fused over both for each model named (:mod:`core.evaluate_layers`), writes
``OUT_layers.json``, and puts the table into ``OUT.md`` as its "Methods x layers" section,
leaving the rest of that report as it is (and vice versa).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .cam import explain
from .cam.settings import Method
from .data import CAMERA_CLASSES, MIRROR_PAIRS
from .data.ssv2 import DATASET_LIMITS, SSv2Dataset
from .models import add_model_arguments, load_model
from .trust import randomize_top_down, spearman
from .video import read_clip

__all__ = ["evaluate", "main"]



def _near(masks: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """(T, H, W) masks grown by ``cell`` (height, width) pixels each way: a rectangular dilation,
    done as two 1-D max-pools (the same result as one 2-D pool, at a fraction of its cost)."""
    ch, cw = cell
    x = torch.from_numpy(masks).float()[:, None]
    x = torch.nn.functional.max_pool2d(x, (2 * ch + 1, 1), stride=1, padding=(ch, 0))
    x = torch.nn.functional.max_pool2d(x, (1, 2 * cw + 1), stride=1, padding=(0, cw))
    return x[:, 0].numpy() > 0


def _explanation_scores(maps: np.ndarray, masks: np.ndarray, in_interval: np.ndarray,
                        cell: tuple[int, int], near: np.ndarray | None = None) -> dict:
    """Per clip: pointing game (exact, and within one layer cell of the mask, like Zhang et al.'s
    15-pixel tolerance), energy in mask, mass in interval, and the uniform-map baselines.
    ``cell``: the frame pixels (height, width) one cell of the CAM's layer covers; ``near``: the
    masks grown by it, when the caller already has them."""
    T = maps.shape[0]
    near = _near(masks, cell) if near is None else near
    hits, hits_near, energy, base_energy, base_near = [], [], [], [], []
    for t in range(T):
        m, g = maps[t], masks[t]
        if not g.any() or m.max() <= 0:
            continue
        peak = np.unravel_index(np.argmax(m), m.shape)
        hits.append(bool(g[peak]))
        hits_near.append(bool(near[t][peak]))
        energy.append(float(m[g].sum() / m.sum()))
        base_energy.append(float(g.mean()))  # a uniform map puts this share inside the mask
        base_near.append(float(near[t].mean()))  # ... and a random peak lands this near it this often
    mass = maps.reshape(T, -1).sum(1)
    return {
        "pointing": hits, "pointing_near": hits_near, "pointing_near_uniform": base_near,
        "energy": energy, "energy_uniform": base_energy,
        "interval_mass": float(mass[in_interval].sum() / max(mass.sum(), 1e-12)),
        "interval_uniform": float(in_interval.mean()),
    }


def evaluate(model, root: Path, split: str = "test", *, limit: int | None = None, sanity_clips: int = 26,
             method: str = "gradcam", seed: int = 0) -> dict:
    spec = model.spec
    ds = SSv2Dataset(root, split, classes=spec.categories)
    n = len(ds) if limit is None else min(limit, len(ds))
    cats = list(spec.categories)
    C = len(cats)
    confusion = np.zeros((C, C), dtype=int)
    top2_hits = 0
    per_class = {c: {"pointing": [], "pointing_near": [], "pointing_near_uniform": [], "energy": [],
                     "energy_uniform": [], "interval": [], "interval_uniform": []} for c in cats}
    sanity_rows: dict[str, list[float]] = {}
    rng = np.random.default_rng(seed)
    sanity_ids = set(rng.choice(n, size=min(sanity_clips, n), replace=False).tolist())
    t0 = time.time()
    for i in tqdm(range(n), desc=f"evaluate {split}"):
        y = ds.samples[i].target
        clip = read_clip(ds.video_path(i), spec, limits=DATASET_LIMITS)
        exp = explain(model, clip, y, method=method)
        pred = exp.probs.topk(2).indices.tolist()
        confusion[y, pred[0]] += 1
        top2_hits += y in pred
        gt = ds.ground_truth(i)
        if gt is not None:
            idx = np.asarray(clip.indices)
            masks = gt.masks[idx]
            maps = exp.maps_on_frames(tuple(masks.shape[1:]))[0].numpy()
            inside = (idx >= gt.interval[0]) & (idx <= gt.interval[1])
            _, _, box_h, box_w = exp.crop_box  # frame pixels the layer's grid covers
            cell = (max(1, round(box_h / exp.raw_maps.shape[-2])), max(1, round(box_w / exp.raw_maps.shape[-1])))
            s = _explanation_scores(maps, masks, inside, cell)
            rec = per_class[cats[y]]
            for k in ("pointing", "pointing_near", "pointing_near_uniform", "energy", "energy_uniform"):
                rec[k] += s[k]
            rec["interval"].append(s["interval_mass"])
            rec["interval_uniform"].append(s["interval_uniform"])
        if i in sanity_ids:
            order = ["fc", *reversed(spec.layers)]
            for names, rnd in randomize_top_down(copy.deepcopy(model), order, seed=seed):
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

    def mean(v):
        return float(np.mean(v)) if len(v) else float("nan")

    object_classes = [c for c in cats if c not in CAMERA_CLASSES]
    pooled = {k: [v for c in object_classes for v in per_class[c][k]] for k in per_class[cats[0]]}
    all_interval = [v for c in cats for v in per_class[c]["interval"]]
    all_interval_u = [v for c in cats for v in per_class[c]["interval_uniform"]]
    return {
        "split": split, "clips": n, "seconds": round(seconds, 1), "method": method,
        "top1": top1, "top2": top2_hits / max(n, 1),
        "confusion": confusion.tolist(), "categories": cats, "mirror_pairs": mirror,
        "explanations": {
            "object_classes": {
                "pointing_game": mean(pooled["pointing"]), "pointing_game_uniform": mean(pooled["energy_uniform"]),
                "pointing_game_near": mean(pooled["pointing_near"]),
                "pointing_game_near_uniform": mean(pooled["pointing_near_uniform"]),
                "energy_in_mask": mean(pooled["energy"]), "energy_in_mask_uniform": mean(pooled["energy_uniform"]),
            },
            "all_classes": {"mass_in_interval": mean(all_interval), "mass_in_interval_uniform": mean(all_interval_u)},
            "per_class": {c: {"pointing_game": mean(v["pointing"]), "pointing_game_near": mean(v["pointing_near"]),
                              "pointing_near_uniform": mean(v["pointing_near_uniform"]),
                              "energy_in_mask": mean(v["energy"]),
                              "energy_uniform": mean(v["energy_uniform"]), "mass_in_interval": mean(v["interval"]),
                              "interval_uniform": mean(v["interval_uniform"])} for c, v in per_class.items()},
        },
        "sanity": [{"randomized": k.split("+"), "spearman_mean": mean(v), "clips": len(v)} for k, v in sanity_rows.items()],
    }


def _confusion_png(result: dict, path: Path) -> None:
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


def _markdown(result: dict, command: str, model_name: str, png_name: str) -> str:
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset root (SSv2 layout with ground_truth/)")
    p.add_argument("--split", default="test")
    add_model_arguments(p)
    p.add_argument("--method", default=Method.GRADCAM.value, choices=[m.value for m in Method])
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N clips")
    p.add_argument("--sanity-clips", type=int, default=26)
    p.add_argument("--out", default="docs/evaluation", help="writes OUT.md, OUT.json, OUT_confusion.png")
    p.add_argument("--grid", nargs="+", default=None, metavar="NAME[=WEIGHTS]",
                   help="instead: every method at layer3, layer4 and LayerCAM fused, for these models (default "
                        "weights unless =WEIGHTS); writes OUT_layers.json and OUT.md's 'Methods x layers' section")
    a = p.parse_args(argv)
    from .evaluate_layers import (
        SECTION,
        evaluate_layers,
        join_report,
        layers_markdown,
        split_report,
    )

    torch.manual_seed(0)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m core.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
    report = out.with_suffix(".md")
    if a.grid:
        results = []
        for entry in a.grid:  # NAME, or NAME=WEIGHTS (e.g. i3d_tiny14=checkpoints/i3d_tiny.safetensors)
            name, _, weights = entry.partition("=")
            res = evaluate_layers(load_model(name, weights=weights or "default"), Path(a.data), a.split,
                                  limit=a.limit, sanity_clips=a.sanity_clips)
            results.append({**res, "model": entry})
        out.with_name(out.name + "_layers.json").write_text(json.dumps(results, indent=1) + "\n")
        section = layers_markdown(results, command)
        head, _, rest = split_report(report.read_text() if report.is_file() else "")
        report.write_text(join_report(head, section, rest))
        for r in results:
            print(f"{r['model']}: top-1 {r['top1']:.1%} -> {report} ({SECTION[3:]})")
        return 0
    model = load_model(a.model, weights=a.weights)
    result = evaluate(model, Path(a.data), a.split, limit=a.limit, sanity_clips=a.sanity_clips, method=a.method)
    png = out.with_name(out.name + "_confusion.png")
    _confusion_png(result, png)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    _, section, rest = split_report(report.read_text()) if report.is_file() else ("", "", "")
    report.write_text(join_report(_markdown(result, command, a.model, png.name), section, rest))  # keeps --grid's
    print(f"top-1 {result['top1']:.1%}  top-2 {result['top2']:.1%}  -> {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
