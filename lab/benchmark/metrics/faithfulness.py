"""Faithfulness: does removing what the map points at change the model's answer?

Deletion and insertion are :func:`core.trust.perturb.deletion_insertion` (removed voxels
replaced by the clip's temporal mean). This module adds ROAD (Rong et al., 2022, "A Consistent
and Efficient Evaluation Strategy for Attribution Methods") with its noisy *linear* imputation
generalised to (T, H, W), so that removal fills a hole from the frames before and after it and
the pixels around it instead of pushing the clip off the data, and the symmetric relevance gain
(Bluecher et al., 2024), which reads most- and least-relevant-first removal together.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from core.trust.perturb import Curve, deletion_insertion

__all__ = ["Curve", "deletion_insertion", "impute", "road_curves", "srg", "stencil"]

FRACTIONS = (0.2, 0.4, 0.6, 0.8)  # of the voxels removed, per ROAD curve


def stencil(temporal_weight: float = 1 / 6, dtype=torch.float64) -> torch.Tensor:
    """(3, 3, 3) neighbour weights, centre 0: ROAD's 2-D weights in each frame (1/6 for the 4
    direct neighbours, 1/12 for the 4 diagonal ones) plus ``temporal_weight`` for the same pixel
    in the frame before and after. On a one-frame clip it is exactly ROAD's (and Quantus's)."""
    k = torch.zeros(3, 3, 3, dtype=dtype)
    k[1] = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0.0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]], dtype=dtype)
    k[0, 1, 1] = k[2, 1, 1] = temporal_weight
    return k


def impute(x: torch.Tensor, removed: torch.Tensor, *, noise: float = 0.0, weights: torch.Tensor | None = None,
           iters: int = 200, tol: float = 1e-2, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` (C, T, H, W) with the voxels where ``removed`` (T, H, W) is True replaced by the
    solution of ROAD's linear system: each removed voxel equals the weighted mean of its
    in-bounds neighbours (:func:`stencil`), removed or not, ``sum_n w_n (x_v - x_n) = 0``. Then
    Gaussian noise of std ``noise`` is added to the imputed voxels (ROAD's "noisy": 0.01 there).

    Solved per channel by conjugate gradients on the removed voxels (the system is symmetric and
    positive definite wherever a hole touches a kept voxel) to a residual of ``tol`` of the
    right-hand side's, started from the same system solved on frames of half the size (down to
    24 pixels; coarse to fine, so a large hole takes a few hundred cheap iterations, not
    thousands of full-size ones) and, at the coarsest, from the clip's per-pixel temporal mean.
    A hole with no kept voxel around it (everything removed) keeps that start. The default
    ``tol`` (1%) leaves a mean error of about 0.008 on [0, 1] pixels, under ROAD's own noise."""
    if x.dim() != 4 or removed.shape != x.shape[1:]:
        raise ValueError(f"x must be (C, T, H, W) and removed (T, H, W); got {tuple(x.shape)}, {tuple(removed.shape)}")
    w = stencil() if weights is None else weights
    taps = [((dt, dy, dx), float(w[dt + 1, dy + 1, dx + 1])) for dt in (-1, 0, 1) for dy in (-1, 0, 1)
            for dx in (-1, 0, 1) if w[dt + 1, dy + 1, dx + 1] != 0]
    r = removed.to(torch.float32)[None, None]  # (1, 1, T, H, W)
    v = x.to(torch.float32)[:, None]  # (C, 1, T, H, W): channels as the batch
    T, H, W = removed.shape

    def nb(z):  # sum_n w_n z_n over in-bounds neighbours (zero padding: out of bounds adds nothing)
        zp = F.pad(z, (1, 1, 1, 1, 1, 1))
        out = torch.zeros_like(z)
        for (dt, dy, dx), wt in taps:
            out.add_(zp[..., 1 + dt:1 + dt + T, 1 + dy:1 + dy + H, 1 + dx:1 + dx + W], alpha=wt)
        return out

    deg = nb(torch.ones_like(r))
    rhs = nb(v * (1 - r)) * r

    def a(z):
        return (deg * z - nb(z * r)) * r

    if min(H, W) >= 48:  # start from the half-size solution: voxels of a 2x2 block, removed if most are
        small = F.avg_pool3d(v, (1, 2, 2), ceil_mode=True)[:, 0]
        gone = F.avg_pool3d(r, (1, 2, 2), ceil_mode=True)[0, 0] > 0.5
        coarse = impute(small, gone, weights=weights, iters=iters, tol=tol)[:, None]
        sol = F.interpolate(coarse, size=(T, H, W), mode="trilinear", align_corners=False) * r
    else:
        sol = v.mean(2, keepdim=True).expand_as(v) * r
    res = rhs - a(sol)
    p, rs = res.clone(), (res * res).flatten(1).sum(1)
    scale = torch.clamp((rhs * rhs).flatten(1).sum(1), min=1e-30)
    for _ in range(iters):
        if bool((rs <= tol * tol * scale).all()):
            break
        ap = a(p)
        alpha = rs / torch.clamp((p * ap).flatten(1).sum(1), min=1e-30)
        sol = sol + alpha.view(-1, 1, 1, 1, 1) * p
        res = res - alpha.view(-1, 1, 1, 1, 1) * ap
        rs_new = (res * res).flatten(1).sum(1)
        p = res + (rs_new / torch.clamp(rs, min=1e-30)).view(-1, 1, 1, 1, 1) * p
        rs = rs_new
    if noise:
        sol = sol + noise * torch.randn(sol.shape, generator=generator, dtype=sol.dtype) * r
    out = torch.where(r.bool(), sol, v)[:, 0]
    return out.to(x.dtype)


