"""The Grad-CAM family on activations of any rank: five methods, two poolings.

Shapes: activations ``A`` are (C, *S) for one clip (S = (T, H, W) for video layers), gradients
``G`` are (K, C, *S) for K targets. Pooling ``clip`` gives one weight per channel over all of S
(as the 2017 post); ``frame`` gives one weight per channel per time step (as SlowFast/MMAction2),
i.e. it pools over the spatial dims only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from ..errors import SettingsError
from .registry import MethodTable, method_entry, register_method
from .settings import Method, Pooling

__all__ = ["CAM_FUNCTIONS", "METHODS", "POOLINGS", "cam_from_gradients"]

POOLINGS = tuple(p.value for p in Pooling)
_EPS = 1e-7


def _pool_dims(ndim: int, pooling: str) -> tuple[int, ...]:
    # G is (K, C, *S): clip pooling reduces all of S, frame pooling keeps S's first (time) axis.
    spatial = tuple(range(2, ndim))
    if pooling == Pooling.FRAME:
        if ndim < 4:
            raise SettingsError("pooling='frame' needs (C, T, H, W) activations; this layer has no time axis")
        return spatial[1:]
    return spatial


# One function per method: (A (1, C, *S), G (K, C, *S), the pooled dims of G) -> (K, *S) maps
# before the ReLU, registered as a method that needs a layer (core.cam.registry; docs/extending.md).


@register_method("gradcam", needs_layer=True)
def _gradcam(A: torch.Tensor, G: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    weights = G.mean(dims, keepdim=True)
    return (weights * A).sum(1)


@register_method("gradcampp", needs_layer=True)
def _gradcampp(A: torch.Tensor, G: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    g2, g3 = G.pow(2), G.pow(3)
    alpha = g2 / (2 * g2 + A.sum(dims, keepdim=True) * g3 + 1e-6)  # eq. 19 of the paper
    alpha = torch.where(G != 0, alpha, torch.zeros_like(alpha))
    weights = (G.clamp(min=0) * alpha).sum(dims, keepdim=True)
    return (weights * A).sum(1)


@register_method("xgradcam", needs_layer=True)
def _xgradcam(A: torch.Tensor, G: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    weights = (G * A).sum(dims, keepdim=True) / (A.sum(dims, keepdim=True) + _EPS)
    return (weights * A).sum(1)


@register_method("hirescam", needs_layer=True)
def _hirescam(A: torch.Tensor, G: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    return (G * A).sum(1)  # element-wise, no pooling


@register_method("layercam", needs_layer=True)
def _layercam(A: torch.Tensor, G: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    return (G.clamp(min=0) * A).sum(1)  # element-wise positive gradients


# The registry's methods that need a layer -> their function (a live view: a method registered
# later is in it too)
CAM_FUNCTIONS: Mapping[Method, Callable[[torch.Tensor, torch.Tensor, tuple[int, ...]], torch.Tensor]] = MethodTable(
    lambda e: e.needs_layer, lambda e: e.run)
METHODS = tuple(m.value for m in Method if m in CAM_FUNCTIONS)  # the built-in Grad-CAM family (the others: core.attribution)


def cam_from_gradients(A: torch.Tensor, G: torch.Tensor, method: Method | str = Method.GRADCAM,
                       pooling: Pooling | str = Pooling.CLIP) -> torch.Tensor:
    """(C, *S) activations and (K, C, *S) gradients -> (K, *S) maps after ReLU (not normalised)."""
    method, pooling = Method.parse(method, "method"), Pooling.parse(pooling, "pooling")
    entry = method_entry(method)
    if not entry.needs_layer:
        raise SettingsError(f"method={method.value!r} needs no layer and is not a Grad-CAM method; here, "
                            f"use one of {', '.join(m.value for m in CAM_FUNCTIONS)}")
    A = A.float().unsqueeze(0)  # (1, C, *S), broadcasts over K
    G = G.float()
    return entry.run(A, G, _pool_dims(G.dim(), pooling)).clamp_(min=0)
