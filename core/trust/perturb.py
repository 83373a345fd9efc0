"""Is the map faithful? Delete or insert what it points at, and watch the class score.

All perturbed clips of one check go through the model in a few batched no-grad forward passes.
"Removing" a frame or region replaces it with the clip's per-pixel temporal mean: what is static
stays, what changes over time (the motion evidence) is gone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Curve", "batched_probs", "counterfactuals", "deletion_insertion"]


@dataclass(frozen=True)
class Curve:
    """Class probability against the fraction of the clip removed (or inserted)."""

    fractions: tuple[float, ...]
    probs: tuple[float, ...]

    @property
    def auc(self) -> float:
        f, p = torch.tensor(self.fractions), torch.tensor(self.probs)
        return float(torch.trapezoid(p, f))

    def to_dict(self) -> dict:
        return {"fractions": [round(v, 4) for v in self.fractions],
                "probs": [round(v, 5) for v in self.probs], "auc": round(self.auc, 5)}


@torch.no_grad()
def batched_probs(model: nn.Module, clips: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """Softmax probabilities (N, num_classes) of N model-input clips (N, C, T, H, W)."""
    was = model.training
    model.eval()
    try:
        out = [model(clips[i:i + batch_size]).float().softmax(-1).cpu() for i in range(0, len(clips), batch_size)]
    finally:
        model.train(was)
    return torch.cat(out)


def _cell_order(raw: torch.Tensor, size: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cells of the layer grid, most important first, and each voxel's cell id at input size."""
    t, h, w = raw.shape
    order = raw.flatten().argsort(descending=True)
    ids = torch.arange(t * h * w, dtype=torch.float32).view(1, 1, t, h, w)
    voxel_cell = F.interpolate(ids, size=size, mode="nearest")[0, 0].long()
    return order, voxel_cell


def deletion_insertion(
    model: nn.Module,
    x: torch.Tensor,
    target: int,
    importance: torch.Tensor,
    raw_map: torch.Tensor,
    *,
    steps: int = 6,
    seed: int = 0,
    batch_size: int = 8,
) -> dict[str, Curve]:
    """Deletion and insertion curves, by frame and by spatio-temporal region, CAM vs random order.

    ``x`` (1, C, T, H, W) model input; ``importance`` (T,) CAM mass per frame; ``raw_map``
    (t, h, w) the layer-resolution CAM whose cells define the regions.
    """
    T, H, W = x.shape[2:]
    base = x.mean(2, keepdim=True).expand_as(x)
    fractions = torch.linspace(0, 1, steps + 1)
    g = torch.Generator().manual_seed(seed)
    frame_orders = {"cam": importance.argsort(descending=True), "random": torch.randperm(T, generator=g)}
    cell_cam, voxel_cell = _cell_order(raw_map, (T, H, W))
    cell_orders = {"cam": cell_cam, "random": torch.randperm(raw_map.numel(), generator=g)}
    # Every curve starts or ends at the untouched clip or the fully removed one: score those once.
    clips, keys = [x, base], [None, None]
    for unit, orders, count in (("frames", frame_orders, T), ("regions", cell_orders, raw_map.numel())):
        for order_name, order in orders.items():
            rank = torch.empty(count, dtype=torch.long)
            rank[order] = torch.arange(count)
            for mode in ("deletion", "insertion"):
                for f in fractions[1:-1].tolist():
                    k = round(f * count)
                    if unit == "frames":
                        gone = (rank < k).view(1, 1, T, 1, 1).to(x.device)
                    else:
                        gone = (rank[voxel_cell] < k).view(1, 1, T, H, W).to(x.device)
                    clips.append(torch.where(gone if mode == "deletion" else ~gone, base, x))
                    keys.append((f"{unit}_{mode}_{order_name}", f))
    probs = batched_probs(model, torch.cat(clips), batch_size)[:, target].tolist()
    full, empty = probs[0], probs[1]
    curves: dict[str, list] = {}
    for key, p in zip(keys[2:], probs[2:], strict=True):
        curves.setdefault(key[0], []).append((key[1], p))
    for name, pts in curves.items():
        first, last = (full, empty) if "deletion" in name else (empty, full)
        pts[:0] = [(0.0, first)]
        pts.append((1.0, last))
    return {name: Curve(tuple(f for f, _ in pts), tuple(p for _, p in pts)) for name, pts in curves.items()}


def _blur(x: torch.Tensor, sigma: float = 3.0) -> torch.Tensor:
    radius = int(3 * sigma)
    k = torch.exp(-torch.arange(-radius, radius + 1, dtype=torch.float32) ** 2 / (2 * sigma**2))
    k = (k / k.sum()).to(x)
    C = x.shape[1]
    y = x.transpose(1, 2).flatten(0, 1)  # (N, C, T, H, W) => (N*T, C, H, W)
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).repeat(C, 1, 1, 1), groups=C)
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="replicate"), k.view(1, 1, -1, 1).repeat(C, 1, 1, 1), groups=C)
    return y.view(x.shape[0], x.shape[2], C, *x.shape[3:]).transpose(1, 2)


def counterfactuals(
    model: nn.Module, x: torch.Tensor, importance: torch.Tensor, *, seed: int = 0, top_fraction: float = 0.25
) -> dict[str, torch.Tensor]:
    """Class probabilities for the clip as is, reversed, shuffled, frozen and top-frames-blurred."""
    T = x.shape[2]
    g = torch.Generator().manual_seed(seed)
    top = importance.argsort(descending=True)[: max(1, round(top_fraction * T))]
    blurred = x.clone()
    blurred[:, :, top] = _blur(x[:, :, top])
    variants = {
        "original": x,
        "reversed": x.flip(2),
        "shuffled": x[:, :, torch.randperm(T, generator=g)],
        "frozen_middle": x[:, :, T // 2 : T // 2 + 1].expand_as(x),
        "top_frames_blurred": blurred,
    }
    probs = batched_probs(model, torch.cat(list(variants.values())))
    return dict(zip(variants, probs, strict=True))
