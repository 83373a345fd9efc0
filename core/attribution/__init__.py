"""Attribution beyond Grad-CAM: what a video transformer's attention says, and what hiding parts
of the clip does to any model.

Each method is ``method(explainer, x, targets, params=None, *, progress=None, cancel=None)``
-> ``(maps, info)``: ``x`` the (1, C, T, H, W) model input, ``targets`` a list of
:class:`core.cam.Target`, ``maps`` (K, t, h, w) float on the method's own grid (the token grid
for ``rollout``, ``relevance`` and ``attnlrp``, the stride grid for ``occlusion``, the input's grid for
``rise``), ``info`` a dict with ``forward_passes`` and the parameters used.
:func:`forward_passes` says how many forward passes a method will run before it runs.

Each method registers itself where it is defined (:func:`core.cam.registry.register_method`), as
the Grad-CAM family does: the engine runs every method through that one registry.
"""

from __future__ import annotations

from ..cam.registry import MethodTable, method_entry
from ..cam.settings import ATTENTION_METHODS
from ..errors import Cancelled  # re-exported: where the methods that raise it live
from .attention import token_grid
from .attnlrp import attnlrp
from .cost import Estimate, estimate
from .occlusion import occlusion, occlusion_pixels
from .perturb import Baseline, Perturbation, baseline_clip
from .relevance import relevance
from .rise import rise
from .rollout import rollout

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

# The registry's methods that need no layer -> their function (live views of core.cam.registry)
ATTRIBUTIONS = MethodTable(lambda e: not e.needs_layer, lambda e: e.run)
# Methods whose own forward pass predicts the classes (their ``classify``): the engine runs
# ``CLASSIFYING[m](explainer, x)`` in place of its no-grad pass, reads the logits from it, keeps it
# in the Explainer's cache and hands it to the method (``run=``): ``run.maps(explainer, targets)``
# runs no forward pass (rollout's map is made in the pass; relevance and attnlrp run one backward
# pass per target).
CLASSIFYING = MethodTable(lambda e: e.classify is not None, lambda e: e.classify)


def forward_passes(method: str, params: Perturbation | None, shape) -> int:
    """The number of forward passes ``method`` will run for a model input of ``shape``
    (..., T, H, W) — before it runs, besides the one that predicts the classes (its registered
    ``passes``; ``params`` None: its defaults). The attention methods run none: their one forward
    pass is the one that predicts the classes (:data:`CLASSIFYING`); ``relevance`` and
    ``attnlrp`` then run one backward pass per target."""
    return method_entry(method).forward_passes(params, shape)
