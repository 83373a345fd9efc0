"""RISE for video (Petsiuk, Das & Saenko, 2018, in space-time): random smooth masks over
(t, h, w), weighted by the model's score of each masked clip.

Mask i: a random binary grid of ``ceil(size / window)`` cells per axis (each cell kept with
probability ``keep``), upsampled trilinearly to ``(cells + 1) * window`` and cut to the clip at a
random shift in ``[0, window)`` per axis, so cell edges fall anywhere. The masked clip is
``baseline + m * (clip - baseline)``. With s_i the score of masked clip i (a class's
probability, or logit A - logit B for a contrast) and s̄ their mean over the N masks:

    map(x) = sum_i (s_i - s̄) m_i(x) / (N * keep)

which is RISE's ``sum_i s_i m_i(x) / (N * keep)`` minus ``s̄ * mean_i m_i(x) / keep``: what a
score that ignored the clip would give (about s̄ everywhere). Parts that do not matter are then
near 0 rather than near the mean score, so the map's mass sits where the evidence is; the
order of the pixels is RISE's up to the mask density's fluctuations.

Masks are drawn one by one from a generator seeded with ``seed`` (on the CPU), so the map is
the same for any batch size and device; each batch's masks are made when it runs, so memory is
flat in N. The map is on the model input's own (T, H, W) grid.
"""

from __future__ import annotations

import math

import torch

from .perturb import Perturbation, baseline_clip, batches, scores

__all__ = ["forward_passes", "rise", "rise_masks"]


def forward_passes(params: Perturbation, shape) -> int:
    """Forward passes RISE will run on a model input of ``shape`` (..., T, H, W): N."""
    params.check_input(tuple(shape[-3:]), "rise")
    return params.masks


def _linear_weights(size: int, cells: int, cell: int, shifts: torch.Tensor) -> torch.Tensor:
    """(n, size, cells): 1-D linear interpolation (``align_corners=False``) from ``cells`` to
    ``(cells + 1) * cell`` samples, rows ``shift .. shift + size`` of it for each of the n shifts:
    what ``F.interpolate`` followed by the crop computes along one axis, as a matrix."""
    big = (cells + 1) * cell
    scale = torch.tensor(cells / big, dtype=torch.float32)  # as F.interpolate computes it
    src = ((torch.arange(big, dtype=torch.float32) + 0.5) * scale - 0.5).clamp(min=0)
    lo = src.floor().long().clamp(max=cells - 1)
    hi = (lo + 1).clamp(max=cells - 1)
    frac = src - lo
    full = torch.zeros(big, cells)
    full.scatter_add_(1, lo[:, None], (1 - frac)[:, None])
    full.scatter_add_(1, hi[:, None], frac[:, None])
    rows = shifts[:, None] + torch.arange(size)  # (n, size)
    return full[rows]


def rise_masks(generator: torch.Generator, n: int, size, params: Perturbation) -> torch.Tensor:
    """(n, T, H, W) masks in [0, 1], the next n from ``generator``: binary grids upsampled
    trilinearly and cut at random shifts, computed as three batched products with 1-D
    interpolation matrices (trilinear interpolation is their tensor product), so no mask is
    ever made at its upsampled size."""
    cell = params.window
    cells = [math.ceil(s / c) for s, c in zip(size, cell, strict=True)]
    grids, shifts = [], []
    for _ in range(n):  # one mask at a time: the same masks whatever the batch size
        grids.append(torch.rand(cells, generator=generator) < params.keep)
        shifts.append([int(torch.randint(0, c, (1,), generator=generator)) for c in cell])
    shifts = torch.tensor(shifts).view(n, 3)
    wt, wh, ww = (_linear_weights(s, g, c, shifts[:, i])
                  for i, (s, g, c) in enumerate(zip(size, cells, cell, strict=True)))
    t, h, w = size
    m = torch.stack(grids).float()  # (n, gt, gh, gw)
    m = torch.matmul(m, ww.transpose(1, 2).unsqueeze(1))  # along W => (n, gt, gh, W)
    m = torch.matmul(wh.unsqueeze(1), m)  # along H => (n, gt, H, W)
    return torch.bmm(wt, m.reshape(n, cells[0], h * w)).view(n, t, h, w)  # along T


def rise(explainer, x: torch.Tensor, targets, params: Perturbation, *, progress=None, cancel=None):
    """(K, T, H, W) RISE maps for the K targets, and info; ``x``: the (1, C, T, H, W) model
    input; ``progress(done, total)`` after each batch; ``cancel()`` returning True stops before
    the next batch with :class:`Cancelled`."""
    size = tuple(x.shape[-3:])
    total = forward_passes(params, x.shape)
    x = x.to(explainer.device)
    fill = baseline_clip(x, params.baseline)
    diff = x - fill
    generator = torch.Generator().manual_seed(params.seed)
    k = len(targets)
    weighted = torch.zeros(k, math.prod(size), dtype=torch.float64)  # sum_i s_i m_i
    coverage = torch.zeros(math.prod(size), dtype=torch.float64)  # sum_i m_i
    score_sum = torch.zeros(k, dtype=torch.float64)
    buffer = torch.empty(0, device=x.device)  # the masked clips, reused batch after batch
    for idx in batches(total, params.batch_size, "rise", progress, cancel):
        m = rise_masks(generator, len(idx), size, params)
        if len(buffer) != len(idx):
            buffer = torch.empty(len(idx), *x.shape[1:], device=x.device)
        # (B, T, H, W) => (B, 1, T, H, W), the same mask on every channel
        xb = torch.mul(m.to(x.device).unsqueeze(1), diff, out=buffer).add_(fill)
        s = scores(explainer.predict(xb, batch_size=len(idx)), targets)  # (B, K)
        flat = m.flatten(1)
        weighted += (s.T.float() @ flat).double()  # a batch's sum in float32, the total in float64
        coverage += flat.sum(0).double()
        score_sum += s.sum(0)
    n = params.masks
    maps = (weighted - (score_sum / n)[:, None] * coverage) / (n * params.keep)
    return maps.view(k, *size).float(), {
        "forward_passes": total, "masks": n, "window": params.window, "keep": params.keep,
        "baseline": params.baseline.value, "seed": params.seed, "batch_size": params.batch_size}
