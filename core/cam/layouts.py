"""A layer's output -> a ``(N, C, t, h, w)`` map: one function per layout, nothing else.

Each function takes the output and the token grid ``(t, h, w)`` (known only for token layouts:
from the layer's own output, as torchvision's MViT blocks return it, or from a model's config).

The engine differentiates the logits with respect to the layer's output *as the layer returns
it*, then turns both the activation and its gradients into ``(N, C, t, h, w)`` here, so the CAM
maths (:mod:`core.cam.methods`) sees one layout. Adding a layout (e.g. a video transformer's
tokens with a (t, h, w) grid) is adding one function to :data:`LAYOUTS`.
"""

from __future__ import annotations

import torch

from ..errors import SettingsError

__all__ = ["LAYOUTS", "channels_first", "channels_last", "to_cthw", "tokens", "tokens_hwt"]

Grid = tuple[int, int, int]


def channels_first(x: torch.Tensor, grid: Grid | None = None) -> torch.Tensor:
    """3D CNNs (I3D, torchvision's R3D / MC3 / R(2+1)D / S3D): already (N, C, t, h, w)."""
    return x


def channels_last(x: torch.Tensor, grid: Grid | None = None) -> torch.Tensor:
    """torchvision's Swin3D stages: (N, t, h, w, C)."""
    return x.permute(0, 4, 1, 2, 3)  # (N, t, h, w, C) => (N, C, t, h, w)


def _patch_tokens(x: torch.Tensor, grid: Grid | None) -> tuple[torch.Tensor, tuple[int, ...]]:
    """The last t*h*w tokens of (N, L, C) (class tokens come first), and (N, t, h, w, C)."""
    if grid is None:
        raise SettingsError("this layer outputs tokens but its (t, h, w) grid is unknown; pick a "
                            "layer that returns (tokens, (t, h, w)), such as an MViT block")
    t, h, w = grid
    n, length, c = x.shape
    if length < t * h * w:
        raise SettingsError(f"{length} tokens cannot hold a {t}x{h}x{w} grid")
    return x[:, length - t * h * w:], (n, t, h, w, c)


def tokens(x: torch.Tensor, grid: Grid | None) -> torch.Tensor:
    """torchvision's MViT blocks, Hugging Face's VideoMAE and ViViT: (N, L, C) tokens, any leading
    class tokens, then the patch tokens in (t, h, w) order (``conv(x).flatten(2).transpose(1, 2)``)."""
    patches, (n, t, h, w, c) = _patch_tokens(x, grid)
    return patches.reshape(n, t, h, w, c).permute(0, 4, 1, 2, 3)  # (N, t*h*w, C) => (N, C, t, h, w)


def tokens_hwt(x: torch.Tensor, grid: Grid | None) -> torch.Tensor:
    """Hugging Face's TimeSformer: a class token, then the patch tokens in (h, w, t) order."""
    patches, (n, t, h, w, c) = _patch_tokens(x, grid)
    return patches.reshape(n, h, w, t, c).permute(0, 4, 3, 1, 2)  # (N, h*w*t, C) => (N, C, t, h, w)


LAYOUTS = {"channels_first": channels_first, "channels_last": channels_last, "tokens": tokens,
           "tokens_hwt": tokens_hwt}
_RANK = {"channels_first": 5, "channels_last": 5, "tokens": 3, "tokens_hwt": 3}


def to_cthw(x: torch.Tensor, layout: str, layer: str, grid: Grid | None = None) -> torch.Tensor:
    """``x``, the output of ``layer`` in ``layout`` (with its token ``grid``), as (N, C, t, h, w)."""
    if layout not in LAYOUTS:
        raise SettingsError(f"layout={layout!r}; choose one of {', '.join(LAYOUTS)}")
    if x.dim() != _RANK[layout]:
        raise SettingsError(
            f"layer {layer!r} outputs shape {tuple(x.shape)}; the engine explains video layers whose "
            f"output is {_RANK[layout]}-D ({layout}): pick another layer"
        )
    return LAYOUTS[layout](x, grid)
