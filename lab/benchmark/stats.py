"""Intervals over clips, which differences between methods are real, and the default rule.

Every figure of the benchmark is a mean over clips with a 95% percentile bootstrap interval
(:func:`interval`); two methods on one model are compared on the clips both were scored on, by
a paired bootstrap of the mean difference (:func:`paired`): a difference is *real* when its
interval leaves out 0. :func:`default_rule` picks a model's default method from the leaderboard.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["RESAMPLES", "default_rule", "interval", "paired"]

RESAMPLES = 2000
_LEVEL = 0.95


def _clean(values) -> np.ndarray:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    return v[np.isfinite(v)]


def interval(values, *, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """{"mean", "lo", "hi", "n"}: the mean of the finite ``values`` (None and NaN left out) and
    its 95% percentile bootstrap interval (``resamples`` resamples of the clips, seeded). One
    value: lo = hi = the value (no spread can be measured from one clip); none: NaNs and n 0."""
    v = _clean(values)
    if v.size == 0:
        return {"mean": math.nan, "lo": math.nan, "hi": math.nan, "n": 0}
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(resamples, v.size))].mean(1)
    lo, hi = np.quantile(means, [(1 - _LEVEL) / 2, (1 + _LEVEL) / 2])
    return {"mean": float(v.mean()), "lo": float(lo), "hi": float(hi), "n": int(v.size)}


def paired(a: dict, b: dict, *, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """The mean of ``a - b`` over the clips both scored (``a``, ``b``: clip id -> value) with its
    paired bootstrap interval, and ``real``: whether the interval leaves out 0."""
    ids = [k for k in a if k in b and a[k] is not None and b[k] is not None
           and math.isfinite(a[k]) and math.isfinite(b[k])]
    d = interval([a[k] - b[k] for k in ids], resamples=resamples, seed=seed)
    d["real"] = bool(d["n"] >= 2 and (d["lo"] > 0 or d["hi"] < 0))
    return d


def default_rule(rows: list[dict], *, figure: str = "pointing", sanity: str = "sanity_head",
                 sanity_max: float = 0.3) -> dict:
    """The default method of a model from its leaderboard ``rows`` (each: ``method``, ``layer``,
    ``interactive`` (False for occlusion and RISE, whose hundreds of forward passes a default
    must not cost), ``passes`` and ``figures``: name -> :func:`interval`), in row order:

    among the interactive rows whose mean ``sanity`` correlation is at most ``sanity_max`` (a map
    that ignores what the model learned keeps ~1), take the best mean ``figure``; every row whose
    interval is not below that row's (its ``hi`` >= the best's ``lo``) is as good as far as the
    clips can tell; of those, the cheapest (fewest forward passes), then the best mean ``figure``
    (row order only between exact equals: not the order the rows happen to be listed in).
    Returns that row's method and layer, the figures the choice rests on and the rule in words."""
    ok = [r for r in rows if r.get("interactive", True)
          and not math.isnan(r["figures"][sanity]["mean"]) and r["figures"][sanity]["mean"] <= sanity_max
          and not math.isnan(r["figures"][figure]["mean"])]
    rule = (f"among interactive rows with {sanity} <= {sanity_max}, those whose 95% interval of {figure} is not "
            f"below the best row's; of them the fewest forward passes, then the best mean {figure}")
    if not ok:
        return {"method": "gradcam", "layer": None, "rule": rule, "note": "no row passed the sanity bar"}
    best = max(ok, key=lambda r: r["figures"][figure]["mean"])
    tied = [r for r in ok if r["figures"][figure]["hi"] >= best["figures"][figure]["lo"]]
    pick = min(tied, key=lambda r: (r["passes"], -r["figures"][figure]["mean"]))  # min keeps the first of equals
    return {"method": pick["method"], "layer": pick["layer"], "rule": rule, "best": best["key"],
            "as_good": [r["key"] for r in tied], figure: pick["figures"][figure], sanity: pick["figures"][sanity]}
