"""Complexity: how concentrated is the map, over the pixels of a frame and over the frames?

Spatial figures are the mean over frames of the figure of each frame's (H, W) map; temporal
figures are the figure of the (T,) mass per frame. Maps are taken as their absolute values.
"""

from __future__ import annotations

import numpy as np

__all__ = ["entropy", "gini", "spatial", "temporal"]


def gini(a: np.ndarray) -> float:
    """Gini index of |a| flattened (Chalasani et al., 2020; Quantus's ``Sparseness``): with the
    n values sorted ascending, ``sum_i (2i - n - 1) a_i / (n sum_i a_i)``. 0: every value equal;
    (n - 1) / n: all mass on one value. Quantus adds 1e-7 to every value first (so an all-zero
    map scores 0); so does this."""
    v = np.sort(np.abs(np.asarray(a, dtype=np.float64)).ravel() + 1e-7)
    n = v.size
    return float(((2 * np.arange(1, n + 1) - n - 1) * v).sum() / (n * v.sum()))


def entropy(a: np.ndarray) -> float:
    """Shannon entropy (nats) of |a| as a distribution, p_i = |a_i| / sum |a| (Bhatt et al.,
    2020; Quantus's ``Complexity``): 0 for one non-zero value, log n for a uniform map. An
    all-zero map has no distribution: NaN."""
    v = np.abs(np.asarray(a, dtype=np.float64)).ravel()
    total = v.sum()
    if total <= 0:
        return float("nan")
    p = v / total
    return float(-(p * np.log(p + 1e-12)).sum())


def spatial(fn, maps: np.ndarray) -> float:
    """``fn`` (:func:`gini` or :func:`entropy`) of each frame of (T, H, W) ``maps``, averaged over
    the frames whose map is not all zero (NaN if none)."""
    vals = [fn(m) for m in np.asarray(maps) if np.abs(m).sum() > 0]
    return float(np.mean(vals)) if vals else float("nan")


def temporal(fn, maps: np.ndarray) -> float:
    """``fn`` of the (T,) mass of each frame of (T, H, W) ``maps``: is the evidence in a few
    frames (high Gini, low entropy) or spread over the clip?"""
    m = np.abs(np.asarray(maps, dtype=np.float64))
    return fn(m.reshape(m.shape[0], -1).sum(1))
