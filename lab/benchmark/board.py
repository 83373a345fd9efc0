"""From the clips' records to one model's leaderboard: intervals, real differences, the default.

A leaderboard is plain data: per row (a method at its layer), each figure of :data:`FIGURES` as
a mean over clips with its 95% bootstrap interval (:func:`lab.benchmark.stats.interval`), per
class for the headline figures, the row's cost, and for each headline figure the paired
bootstrap of every pair of rows (:func:`lab.benchmark.stats.paired`); then the default by
:func:`lab.benchmark.stats.default_rule`, which :func:`write_measured` writes where
``core/models/measured.json`` keeps it.
"""

from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path

import numpy as np

from core.cam.settings import PERTURBATION_METHODS, Method

from . import stats
from .metrics.axiomatic import CLAIMS_COMPLETENESS

__all__ = ["FIGURES", "HEADLINE", "KINDS", "leaderboard", "write_measured"]

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
)
KINDS = ("localisation", "faithfulness", "robustness", "complexity", "randomisation", "axiomatic")
# one figure per kind: broken down per class, and compared pair by pair
HEADLINE = ("pointing", "srg", "noise", "gini_spatial", "sanity_head", "completeness")
_NO_COMPLETENESS = "does not apply: the method does not claim its map sums to the logit"


def leaderboard(records: list[dict], rows, *, spec, split: str, data: str, options, per_class, perturbation_per_class,
                resamples: int = stats.RESAMPLES) -> dict:
    """One model's leaderboard from its clips' ``records`` (see the module's docstring)."""
    ok = [r for r in records if "rows" in r]
    out_rows = []
    per_row_values: dict[str, dict[str, dict]] = {}
    for row in rows:
        mine = [r for r in ok if row.key in r["rows"]]
        values = {name: {r["index"]: r["rows"][row.key].get(name) for r in mine} for _, name, _ in FIGURES}
        per_row_values[row.key] = values
        figures = {name: stats.interval(list(values[name].values()), resamples=resamples) for _, name, _ in FIGURES}
        if row.method not in CLAIMS_COMPLETENESS:
            figures["completeness"] = {**figures["completeness"], "applies": False, "why": _NO_COMPLETENESS}
        classes = {}
        for c, label in enumerate(spec.categories):
            of_c = [r for r in mine if r["target"] == c]
            if of_c:
                classes[label] = {name: stats.interval([r["rows"][row.key].get(name) for r in of_c], resamples=resamples)
                                  for name in HEADLINE[:2]}
        passes = [r["cost"][row.key]["passes"] for r in mine]
        seconds = [r["cost"][row.key]["seconds"] for r in mine]
        out_rows.append({
            "key": row.key, "method": row.method.value, "label": row.method.label, "layer": row.layer,
            "interactive": row.method not in PERTURBATION_METHODS, "clips": len(mine),
            "passes": int(np.median(passes)) if passes else 0,
            "seconds": stats.interval(seconds, resamples=resamples), "figures": figures, "per_class": classes,
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
    return {
        "model": spec.name, "split": split, "data": data, "clips": n,
        "top1": stats.interval([float(r["top1"]) for r in ok], resamples=resamples),
        "classes": sorted({r["label"] for r in ok}), "per_class": per_class,
        "perturbation_per_class": perturbation_per_class, "options": options.to_dict(),
        "rows": out_rows, "pairs": pairs, "default": stats.default_rule(out_rows),
    }


def write_measured(board: dict, *, families: str | None = None, path: Path | None = None) -> dict:
    """Write the board's default (and each row's pointing) into ``core/models/measured.json``
    (or ``path``) through :func:`lab.evaluate.methods.record_default`, the one writer of that
    file, so the page, the CLI and the API take it. Run it from a full run only."""
    from ..evaluate.methods import record_default

    def mean(r, name):
        return r["figures"][name]["mean"]

    d = board["default"]
    res = {
        "model": board["model"], "split": board["split"], "clips": board["clips"], "data": board["data"],
        "default": {**d, "rule": d["rule"]},
        "rows": [{"method": r["method"], "layer": r["layer"], "pointing_game": mean(r, "pointing"),
                  "pointing_game_near": mean(r, "pointing_near"), "sanity_head": mean(r, "sanity_head")}
                 for r in board["rows"] if Method(r["method"]) and not math.isnan(mean(r, "pointing"))],
    }
    return record_default(res, families=families, path=path)
