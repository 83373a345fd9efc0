"""Is the map faithful? Delete or insert what it points at, and watch the class score.

All perturbed clips of one check go through the model in a few batched no-grad forward passes.
"Removing" a frame or region replaces it with the clip's per-pixel temporal mean: what is static
stays, what changes over time (the motion evidence) is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.transforms.v2.functional import gaussian_blur

__all__ = ["Curve", "Predict", "counterfactuals", "deletion_insertion"]

# Softmax probabilities (N, num_classes) of N model-input clips (N, C, T, H, W), e.g.
# ``Explainer.predict``, which runs them in batched no-grad passes under the model's lock.
Predict = Callable[[torch.Tensor], torch.Tensor]


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


def _cell_order(raw: torch.Tensor, size: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cells of the layer grid, most important first, and each voxel's cell id at input size."""
    t, h, w = raw.shape
    order = raw.flatten().argsort(descending=True)
    ids = torch.arange(t * h * w, dtype=torch.float32).view(1, 1, t, h, w)
    voxel_cell = F.interpolate(ids, size=size, mode="nearest")[0, 0].long()
    return order, voxel_cell


def deletion_insertion(
    predict: Predict,
    x: torch.Tensor,
    target: int,
    importance: torch.Tensor,
    raw_map: torch.Tensor,
    *,
    steps: int = 6,
    seed: int = 0,
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
    probs = predict(torch.cat(clips))[:, target].tolist()
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
    """Gaussian blur of every frame of (N, C, T, H, W) clips, edges extended by replication.

    Padding here, not torchvision's reflection, keeps frames of any size working (reflection
    needs frames wider than the kernel's radius) and keeps mirrored content out of the edges.
    """
    r = round(3 * sigma)
    y = gaussian_blur(F.pad(x, (r, r, r, r, 0, 0), mode="replicate"), [2 * r + 1] * 2, [sigma, sigma])
    return y[..., r : r + x.shape[-2], r : r + x.shape[-1]]


def counterfactuals(
    predict: Predict, x: torch.Tensor, importance: torch.Tensor, *, seed: int = 0, top_fraction: float = 0.25
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
    probs = predict(torch.cat(list(variants.values())))
    return dict(zip(variants, probs, strict=True))
