"""Axiomatic: completeness, for the methods that claim it.

A relevance method that conserves relevance (LRP's rules: AttnLRP) says its map sums to the
score it explains; Grad-CAM, attention maps and perturbation maps make no such claim, so their
cell says "does not apply" (:data:`CLAIMS_COMPLETENESS`).
"""

from __future__ import annotations

import numpy as np

from core.cam.settings import Method

__all__ = ["CLAIMS_COMPLETENESS", "completeness_gap"]

# the methods whose raw map claims to sum to the explained logit (AttnLRP: relevance conservation)
CLAIMS_COMPLETENESS = (Method.ATTNLRP,)


def completeness_gap(attribution, score: float, baseline_score: float = 0.0) -> float:
    """``|sum(attribution) - (score - baseline_score)| / |score - baseline_score|``: 0 when the
    attribution sums exactly to the score it explains (Sundararajan et al.'s completeness;
    Quantus's ``Completeness`` asks the same sum to equal ``f(x) - f(baseline)`` and answers yes
    or no). LRP's baseline is 0 (the relevance put in is the logit itself). NaN for a zero score."""
    target = float(score) - float(baseline_score)
    total = float(np.asarray(attribution, dtype=np.float64).sum())
    return abs(total - target) / abs(target) if target != 0 else float("nan")
