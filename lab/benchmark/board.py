"""From the clips' records to one model's leaderboard: intervals, real differences, the default.

A leaderboard is plain data: per row (a method at its layer), each figure of :data:`FIGURES` as
a mean over clips with its 95% bootstrap interval (:func:`lab.benchmark.stats.interval`), per
class for the headline figures, the row's cost, and for each headline figure the paired
bootstrap of every pair of rows (:func:`lab.benchmark.stats.paired`); then the default by
:func:`lab.benchmark.stats.default_rule`, which :func:`write_measured` writes where
``core/models/measured.json`` keeps it.

Motion or appearance (:mod:`core.trust.motion`): per row, ``motion_share`` (a figure like the
others) and its paired difference from the moving area (what a uniform map would get), with the
verdict counts of the row's clips; per model, the once-a-clip check's drops, verdicts and cost,
and per class the verdict on the median drops (as the audit judges a class). A record made before
the motion column has no ``motion_share`` and no ``motion``: it counts as *unrecorded*, never as 0.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np

from core.cam.settings import PERTURBATION_METHODS, Method
from core.trust.motion import APPEARANCE, BOTH, MOTION, NEITHER, motion_verdict

from . import stats
from .metrics.axiomatic import CLAIMS_COMPLETENESS

__all__ = ["FIGURES", "HEADLINE", "KINDS", "MAGNITUDE", "VERDICTS", "leaderboard", "write_measured"]

# (kind, figure, which way is better: "higher", "lower", or "" where neither is better by itself)
FIGURES = (
    ("localisation", "pointing", "higher"), ("localisation", "pointing_near", "higher"),
    ("localisation", "energy", "higher"), ("localisation", "rank_accuracy", "higher"),
    ("localisation", "top_iou", "higher"), ("localisation", "time_mass", "higher"),
    ("faithfulness", "deletion", "lower"), ("faithfulness", "insertion", "higher"),
    ("faithfulness", "road_morf", "lower"), ("faithfulness", "srg", "higher"),
    ("robustness", "noise", "lower"), ("robustness", "shift", "lower"),
    ("robustness", "reencode", "lower"), ("robustness", "flicker", "lower"),
    ("complexity", "gini_spatial", ""), ("complexity", "gini_temporal", ""),
    ("complexity", "entropy_spatial", ""), ("complexity", "entropy_temporal", ""),
    ("randomisation", "sanity_head", "lower"), ("randomisation", "sanity_top", "lower"),
    ("randomisation", "sanity_full", "lower"), ("randomisation", "random_logit", "lower"),
    ("randomisation", "emprt", "higher"),
    ("axiomatic", "completeness", "lower"),
    ("motion", "motion_share", ""),
)
# correlations judged by their size: a map that turns over after randomisation (rho -0.6) keeps as
# much of the trained map as one that stays (+0.6), and a signed mean lets clips of opposite sign
# cancel. Each clip's |rho| is the figure (the trust panel judges the same way,
# core.trust.verdicts.SANITY_RHO); the records keep the signed value.
MAGNITUDE = ("sanity_head", "sanity_top", "sanity_full", "random_logit")
KINDS = ("localisation", "faithfulness", "robustness", "complexity", "randomisation", "axiomatic")
# one figure per kind: broken down per class, and compared pair by pair
HEADLINE = ("pointing", "srg", "noise", "gini_spatial", "sanity_head", "completeness", "motion_share")
VERDICTS = (MOTION, APPEARANCE, BOTH, NEITHER)
_NO_COMPLETENESS = "does not apply: the method does not claim its map sums to the logit"


def leaderboard(records: list[dict], rows, *, spec, split: str, data: str, options, per_class, perturbation_per_class,
                resamples: int = stats.RESAMPLES) -> dict:
    """One model's leaderboard from its clips' ``records`` (see the module's docstring)."""
    ok = [r for r in records if "rows" in r]
    out_rows = []
    per_row_values: dict[str, dict[str, dict]] = {}
    for row in rows:
        mine = [r for r in ok if row.key in r["rows"]]
        values = {name: {r["index"]: _value(r["rows"][row.key], name) for r in mine} for _, name, _ in FIGURES}
        per_row_values[row.key] = values
        figures = {name: _figure(values[name], mine, row.key, name, resamples) for _, name, _ in FIGURES}
        if row.method not in CLAIMS_COMPLETENESS:
            figures["completeness"] = {**figures["completeness"], "applies": False, "why": _NO_COMPLETENESS}
        classes = {}
        for c, label in enumerate(spec.categories):
            of_c = [r for r in mine if r["target"] == c]
            if of_c:
                classes[label] = {name: stats.interval([values[name][r["index"]] for r in of_c], resamples=resamples)
                                  for name in HEADLINE[:2]}
        passes = [r["cost"][row.key]["passes"] for r in mine]
        seconds = [r["cost"][row.key]["seconds"] for r in mine]
        out_rows.append({
            "key": row.key, "method": row.method.value, "label": row.method.label, "layer": row.layer,
            "interactive": row.method not in PERTURBATION_METHODS, "clips": len(mine),
            "passes": int(np.median(passes)) if passes else 0,
            "seconds": stats.interval(seconds, resamples=resamples), "figures": figures, "per_class": classes,
            "motion": _moves(mine, values["motion_share"], resamples),
        })
    pairs = {}
    for name in HEADLINE:
        found = []
        for a, b in combinations([r["key"] for r in out_rows], 2):
            d = stats.paired(per_row_values[a][name], per_row_values[b][name], resamples=resamples)
            if d["n"]:
                found.append({"a": a, "b": b, **d})
        pairs[name] = found
    n = len(ok)
    timed = [r for r in ok if "cpu_seconds" in r]  # records from before clips were timed have none
    return {
        "model": spec.name, "split": split, "data": data, "clips": n, "layers": list(spec.layers),
        "top1": stats.interval([float(r["top1"]) for r in ok], resamples=resamples),
        "classes": sorted({r["label"] for r in ok}), "per_class": per_class,
        "perturbation_per_class": perturbation_per_class, "options": options.to_dict(),
        "rows": out_rows, "pairs": pairs, "default": stats.default_rule(out_rows), "magnitude": list(MAGNITUDE),
        "motion": _moves(ok, None, resamples, categories=spec.categories),
        # the run's cost: each timed clip's whole measurement
        "run": {"clip_seconds": round(sum(r["seconds"] for r in timed), 1),
                "cpu_seconds": round(sum(r["cpu_seconds"] for r in timed), 1),
                "timed_clips": len(timed), "threads": sorted({r.get("threads") for r in timed} - {None})},
    }


def _value(figures: dict, name: str):
    """A clip's figure as the board takes it: the size of a :data:`MAGNITUDE` correlation."""
    v = figures.get(name)
    return abs(v) if v is not None and name in MAGNITUDE else v


def _figure(values: dict, records: list[dict], key: str, name: str, resamples: int) -> dict:
    """The figure's interval, and how many of the row's clips have no value of it recorded at all
    (``unrecorded``: records made before the figure existed), where any have none."""
    f = stats.interval(list(values.values()), resamples=resamples)
    missing = sum(name not in r["rows"][key] for r in records)
    return {**f, "unrecorded": missing} if missing else f


def _moves(records: list[dict], shares: dict | None, resamples: int, categories=()) -> dict:
    """Motion or appearance over ``records`` (each clip's ``motion``, see :func:`measure._motion`):
    how many clips were checked and how many were not (older records), the verdict counts and how
    many were weak. For a row (``shares``: clip index -> its ``motion_share``): the paired
    difference share - moving area. For the model: the intervals of the drops, P(class), the
    moving area and the check's cost, and per class the verdict on the median drops."""
    checked = [r for r in records if r.get("motion")]
    counts = Counter(r["motion"]["verdict"] for r in checked)
    out = {"clips": len(checked), "unrecorded": len(records) - len(checked),
           "verdicts": {v: counts.get(v, 0) for v in VERDICTS}, "weak": sum(bool(r["motion"]["weak"]) for r in checked)}
    if shares is not None:
        area = {r["index"]: r["motion"]["area"] for r in checked}
        return {**out, "share_minus_area": stats.paired(shares, area, resamples=resamples)}
    for k in ("motion_drop", "appearance_drop", "prob", "area", "seconds"):
        out[k] = stats.interval([r["motion"][k] for r in checked], resamples=resamples)
    out["passes"] = int(np.median([r["motion"]["forward_passes"] for r in checked])) if checked else 0
    out["appearance_removal"] = sorted({r["motion"]["appearance_removal"] for r in checked})
    classes = {}
    for c, label in enumerate(categories):
        of_c = [r["motion"] for r in checked if r["target"] == c]
        if of_c:
            md, ad = (float(np.median([m[k] for m in of_c])) for k in ("motion_drop", "appearance_drop"))
            classes[label] = {"clips": len(of_c), "verdicts": {v: sum(m["verdict"] == v for m in of_c) for v in VERDICTS},
                              "motion_drop": md, "appearance_drop": ad, "verdict": motion_verdict(md, ad)}
    out["per_class"] = classes
    return out


def write_measured(board: dict, source: str, *, families: str | None = None, path: Path | None = None) -> dict:
    """Write the board's default (and each row's pointing) into ``core/models/measured.json``
    (or ``path``) through :func:`lab.evaluate.methods.record_default`, the one writer of that
    file, so the page, the CLI and the API take it and name ``source`` (the board's table: a
    path in the repository with its anchor); the rows of other layers an earlier table measured
    stay there under its name."""
    from ..evaluate.methods import record_default

    def mean(r, name):
        return r["figures"][name]["mean"]

    d = board["default"]
    res = {
        "model": board["model"], "split": board["split"], "clips": board["clips"], "data": board["data"],
        "layers": board.get("layers"), "default": {**d, "rule": d["rule"]},
        "rows": [{"method": r["method"], "layer": r["layer"], "pointing_game": mean(r, "pointing"),
                  "pointing_game_near": mean(r, "pointing_near"), "sanity_head": mean(r, "sanity_head")}
                 for r in board["rows"] if Method(r["method"]) and not math.isnan(mean(r, "pointing"))],
    }
    return record_default(res, families=families, path=path, source=source)
