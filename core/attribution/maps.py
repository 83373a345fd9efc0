"""An attribution method as the engine runs it: its maps on its own grid, then on the model
input, scaled like the Grad-CAM family's (:func:`core.cam.forward.upsample_and_normalise`).

:meth:`core.Explainer.explain` calls :func:`attribution_maps` for every method of
:data:`ATTRIBUTIONS`, so ``rollout``, ``relevance``, ``attnlrp``, ``occlusion`` and ``rise`` give the same
:class:`core.Explanation` as Grad-CAM: raw maps on the method's grid, maps on the model input,
each frame's share of the mass.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ..cam.forward import upsample_and_normalise
from ..cam.settings import PERTURBATION_METHODS, Method, Settings, methods_for
from ..errors import SettingsError
from . import ATTRIBUTIONS, forward_passes, occlusion_pixels
from .perturb import Perturbation

__all__ = ["attribution_maps", "passes", "resolve"]


def resolve(explainer, settings: Settings) -> Settings:
    """``settings`` as the method runs them on ``explainer``'s model (no layer; the perturbation's
    defaults filled in, or none for a method that takes none); a :class:`SettingsError` naming
    the methods that apply when this one does not."""
    allowed = methods_for(explainer.spec)
    if settings.method not in allowed:
        name = explainer.spec.name if explainer.spec is not None else type(explainer.model).__name__
        raise SettingsError(
            f"method={settings.method.value!r} reads a Hugging Face video transformer's attention "
            f"(VideoMAE, TimeSformer, ViViT); {name} has none. Methods that apply to {name}: "
            f"{', '.join(m.value for m in allowed)}")
    perturbed = settings.method in PERTURBATION_METHODS
    return replace(settings, layer=None,
                   perturbation=(settings.perturbation or Perturbation()) if perturbed else None)


def passes(settings: Settings, shape) -> int:
    """Forward passes of a resolved ``settings`` on a model input of ``shape``: the method's,
    plus the one that predicts the classes."""
    return forward_passes(settings.method.value, settings.perturbation, shape) + 1


def attribution_maps(explainer, x: torch.Tensor, targets, settings: Settings, *, progress=None, cancel=None,
                     run=None, classified: bool = True):
    """(raw maps (K, t, h, w) on the method's grid, maps (K, T, H, W) in [0, 1] on the model input,
    (K, T) share of mass per frame, info) for the K ``targets`` of the model input ``x``
    (1, C, T, H, W), by a resolved ``settings`` (:func:`resolve`). ``run``: the forward pass of a
    method of :data:`core.attribution.CLASSIFYING`, which predicted the classes; ``classified``:
    whether a forward pass predicted them for this call (False: the Explainer's cache had them)."""
    params = settings.perturbation
    own = {"run": run} if run is not None else {}
    raw, info = ATTRIBUTIONS[settings.method.value](explainer, x, targets, params, progress=progress, cancel=cancel,
                                                    **own)
    size = tuple(x.shape[2:])
    # occlusion's cells repeated over their pixels are exactly its per-pixel map (captum's);
    # every other grid is interpolated as Grad-CAM's layer grid is
    on_input = occlusion_pixels(raw, params.stride, size) if settings.method == Method.OCCLUSION else raw
    if info.get("class_specific", True):
        maps, importance = upsample_and_normalise(on_input.float(), size, settings.normalize)
    else:  # one map for every class (rollout): made once, and kept by its pass for more classes
        kept = getattr(run, "on_input", {})
        key = (size, settings.normalize)
        if key not in kept:
            kept[key] = upsample_and_normalise(on_input[:1].float(), size, settings.normalize)
        maps, importance = (t.expand(len(raw), *t.shape[1:]).clone() for t in kept[key])
    info = {**info, "forward_passes": info["forward_passes"] + int(classified)}  # + the one that predicted the classes
    return raw.float(), maps, importance, info
