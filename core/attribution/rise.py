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
import torch.nn.functional as F

from .perturb import Perturbation, baseline_clip, batches, scores

__all__ = ["forward_passes", "rise", "rise_masks"]


def forward_passes(params: Perturbation, shape) -> int:
    """Forward passes RISE will run on a model input of ``shape`` (..., T, H, W): N."""
    params.check_input(tuple(shape[-3:]), "rise")
    return params.masks


def rise_masks(generator: torch.Generator, n: int, size, params: Perturbation) -> torch.Tensor:
    """(n, T, H, W) masks in [0, 1], the next n from ``generator``."""
    cell = params.window
    cells = [math.ceil(s / c) for s, c in zip(size, cell, strict=True)]
    grids, shifts = [], []
    for _ in range(n):  # one mask at a time: the same masks whatever the batch size
        grids.append((torch.rand(cells, generator=generator) < params.keep).float())
        shifts.append([int(torch.randint(0, c, (1,), generator=generator)) for c in cell])
    big = [(g + 1) * c for g, c in zip(cells, cell, strict=True)]
    up = F.interpolate(torch.stack(grids).unsqueeze(1), size=big, mode="trilinear",
                       align_corners=False)[:, 0]
    t, h, w = size
    return torch.stack([u[a:a + t, b:b + h, c:c + w] for u, (a, b, c) in zip(up, shifts, strict=True)])


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
    for idx in batches(total, params.batch_size, "rise", progress, cancel):
        m = rise_masks(generator, len(idx), size, params)
        xb = fill + m.to(x.device).unsqueeze(1) * diff  # (B, T, H, W) => (B, 1, T, H, W) per channel
        s = scores(explainer.predict(xb, batch_size=len(idx)), targets)  # (B, K)
        flat = m.flatten(1).double()
        weighted += s.T @ flat
        coverage += flat.sum(0)
        score_sum += s.sum(0)
    n = params.masks
    maps = (weighted - (score_sum / n)[:, None] * coverage) / (n * params.keep)
    return maps.view(k, *size).float(), {
        "forward_passes": total, "masks": n, "window": params.window, "keep": params.keep,
        "baseline": params.baseline.value, "seed": params.seed, "batch_size": params.batch_size}
