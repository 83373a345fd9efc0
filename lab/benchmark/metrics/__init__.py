"""The six kinds of evidence about a map, in (T, H, W): each metric a small pure function on
arrays, its definition in its docstring (and in ``docs/benchmark.md``, with where it differs
from Quantus's).

- :mod:`.localisation`: pointing, energy and time mass (:mod:`lab.evaluate.scores`), the mask's
  top-k share (relevance rank accuracy) and the top region's IoU with the mask;
- :mod:`.faithfulness`: deletion and insertion (:mod:`core.trust.perturb`), ROAD with temporal
  imputation and the symmetric relevance gain;
- :mod:`.robustness`: relative change of a map, max-sensitivity, the shifted, re-encoded and
  overlapping windows;
- :mod:`.complexity`: Gini sparseness and entropy, spatial and temporal;
- :mod:`.randomisation`: the cascade (:mod:`core.trust.sanity`), random logit, efficient MPRT;
- :mod:`.axiomatic`: completeness, for the methods that claim it.
"""
