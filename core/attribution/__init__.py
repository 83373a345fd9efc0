"""Attribution beyond Grad-CAM: what a video transformer's attention says, and what hiding parts
of the clip does to any model.

Each method is ``method(explainer, x, targets, params=None, *, progress=None, cancel=None)``
-> ``(maps, info)``: ``x`` the (1, C, T, H, W) model input, ``targets`` a list of
:class:`core.cam.Target`, ``maps`` (K, t, h, w) float on the method's own grid (the token grid
for ``rollout``, ``relevance`` and ``attnlrp``, the stride grid for ``occlusion``, the input's grid for
``rise``), ``info`` a dict with ``forward_passes`` and the parameters used.
:func:`forward_passes` says how many forward passes a method will run before it runs.
"""

from __future__ import annotations

from ..cam.settings import ATTENTION_METHODS
from .attention import token_grid
from .attnlrp import attnlrp, attnlrp_forward
from .cost import Estimate, estimate
from .occlusion import forward_passes as _occlusion_passes
from .occlusion import occlusion, occlusion_pixels
from .perturb import Baseline, Cancelled, Perturbation, baseline_clip
from .relevance import relevance, relevance_forward
from .rise import forward_passes as _rise_passes
from .rise import rise
from .rollout import rollout, rollout_forward

__all__ = [
    "ATTENTION_METHODS",
    "ATTRIBUTIONS",
    "CLASSIFYING",
    "Baseline",
    "Cancelled",
    "Estimate",
    "Perturbation",
    "attnlrp",
    "baseline_clip",
    "estimate",
    "forward_passes",
    "occlusion",
    "occlusion_pixels",
    "relevance",
    "rise",
    "rollout",
    "token_grid",
]

ATTRIBUTIONS = {"rollout": rollout, "relevance": relevance, "attnlrp": attnlrp, "occlusion": occlusion, "rise": rise}
# Methods whose own forward pass predicts the classes: the engine runs ``CLASSIFYING[m](explainer,
# x)`` in place of its no-grad pass, reads the logits from it, keeps it in the Explainer's cache
# and hands it to the method (``run=``): ``run.maps(explainer, targets)`` runs no forward pass
# (rollout's map is made in the pass; relevance and attnlrp run one backward pass per target).
CLASSIFYING = {"rollout": rollout_forward, "relevance": relevance_forward, "attnlrp": attnlrp_forward}


def forward_passes(method: str, params: Perturbation | None, shape) -> int:
    """The number of forward passes ``method`` will run for a model input of ``shape``
    (..., T, H, W) — before it runs, besides the one that predicts the classes. The attention
    methods run none: their one forward pass is the one that predicts the classes
    (:data:`CLASSIFYING`); ``relevance`` and ``attnlrp`` then run one backward pass per target."""
    if method in CLASSIFYING:
        return 0
    if method == "occlusion":
        return _occlusion_passes(params or Perturbation(), shape)
    if method == "rise":
        return _rise_passes(params or Perturbation(), shape)
    return 1
