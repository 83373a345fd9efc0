"""A layer's output -> a ``(N, C, t, h, w)`` map: one function per layout, nothing else.

The engine differentiates the logits with respect to the layer's output *as the layer returns
it*, then turns both the activation and its gradients into ``(N, C, t, h, w)`` here, so the CAM
maths (:mod:`core.cam.methods`) sees one layout. Adding a layout (e.g. a video transformer's
tokens with a (t, h, w) grid) is adding one function to :data:`LAYOUTS`.
"""

from __future__ import annotations

import torch

from ..errors import SettingsError

__all__ = ["LAYOUTS", "channels_first", "channels_last", "to_cthw"]


def channels_first(x: torch.Tensor) -> torch.Tensor:
    """3D CNNs (I3D, torchvision's R3D / MC3 / R(2+1)D / S3D): already (N, C, t, h, w)."""
    return x


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """torchvision's Swin3D stages: (N, t, h, w, C)."""
    return x.permute(0, 4, 1, 2, 3)  # (N, t, h, w, C) => (N, C, t, h, w)


LAYOUTS = {"channels_first": channels_first, "channels_last": channels_last}


def to_cthw(x: torch.Tensor, layout: str, layer: str) -> torch.Tensor:
    """``x``, the output of ``layer`` in ``layout``, as (N, C, t, h, w)."""
    if layout not in LAYOUTS:
        raise SettingsError(f"layout={layout!r}; choose one of {', '.join(LAYOUTS)}")
    if x.dim() != 5:
        raise SettingsError(
            f"layer {layer!r} outputs shape {tuple(x.shape)}; the engine explains video layers whose "
            f"output is 5-D ({layout}): pick a deeper or shallower layer"
        )
    return LAYOUTS[layout](x)
