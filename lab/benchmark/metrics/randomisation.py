"""Randomisation: does the map depend on what the model learned, and on the class asked?

- the cascade (Adebayo et al., 2018) is :mod:`core.trust.sanity`'s: layers re-initialised
  top-down, each map compared with the trained model's by Spearman rank correlation;
- random logit (Sixt et al., 2020): the map of another class, drawn at random, compared with
  the explained class's map (:func:`other_class`, then :func:`core.trust.spearman`): a map that
  does not change with the class explains the input, not the decision;
- efficient MPRT (Hedstroem et al., 2023, "Sanity Checks Revisited"): :func:`emprt`, the rise
  of the map's complexity when the model's layers are randomised.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

from core.trust import randomize_top_down, sanity_order, spearman

__all__ = ["discrete_entropy", "emprt", "other_class", "randomize_top_down", "sanity_order", "spearman"]


def other_class(target: int, num_classes: int, rng: np.random.Generator) -> int:
    """A class other than ``target``, uniformly at random (as Quantus's ``RandomLogit``)."""
    if num_classes < 2:
        raise ValueError("the random-logit test needs a model with 2 classes or more")
    k = int(rng.integers(num_classes - 1))
    return k + (k >= target)


def discrete_entropy(a, n_bins: int = 100) -> float:
    """Entropy (nats) of the histogram of the map's values in ``n_bins`` equal bins between its
    minimum and maximum (Quantus's ``discrete_entropy``, eMPRT's default complexity)."""
    hist, _ = np.histogram(np.asarray(a, dtype=np.float64).ravel(), bins=n_bins)
    return float(scipy.stats.entropy(hist))


def emprt(trained, randomised, n_bins: int = 100) -> float:
    """eMPRT: ``discrete_entropy(map of the randomised model) / discrete_entropy(map of the
    trained model)`` (Quantus's ``compute_relative_rise``, last layer). Above 1: randomising
    the model makes the map noisier, as it should; about 1: the map did not care. NaN when the
    trained map is constant (entropy 0)."""
    base = discrete_entropy(trained, n_bins)
    return discrete_entropy(randomised, n_bins) / base if base > 0 else float("nan")
