"""Attribution beyond Grad-CAM: what a video transformer's attention says, and what hiding parts
of the clip does to any model.

Each method is ``method(explainer, x, targets, params=None, *, progress=None, cancel=None)``
-> ``(maps, info)``: ``x`` the (1, C, T, H, W) model input, ``targets`` a list of
:class:`core.cam.Target`, ``maps`` (K, t, h, w) float on the method's own grid (the token grid
for ``rollout`` and ``relevance``, the stride grid for ``occlusion``, the input's grid for
``rise``), ``info`` a dict with ``forward_passes`` and the parameters used.
:func:`forward_passes` says how many forward passes a method will run before it runs.
"""

from __future__ import annotations

from ..cam.settings import ATTENTION_METHODS
from .attention import token_grid
from .occlusion import forward_passes as _occlusion_passes
from .occlusion import occlusion, occlusion_pixels
from .perturb import Baseline, Cancelled, Perturbation, baseline_clip
from .relevance import relevance
from .rise import forward_passes as _rise_passes
from .rise import rise
from .rollout import rollout

__all__ = [
    "ATTENTION_METHODS",
    "ATTRIBUTIONS",
    "Baseline",
    "Cancelled",
    "Perturbation",
    "baseline_clip",
    "forward_passes",
    "occlusion",
    "occlusion_pixels",
    "relevance",
    "rise",
    "rollout",
    "token_grid",
]

ATTRIBUTIONS = {"rollout": rollout, "relevance": relevance, "occlusion": occlusion, "rise": rise}


def forward_passes(method: str, params: Perturbation | None, shape) -> int:
    """The number of forward passes ``method`` will run for a model input of ``shape``
    (..., T, H, W) — before it runs. ``rollout`` and ``relevance`` run one (relevance adds one
    backward pass per target)."""
    if method == "occlusion":
        return _occlusion_passes(params or Perturbation(), shape)
    if method == "rise":
        return _rise_passes(params or Perturbation(), shape)
    return 1