def road_curves(predict: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, target: int,
                relevance: torch.Tensor, *, fractions=FRACTIONS, noise: float = 0.01, seed: int = 0) -> dict[str, Curve]:
    """ROAD's curves for a (1, C, T, H, W) model input ``x`` and a (T, H, W) ``relevance`` map at
    the input's size: the class probability (``predict`` gives softmax rows) as a growing share
    of voxels is removed by :func:`impute` (noise std ``noise``, seeded), most relevant first
    ("morf") and least relevant first ("lerf"). Ties in relevance are broken by voxel order.
    Each curve starts at the untouched clip (fraction 0)."""
    T, H, W = x.shape[2:]
    if tuple(relevance.shape) != (T, H, W):
        raise ValueError(f"relevance is {tuple(relevance.shape)}; give it at the input's size {(T, H, W)}")
    order = torch.argsort(-relevance.flatten().double(), stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    g = torch.Generator().manual_seed(seed)
    clips, keys = [x], []
    n = order.numel()
    for name in ("morf", "lerf"):
        for f in fractions:
            k = round(f * n)
            gone = (rank < k) if name == "morf" else (rank >= n - k)
            clips.append(impute(x[0].cpu(), gone.view(T, H, W), noise=noise, generator=g)[None].to(x.device))
            keys.append((name, f))
    probs = predict(torch.cat(clips))[:, target].tolist()
    out = {}
    for name in ("morf", "lerf"):
        pts = [(0.0, probs[0])] + [(f, p) for (c, f), p in zip(keys, probs[1:], strict=True) if c == name]
        out[name] = Curve(tuple(f for f, _ in pts), tuple(p for _, p in pts))
    return out


def srg(morf: Curve, lerf: Curve) -> float:
    """Symmetric relevance gain (Bluecher, Vielhaben & Strodthoff, 2024): the area between the
    least- and most-relevant-first removal curves, ``AUC(LeRF) - AUC(MoRF)``, on the same
    fractions. Positive: removing what the map ranks high hurts more than removing what it ranks
    low; about 0 for a random map, whatever the removal does to the clip's data."""
    if morf.fractions != lerf.fractions:
        raise ValueError("the MoRF and LeRF curves must share their fractions")
    return lerf.auc - morf.auc
