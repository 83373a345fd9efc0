"""How much of RISE's map lies where the model looks, against its number of masks and cell size.

Issue 23 asks that on a model whose logit depends on one space-time region only, occlusion and
RISE put >= 90% of their (positive) mass there. The model: logit 0 is 8 x (the mean of REGION's
pixels - 0.5), the others 0; REGION is the last 4 of 8 frames x the top-right quarter of a 32x32
frame (1/8 of the clip), bright in the clip. Occlusion puts all of it there. RISE's map is the
true one blurred by its smooth masks (about one cell of spill) plus a Monte-Carlo noise floor:
for a voxel outside REGION the estimate is a sum of N independent terms of mean 0, for one inside
its signal is the correlation of the score with that voxel's mask, about 1 / sqrt(cells in
REGION). Smaller cells spill less but each carries less signal; more masks lower the floor as
1 / sqrt(N)::

    python -m benchmarks.rise_mass                      # the table in docs/trust.md

Each cell of the table: the share of the first seed's map in REGION, and (in brackets) the
correlation of the two seeds' maps; ``balanced`` and ``independent`` masks side by side (see
core.attribution.rise).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from core.attribution import Perturbation, occlusion, occlusion_pixels, rise
from core.attribution.perturb import DESIGNS
from core.cam import Explainer, Target

__all__ = ["REGION", "RegionModel", "clip_with_region", "mass_in_region", "region"]

SIZE = (8, 32, 32)


def region(size=SIZE) -> tuple[slice, slice, slice]:
    """The last half of the frames x the top-right quarter of the frame: 1/8 of the clip."""
    t, h, w = size
    return slice(t // 2, t), slice(0, h // 2), slice(w // 2, w)


REGION = region()  # the last 4 of 8 frames, the top-right quarter of 32 x 32


class RegionModel(nn.Module):
    """Logit 0 is 8 x (the mean of the region's pixels - 0.5); the others are 0: nothing outside
    the region can change any score."""

    def __init__(self, size=SIZE):
        super().__init__()
        self.region = region(size)

    def forward(self, x):
        t, h, w = self.region
        z = 8 * (x[:, :, t, h, w].mean((1, 2, 3, 4)) - 0.5)
        return torch.stack([z, torch.zeros_like(z), torch.zeros_like(z)], 1)


def clip_with_region(seed: int = 3, size=SIZE) -> torch.Tensor:
    """A (1, 3, *size) clip: dim noise, and the evidence, a bright block in the region."""
    torch.manual_seed(seed)
    x = 0.3 * torch.rand(1, 3, *size)
    t, h, w = region(size)
    x[:, :, t, h, w] = 1.0
    return x


def mass_in_region(m: torch.Tensor) -> float:
    """The share of a (T, H, W) map's positive mass inside its region."""
    m = m.clamp(min=0)
    return float(m[region(tuple(m.shape))].sum() / m.sum())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--masks", type=int, nargs="+", default=[2000, 4096, 16000])
    ap.add_argument("--cells", nargs="+", default=["1x2x2", "2x2x2", "1x4x4", "2x4x4", "4x8x8"])
    ap.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=DESIGNS)
    ap.add_argument("--seeds", type=int, nargs=2, default=[0, 1], help="two seeds: their maps' correlation")
    ap.add_argument("--clip", default="8x32x32", help="T x H x W of the clip (the region is 1/8 of it)")
    args = ap.parse_args(argv)
    size = tuple(int(v) for v in args.clip.split("x"))
    explainer, x, target = Explainer(RegionModel(size)), clip_with_region(size=size), [Target(0, "a")]
    occ, _ = occlusion(explainer, x, target, Perturbation(window=(2, 4, 4), baseline="mean"))
    print(f"clip {args.clip}; occlusion, window 2x4x4: {mass_in_region(occlusion_pixels(occ, (2, 4, 4), size)[0]):.3f}")
    print("mass in the region (correlation of two seeds' maps)\n")
    print("| RISE cell | design | " + " | ".join(f"N = {n}" for n in args.masks) + " |")
    print("| --- | --- |" + " --- |" * len(args.masks))
    for cell in args.cells:
        window = tuple(int(v) for v in cell.split("x"))
        for design in args.designs:
            row = []
            for n in args.masks:
                maps = [rise(explainer, x, target, Perturbation(masks=n, window=window, baseline="mean", seed=seed,
                                                                design=design, batch_size=500))[0][0]
                        for seed in args.seeds]
                corr = float(torch.corrcoef(torch.stack([m.flatten() for m in maps]))[0, 1])
                row.append(f"{mass_in_region(maps[0]):.3f} ({corr:.3f})")
            print(f"| {cell} | {design} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
