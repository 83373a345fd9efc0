"""Localisation: does the map's top region sit on the acting object?

Pointing, energy in the mask and mass in the action's interval are
:func:`lab.evaluate.scores.explanation_scores` (imported, not repeated); this module adds the two
scores that rank every voxel of the clip against the mask.
"""

from __future__ import annotations

import numpy as np

from ...evaluate.scores import cam_cell, explanation_scores, near

__all__ = ["cam_cell", "explanation_scores", "near", "rank_accuracy", "top_region_iou"]


def _hits(relevance: np.ndarray, mask: np.ndarray) -> tuple[int, int]:
    """(k = voxels in the mask, how many of the k highest-ranked voxels are in it). Ties in the
    ranking are broken by voxel order (a stable sort), as Quantus's ``argsort`` does."""
    a, s = np.asarray(relevance, dtype=np.float64).ravel(), np.asarray(mask, dtype=bool).ravel()
    if a.shape != s.shape:
        raise ValueError(f"map and mask differ in size: {relevance.shape} vs {mask.shape}")
    k = int(s.sum())
    if k == 0:
        return 0, 0
    top = np.argsort(-a, kind="stable")[:k]
    return k, int(s[top].sum())


def rank_accuracy(relevance: np.ndarray, mask: np.ndarray) -> float:
    """Relevance rank accuracy (Arras et al., 2022): with k = the number of voxels in the mask,
    the share of the map's k highest-ranked voxels (over the whole (T, H, W) clip) that lie in
    the mask. 1: the map's top k is the mask; a uniform random map scores k / N on average.
    NaN when the mask is empty (the object is never visible)."""
    k, hits = _hits(relevance, mask)
    return hits / k if k else float("nan")


def top_region_iou(relevance: np.ndarray, mask: np.ndarray) -> float:
    """IoU of the map's top region with the mask at the mask's size (REVEX's measure): the top
    region is the k = |mask| highest-ranked voxels, so IoU = hits / (2k - hits) = r / (2 - r)
    for rank accuracy r. NaN when the mask is empty."""
    k, hits = _hits(relevance, mask)
    return hits / (2 * k - hits) if k else float("nan")
