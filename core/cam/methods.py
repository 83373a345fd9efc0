"""The Grad-CAM family on activations of any rank: one function, five methods, two poolings.

Shapes: activations ``A`` are (C, *S) for one clip (S = (T, H, W) for video layers), gradients
``G`` are (K, C, *S) for K targets. Pooling ``clip`` gives one weight per channel over all of S
(as the 2017 post); ``frame`` gives one weight per channel per time step (as SlowFast/MMAction2),
i.e. it pools over the spatial dims only.
"""

from __future__ import annotations

import torch

from ..errors import SettingsError
from .settings import Method, Pooling

__all__ = ["METHODS", "POOLINGS", "cam_from_gradients"]

METHODS = tuple(m.value for m in Method)
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


def cam_from_gradients(A: torch.Tensor, G: torch.Tensor, method: Method | str = Method.GRADCAM,
                       pooling: Pooling | str = Pooling.CLIP) -> torch.Tensor:
    """(C, *S) activations and (K, C, *S) gradients -> (K, *S) maps after ReLU (not normalised)."""
    method, pooling = Method.parse(method, "method"), Pooling.parse(pooling, "pooling")
    A = A.float().unsqueeze(0)  # (1, C, *S), broadcasts over K
    G = G.float()
    dims = _pool_dims(G.dim(), pooling)
    if method == Method.GRADCAM:
        weights = G.mean(dims, keepdim=True)
        cam = (weights * A).sum(1)
    elif method == Method.GRADCAMPP:
        g2, g3 = G.pow(2), G.pow(3)
        alpha = g2 / (2 * g2 + A.sum(dims, keepdim=True) * g3 + 1e-6)  # eq. 19 of the paper
        alpha = torch.where(G != 0, alpha, torch.zeros_like(alpha))
        weights = (G.clamp(min=0) * alpha).sum(dims, keepdim=True)
        cam = (weights * A).sum(1)
    elif method == Method.XGRADCAM:
        weights = (G * A).sum(dims, keepdim=True) / (A.sum(dims, keepdim=True) + _EPS)
        cam = (weights * A).sum(1)
    elif method == Method.HIRESCAM:  # element-wise, no pooling
        cam = (G * A).sum(1)
    else:  # layercam: element-wise positive gradients
        cam = (G.clamp(min=0) * A).sum(1)
    return cam.clamp_(min=0)
