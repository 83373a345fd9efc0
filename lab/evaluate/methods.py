"""Which map can I trust on which architecture: every method that applies to a model, measured.

``python -m lab.evaluate --methods NAME ... --data ROOT --split test`` (see
:mod:`lab.evaluate.__main__`) runs :func:`evaluate_methods` for each model and writes the
"Methods x architectures" section of the report and ``OUT_methods.json``. Rows: the Grad-CAM
family (Grad-CAM, Grad-CAM++, HiResCAM, LayerCAM) at every layer the model offers, LayerCAM fused
over its last two layers, and ``rollout``, ``relevance``, ``occlusion`` and ``rise`` where they
apply (:func:`core.cam.registry.methods_for`). Per row, on the clips of the split, explaining the
true class:

- pointing (the map's peak on the object's mask; within one cell of the map's own grid), energy
  in the mask, mass inside the action's interval, each with its uniform-map baseline;
- deletion AUC: the class probability as the map's most important cells are replaced by the
  clip's temporal mean (6 steps), against the same with the cells in random order (lower is
  more faithful);
- the sanity check: the Spearman rank correlation of the map with the map after re-initialising
  the classifier head, and after the head and the top block (the default rule below wants it low);
- cost: forward passes and seconds per clip on this machine (uncached; the Grad-CAM family's
  gradients come from one forward and one backward pass).

:func:`best_default` applies the stated rule to pick a family's default method and layer.

Length: the methods table from measurement to markdown, and the default rule that reads it.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from core.attribution import Baseline, Perturbation
from core.cam import Explainer
from core.cam.registry import methods_for
from core.cam.settings import ATTENTION_METHODS, Method
from core.models.measured import MEASURED_FILE, TABLE_LINK
from core.trust import randomize_top_down, sanity_order, spearman

from ..data import CAMERA_CLASSES
from . import scores
from .grid import FUSED, GRID_METHODS, fuse

__all__ = ["METHODS_SECTION", "SANITY_MAX", "best_default", "evaluate_methods", "methods_markdown", "record_default",
           "replace_section", "rows_for"]

METHODS_SECTION = "## Methods x architectures"
# The default rule (best_default): among the interactive rows whose sanity correlation after
# re-initialising the head is at most this (a map that ignores what the model learned keeps ~1),
# the highest exact pointing; ties go to the cheaper row.
SANITY_MAX = 0.3
PERTURBATION = (Method.OCCLUSION, Method.RISE)
_DELETION_STEPS = 6


def rows_for(spec, *, perturbation: bool = True) -> list[tuple[Method, str | None]]:
    """(method, layer) rows that apply to a model: the Grad-CAM family at every offered layer,
    LayerCAM fused over the last two, then the layer-free methods that apply (layer None)."""
    rows: list[tuple[Method, str | None]] = [(m, layer) for layer in spec.layers for m in GRID_METHODS]
    if len(spec.layers) >= 2:
        rows.append((Method.LAYERCAM, FUSED))
    for m in methods_for(spec):
        if m in ATTENTION_METHODS or (perturbation and m in PERTURBATION):
            rows.append((m, None))
    return rows


def _key(method: Method, layer: str | None) -> str:
    return f"{method.value}@{layer}" if layer else method.value


def _cell(e, method: Method, params: Perturbation) -> tuple[int, int]:
    """Frame pixels of one cell of the map's grid; for RISE, of one mask cell (its map is per pixel
    but only as sharp as its masks)."""
    if method != Method.RISE:
        return scores.cam_cell(e)
    _, _, box_h, box_w = e.crop_box
    h, w = e.raw_maps.shape[-2:]
    return max(1, round(box_h * params.window[1] / h)), max(1, round(box_w * params.window[2] / w))


def _explain_all(ex: Explainer, clip, y: int, rows, size, params: Perturbation, *, with_perturbation: bool,
                 fused_layers, timed: dict | None) -> tuple[dict[str, tuple], torch.Tensor]:
    """(per row key: (maps on frames (T, H, W), raw map, map cell in frame pixels, forward passes
    (None when the forward pass was cached)), the clip's class probabilities). ``timed``: a dict to
    put each row's seconds in, the cache cleared before each row."""
    out, probs = {}, None
    for method, layer in rows:
        if layer == FUSED or (method in PERTURBATION and not with_perturbation):
            continue
        if timed is not None:
            ex.clear()
        t0 = time.perf_counter()
        kwargs = {"perturbation": params} if method in PERTURBATION else {}
        e = ex.explain(clip, y, method=method, layer=layer, **kwargs)
        if timed is not None:
            timed[_key(method, layer)] = time.perf_counter() - t0
        passes = None if e.cached_forward else e.method_info.get("forward_passes", 1)
        out[_key(method, layer)] = (e.maps_on_frames(size)[0], e.raw_maps[0], _cell(e, method, params), passes)
        probs = e.probs
    if fused_layers:
        parts = [out[_key(Method.LAYERCAM, la)] for la in fused_layers]
        cell = min((p[2] for p in parts), key=lambda c: c[0] * c[1])
        out[_key(Method.LAYERCAM, FUSED)] = (fuse([p[0] for p in parts]), fuse([p[1] for p in parts]), cell,
                                             None if timed is None else len(fused_layers))
        if timed is not None:
            timed[_key(Method.LAYERCAM, FUSED)] = sum(timed[_key(Method.LAYERCAM, la)] for la in fused_layers)
    return out, probs


def _deletion(ex: Explainer, x: torch.Tensor, y: int, raws: dict[str, torch.Tensor], seed: int) -> dict[str, tuple]:
    """Per row key: (deletion AUC with the map's cells in order, the same in random order). The
    untouched and fully removed clips and each grid's random order are scored once for all rows."""
    T, H, W = x.shape[2:]
    base = x.mean(2, keepdim=True).expand_as(x)
    fractions = torch.linspace(0, 1, _DELETION_STEPS + 1)[1:-1].tolist()
    clips, keys = [x, base], [("", "full", 0.0), ("", "empty", 1.0)]
    cell_maps: dict = {}
    for key, raw in raws.items():
        grid = tuple(raw.shape)
        if grid not in cell_maps:
            ids = torch.arange(raw.numel(), dtype=torch.float32).view(1, 1, *grid)
            voxel = torch.nn.functional.interpolate(ids, size=(T, H, W), mode="nearest")[0, 0].long()
            g = torch.Generator().manual_seed(seed)
            cell_maps[grid] = (voxel, torch.randperm(raw.numel(), generator=g))
            _add_curve(clips, keys, x, base, voxel, cell_maps[grid][1], fractions, f"random{grid}")
        _add_curve(clips, keys, x, base, cell_maps[grid][0], raw.flatten().argsort(descending=True), fractions, key)
    probs = ex.predict(torch.cat(clips))[:, y].tolist()
    curves: dict[str, list] = defaultdict(list)
    full = empty = 0.0
    for (key, kind, f), p in zip(keys, probs, strict=True):
        if kind == "full":
            full = p
        elif kind == "empty":
            empty = p
        else:
            curves[key].append((f, p))

    def auc(pts):
        f = torch.tensor([0.0, *[a for a, _ in pts], 1.0])
        p = torch.tensor([full, *[b for _, b in pts], empty])
        return float(torch.trapezoid(p, f))

    return {key: (auc(curves[key]), auc(curves[f"random{tuple(raw.shape)}"])) for key, raw in raws.items()}


def _add_curve(clips, keys, x, base, voxel, order, fractions, key) -> None:
    rank = torch.empty(order.numel(), dtype=torch.long)
    rank[order] = torch.arange(order.numel())
    for f in fractions:
        gone = (rank[voxel] < round(f * order.numel())).view(1, 1, *x.shape[2:])
        clips.append(torch.where(gone, base, x))
        keys.append((key, "step", f))


def evaluate_methods(model, root: Path, split: str = "test", *, per_class: int | None = 3, checks_per_class: int = 1,
                     perturbation_sanity_clips: int = 3, masks: int = 250, timing_clips: int = 3,
                     limit: int | None = None, seed: int = 0) -> dict:
    """Every applicable method's scores on ``split`` of ``root``.

    Subsampling, to fit 2 CPU cores: the first ``per_class`` clips of each class (None: all) for
    the scores against ground truth; the first ``checks_per_class`` of them for the deletion
    curves, the sanity check and the perturbation methods (whose sanity check runs on the first
    ``perturbation_sanity_clips`` clips only); seconds are timed, uncached, on the first
    ``timing_clips`` clips. RISE uses ``masks`` masks. ``limit``: only the split's first clips.
    """
    spec = model.spec
    rows = rows_for(spec)
    fused_layers = tuple(spec.layers[-2:]) if (Method.LAYERCAM, FUSED) in rows else ()
    params = Perturbation(masks=masks, seed=seed)
    _, samples = scores.held_out(spec, root, split, limit=limit, sanity_clips=0, seed=seed,
                                 desc=f"methods {spec.name} {split}", per_class=per_class)
    ex = Explainer(model, spec, cache_size=len(spec.layers))
    order = sanity_order(model, spec)[:2]  # the head, then the top block
    seen: dict[int, int] = defaultdict(int)
    rec: dict[str, dict] = {_key(m, la): {**scores.new_record(), "deletion": [], "deletion_random": [],
                                          "sanity_head": [], "sanity_top": [], "seconds": [], "passes": [],
                                          "clips": 0} for m, la in rows}
    grids: dict[str, str] = {}
    correct = n = checked = 0
    t0 = time.time()
    for s in samples:
        y = s.target
        k = seen[y]  # held_out gives only the first per_class clips of each class
        seen[y] += 1
        n += 1
        check = k < checks_per_class
        checked += check
        clip, masks_gt = s.clip, s.masks
        size = tuple(masks_gt.shape[1:]) if masks_gt is not None else tuple(clip.frames.shape[1:3])
        timed: dict | None = {} if n <= timing_clips else None
        got, probs = _explain_all(ex, clip, y, rows, size, params, with_perturbation=check,
                                  fused_layers=fused_layers, timed=timed)
        correct += int(probs.argmax()) == y
        is_object = spec.categories[y] not in CAMERA_CLASSES
        grown: dict = {}
        for key, (on_frames, raw, cell, passes) in got.items():
            r = rec[key]
            r["clips"] += 1
            grids[key] = "x".join(map(str, raw.shape))
            if passes is not None:
                r["passes"].append(passes)
            if timed is not None and key in timed:
                r["seconds"].append(timed[key])
            if masks_gt is not None:
                if cell not in grown:
                    grown[cell] = scores.near(masks_gt, cell)
                scores.add_scores(r, scores.explanation_scores(on_frames.numpy(), masks_gt, s.inside, cell, grown[cell]),
                                  spatial=is_object)
        if check:
            for key, (auc, auc_random) in _deletion(ex, ex.model_input(clip), y, {k_: v[1] for k_, v in got.items()},
                                                    seed).items():
                rec[key]["deletion"].append(auc)
                rec[key]["deletion_random"].append(auc_random)
            scratch = ex.copy_model()
            for depth, (_, rnd) in enumerate(randomize_top_down(scratch, order, seed=seed)):
                rgot, _ = _explain_all(Explainer(rnd, spec, cache_size=len(spec.layers)), clip, y, rows, size, params,
                                       with_perturbation=checked <= perturbation_sanity_clips,
                                       fused_layers=fused_layers, timed=None)
                for key, (_, raw_r, *_rest) in rgot.items():
                    rec[key]["sanity_head" if depth == 0 else "sanity_top"].append(spearman(got[key][1], raw_r))
            del scratch
        ex.clear()
    out_rows = []
    for method, layer in rows:
        key = _key(method, layer)
        r = rec[key]
        out_rows.append({
            "method": method.value, "layer": layer, "map_grid": grids.get(key, ""), "clips": r["clips"],
            **scores.summary(r),
            "deletion_auc": scores.mean(r["deletion"]), "deletion_auc_random": scores.mean(r["deletion_random"]),
            "deletion_clips": len(r["deletion"]),
            "sanity_head": scores.mean(r["sanity_head"]), "sanity_top": scores.mean(r["sanity_top"]),
            "sanity_clips": len(r["sanity_head"]), "sanity_randomized": order,
            "forward_passes": int(np.median(r["passes"])) if r["passes"] else 0,
            "seconds": float(np.median(r["seconds"])) if r["seconds"] else float("nan"),
        })
    return {"model": spec.name, "split": split, "clips": n, "top1": correct / max(n, 1),
            "perturbation": {"masks": masks, "window": list(params.window), "stride": list(params.stride),
                             "baseline": Baseline(params.baseline).value},
            "per_class": per_class, "checks_per_class": checks_per_class, "layers": list(spec.layers),
            "perturbation_sanity_clips": perturbation_sanity_clips, "deletion_steps": _DELETION_STEPS,
            "seconds_total": round(time.time() - t0, 1), "threads": torch.get_num_threads(), "rows": out_rows,
            "default": best_default(out_rows, spec)}


def best_default(rows: list[dict], spec=None) -> dict:
    """The rule: among the interactive rows (not ``occlusion`` or ``rise``, whose hundreds of
    forward passes a default must not cost) whose sanity correlation after re-initialising the
    head is at most :data:`SANITY_MAX` (rows without a sanity number are not eligible), the
    highest exact pointing (the map's peak on the object's mask, in frame pixels: the same test
    whatever the map's grid, where "within one cell" is a wider target for a coarser map); ties
    within 0.5 points go to the fewer forward passes, then to the row listed first
    (:func:`rows_for`: Grad-CAM before its variants). Falls back to the spec's default layer with
    Grad-CAM when no row qualifies."""
    ok = [r for r in rows if not math.isnan(r["sanity_head"]) and r["sanity_head"] <= SANITY_MAX
          and not math.isnan(r["pointing_game"]) and Method(r["method"]) not in PERTURBATION]
    if not ok:
        layer = spec.default_layer if spec is not None else None
        return {"method": Method.GRADCAM.value, "layer": layer, "rule": "no row passed the sanity bar"}
    top = max(r["pointing_game"] for r in ok)
    near_top = [r for r in ok if r["pointing_game"] >= top - 0.005]
    best = min(near_top, key=lambda r: r["forward_passes"])  # then the first in row order: Grad-CAM first
    return {"method": best["method"], "layer": best["layer"], "pointing_game": best["pointing_game"],
            "pointing_game_near": best["pointing_game_near"], "sanity_head": best["sanity_head"],
            "rule": f"highest exact pointing among interactive rows with sanity (head) <= {SANITY_MAX}"}


def record_default(res: dict, *, families: str | None = None, path: Path | None = None,
                   source: str = TABLE_LINK, keep_other_default: bool = False) -> dict:
    """Write a model's measured default (from its test-split result ``res``, the table at
    ``source``: a path in the repository with its anchor) into ``core/models/measured.json``,
    which sets the default method and layer of the page, the CLI and the API
    (:mod:`core.models.measured`); ``families``: the Hugging Face family whose other models take
    this one's method. Rows that a record from another table measured and ``res`` does not (other
    layers) are kept under ``earlier``, with that table's name. ``keep_other_default``: where the
    model's record comes from another table, keep its default and add ``res``'s rows under
    ``earlier`` (what ``lab.evaluate`` does once the benchmark, whose rule weighs intervals, has
    set it). Returns the record."""
    path = path or MEASURED_FILE
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.setdefault("models", {})
    data.setdefault("families", {})
    for old in data["models"].values():  # the file's rule and table, from before each record named its own
        old.setdefault("rule", data.get("rule"))
        old.setdefault("source", data.get("source", TABLE_LINK))
    data.pop("rule", None)
    data.pop("source", None)
    d = res["default"]
    rows = {_key(Method(r["method"]), r["layer"]): [round(r["pointing_game"], 4), round(r["pointing_game_near"], 4),
                                                     None if math.isnan(r.get("sanity_head", math.nan))
                                                     else round(r["sanity_head"], 3)]
            for r in res["rows"] if not math.isnan(r["pointing_game"])}
    old = data["models"].get(res["model"])
    if keep_other_default and old is not None and old["source"] != source:
        rec = {**old, "earlier": _earlier({**res, "rows": rows, "source": source}, old["source"], set(old["rows"]))
               + [e for e in old.get("earlier", []) if e["source"] != source]}
    else:
        cam_family = {m.value for m in GRID_METHODS}
        measured_layers = [r["layer"] for r in res["rows"] if r["method"] == Method.GRADCAM.value]
        layer = d.get("layer") if d["method"] in cam_family else None
        rec = {
            "method": d["method"], "layer": layer,
            # every layer of the model, in order (a family stand-in's layer is placed by its position from the end)
            "layers": list(res.get("layers") or measured_layers),
            "gradcam_layer": layer if layer in measured_layers else (measured_layers[-1] if measured_layers else None),
            # per row: exact pointing, pointing within one cell, sanity after re-initialising the head
            "rows": rows,
            "sanity_max": SANITY_MAX,
            "split": res["split"], "clips": res["clips"], "data": res.get("data"),
            "rule": d["rule"], "source": source,
        }
        rec["earlier"] = _earlier(old, source, set(rows)) if old is not None else []
    if not rec["earlier"]:
        rec.pop("earlier", None)
    data["models"][res["model"]] = rec
    if families:
        data["families"][families] = res["model"]
    path.write_text(json.dumps(data, indent=1) + "\n")
    return rec


def _earlier(old: dict, source: str, measured_now: set[str]) -> list[dict]:
    """The rows of ``old`` (a record or a result, with its own earlier tables) from tables other
    than ``source`` that are not in ``measured_now``, one entry a table."""
    tables = [{**{k: old.get(k) for k in ("split", "clips", "data")}, "source": old.get("source", TABLE_LINK),
               "rows": old.get("rows", {})}, *old.get("earlier", [])]
    out = []
    for t in tables:
        rows = {k: v for k, v in t["rows"].items() if k not in measured_now}
        if t["source"] != source and rows:
            out.append({**t, "rows": rows})
            measured_now = measured_now | set(rows)
    return out


def _pct(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1%}"


def _num(v: float, fmt: str = ".3f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def methods_markdown(results: list[dict], command: str) -> str:
    """The report section: one table per (model, split), and each model's default by the rule."""
    first = results[0]
    lines = [
        METHODS_SECTION, "",
        f"Regenerate: `{command}`", "",
        f"Explaining the true class on the first {first['per_class']} clips of each class of each split, "
        f"subsampled to fit 2 CPU cores: deletion, the sanity check, `occlusion` and `rise` on the first "
        f"{first['checks_per_class']} per class (the perturbation methods' sanity check on the first "
        f"{first['perturbation_sanity_clips']} clips only). `occlusion`: window "
        f"{'x'.join(map(str, first['perturbation']['window']))} (frames x pixels), blurred baseline; `rise`: "
        f"{first['perturbation']['masks']} masks, pointing within one cell meaning within one mask cell. "
        "Pointing (exact / within one cell of the map's own grid) and "
        "energy: object classes only, uniform-map baselines in parentheses; time mass: all classes. Deletion AUC: "
        "class probability as the map's most important cells are replaced by the clip's temporal mean, over "
        f"{first['deletion_steps']} steps (random cell order in parentheses; lower is more faithful). Sanity: Spearman "
        "correlation of the map with the map after re-initialising the head, and the head and top block "
        "(near 0 is right; a map that ignores the weights stays near 1). Cost: forward passes and seconds "
        "per clip, uncached, on this machine's 2 cores (timed on each run's first clips, with whatever else "
        "the machine ran at the time: compare them within a table). \"does not apply\": rollout and relevance read "
        "attention, which a 3D CNN has none of.", "",
        f"**Default rule** (what the page, the CLI and the API use when no method is given, written to "
        f"`core/models/measured.json`, until the benchmark's rule, which weighs each row's interval, replaces it: "
        f"[benchmark_metrics.md](benchmark_metrics.md#statistics); the rows of layers the benchmark did not run "
        f"stay quoted from this table): among the interactive rows (not `occlusion` or `rise`, whose hundreds of "
        f"forward passes a default must not cost) whose sanity correlation after re-initialising the head is "
        f"<= {SANITY_MAX}, the highest exact pointing (the peak on the object itself, in frame pixels, the same "
        "test for every grid; \"within one cell\" is a wider target for a coarser map, so it does not rank "
        "layers); near-ties (0.5 points) go to the fewer forward passes, then to the row listed first.", "",
    ]
    for res in results:
        where = f"`{Path(res['data']).name}`, {res['split']} split" if res.get("data") else f"{res['split']} split"
        lines += [f"### `{res['model']}` on {where} ({res['clips']} clips, top-1 {res['top1']:.1%})", "",
                  "| method | layer | map | pointing | pointing, one cell | energy in mask | time mass | "
                  "deletion AUC | sanity: head | sanity: +top block | passes | seconds |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for g in res["rows"]:
            lines.append(
                f"| {Method(g['method']).label} | {g['layer'] or '-'} | {g['map_grid']} "
                f"| {_pct(g['pointing_game'])} ({_pct(g['pointing_game_uniform'])}) "
                f"| {_pct(g['pointing_game_near'])} ({_pct(g['pointing_game_near_uniform'])}) "
                f"| {_pct(g['energy_in_mask'])} ({_pct(g['energy_in_mask_uniform'])}) "
                f"| {_pct(g['mass_in_interval'])} ({_pct(g['mass_in_interval_uniform'])}) "
                f"| {_num(g['deletion_auc'])} ({_num(g['deletion_auc_random'])}) "
                f"| {_num(g['sanity_head'])} | {_num(g['sanity_top'])} | {g['forward_passes']} | {_num(g['seconds'], '.2f')} |")
        applies = {r["method"] for r in res["rows"]}
        missing = [m.value for m in ATTENTION_METHODS if m.value not in applies]
        if missing:
            lines.append(f"| {', '.join(missing)} | does not apply: no attention in a 3D CNN | | | | | | | | | | |")
        d = res["default"]
        lines += ["", f"Default by the rule: **{d['method']}**" + (f" at `{d['layer']}`" if d.get("layer") else "")
                  + (f" (pointing {d['pointing_game']:.1%}, within one cell {d['pointing_game_near']:.1%}, "
                     f"sanity {d['sanity_head']:.3f})"
                     if "pointing_game_near" in d else f" ({d['rule']})"), ""]
    return "\n".join(lines) + "\n"


def replace_section(report: str, section: str) -> str:
    """``report`` with its :data:`METHODS_SECTION` (up to the next ``## `` heading) replaced by
    ``section``, or with ``section`` appended."""
    head, sep, tail = report.partition(METHODS_SECTION)
    if not sep:
        return report.rstrip("\n") + "\n\n" + section if report.strip() else section
    cut = tail.find("\n## ")
    rest = "" if cut < 0 else tail[cut + 1:]
    return head + section + ("\n" + rest if rest else "")
