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

How the grids are drawn (``design``):

- ``independent``: every cell of every mask on its own, as in the paper. The estimate at a
  voxel the score does not depend on is then a sum of N random terms of mean 0: a noise floor
  that falls only as 1/sqrt(N).
- ``balanced`` (the default; ``keep`` = 0.5): the masks come in blocks of n (a power of two
  above the number of cells) that share a shift; within a block, cell c of mask i is bit
  ``parity(r_i & k_c) xor f_c`` with rows r_i a random permutation of 0..n-1, distinct random
  column keys k_c in 1..n-1 and random flips f_c: the rows of a Sylvester-Hadamard matrix, so
  over a whole block every cell is kept exactly half the time and any two cells agree exactly
  as often as they differ. Each cell is still kept with probability 1/2 and any two cells are
  independent; the noise a score that depends linearly on some cells puts on the others then
  cancels exactly over a block instead of falling as 1/sqrt(N) (what remains comes from the
  score's non-linearity and from a last, partial block). Measured on a model whose score
  depends on one region only (docs/trust.md, ``python -m benchmarks.rise_mass``): at 2000
  masks two seeds correlate 0.98-1.00 where independent masks give 0.83-0.99 (less for cells
  whose block is larger than N), and more of the mass is in the region.

Masks are drawn block by block from a generator seeded with ``seed`` (on the CPU), so the map
is the same for any batch size and device; each batch's masks are made when it runs, so memory
is flat in N. The map is on the model input's own (T, H, W) grid.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from ..cam.registry import register_method
from ..cam.result import Target
from .cost import PROBE_BATCHES, Probe, measured, probe_clip
from .perturb import Perturbation, baseline_clip, batches, scores

__all__ = ["Masks", "forward_passes", "rise"]


def forward_passes(params: Perturbation, shape) -> int:
    """Forward passes RISE will run on a model input of ``shape`` (..., T, H, W): N."""
    params.check_input(tuple(shape[-3:]), "rise")
    return params.masks


INDEPENDENT_BLOCK = 32  # independent grids drawn per generator call


def _interpolation(size: int, cells: int, cell: int) -> torch.Tensor:
    """((cells + 1) * cell, cells): 1-D linear interpolation (``align_corners=False``) from
    ``cells`` to ``(cells + 1) * cell`` samples, what ``F.interpolate`` computes along one axis,
    as a matrix; rows ``shift .. shift + size`` of it are the crop at that shift."""
    big = (cells + 1) * cell
    scale = torch.tensor(cells / big, dtype=torch.float32)  # as F.interpolate computes it
    src = ((torch.arange(big, dtype=torch.float32) + 0.5) * scale - 0.5).clamp(min=0)
    lo = src.floor().long().clamp(max=cells - 1)
    hi = (lo + 1).clamp(max=cells - 1)
    frac = src - lo
    full = torch.zeros(big, cells)
    full.scatter_add_(1, lo[:, None], (1 - frac)[:, None])
    full.scatter_add_(1, hi[:, None], frac[:, None])
    return full


class Masks:
    """RISE's masks for a model input of ``size`` (T, H, W), in order: :meth:`take` gives the
    next n, whatever n is (see the module's docstring for the two designs)."""

    def __init__(self, size, params: Perturbation):
        self.size, self.cell, self.keep, self.design = tuple(size), params.window, params.keep, params.design
        self.cells = [math.ceil(s / c) for s, c in zip(self.size, self.cell, strict=True)]
        self.axes = [_interpolation(s, g, c) for s, g, c in zip(self.size, self.cells, self.cell, strict=True)]
        self.generator = torch.Generator().manual_seed(params.seed)
        count = math.prod(self.cells)
        self.block = 1 << count.bit_length() if self.design == "balanced" else INDEPENDENT_BLOCK
        self.left = 0  # masks left in the current block

    def _new_block(self) -> None:
        g, n = self.generator, self.block
        if self.design == "balanced":  # Hadamard rows in a random order, random keys and flips, one shift
            self._rows = torch.randperm(n, generator=g)
            self._keys = torch.randperm(n - 1, generator=g)[:math.prod(self.cells)] + 1
            self._flips = torch.randint(0, 2, (len(self._keys),), generator=g)
            self._shift = torch.tensor([int(torch.randint(0, c, (1,), generator=g)) for c in self.cell])
        else:  # every cell, and every mask's shift, on its own
            self._drawn = torch.rand(n, *self.cells, generator=g) < self.keep
            self._shifts = (torch.rand(n, 3, generator=g) * torch.tensor(self.cell)).long()
        self.left = n

    def _grids(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The next n binary grids (n, *cells) and their shifts (n, 3), within one block."""
        start = self.block - self.left
        self.left -= n
        if self.design == "balanced":
            v = self._rows[start:start + n, None] & self._keys[None, :]
            parity = self._flips.expand_as(v).clone()
            for bit in range(self.block.bit_length() - 1):
                parity ^= (v >> bit) & 1
            return (parity == 0).view(n, *self.cells), self._shift.expand(n, 3)
        return self._drawn[start:start + n], self._shifts[start:start + n]

    def grids(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The next n binary grids (n, *cells) and their shifts (n, 3)."""
        grids, shifts = [], []
        while n > 0:
            if self.left == 0:
                self._new_block()
            g, sh = self._grids(min(n, self.left))
            grids.append(g)
            shifts.append(sh)
            n -= len(g)
        return torch.cat(grids), torch.cat(shifts)

    def upsample(self, grids: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
        """(n, T, H, W) masks in [0, 1]: the grids upsampled trilinearly to ``(cells + 1) *
        window`` and cut at their shifts, computed as three batched products with 1-D
        interpolation matrices (trilinear interpolation is their tensor product), so no mask is
        ever made at its upsampled size."""
        n, m = len(grids), grids.float()
        wt, wh, ww = (full[shifts[:, i, None] + torch.arange(s)]
                      for i, (full, s) in enumerate(zip(self.axes, self.size, strict=True)))
        t, h, w = self.size
        m = torch.matmul(m, ww.transpose(1, 2).unsqueeze(1))  # along W => (n, gt, gh, W)
        m = torch.matmul(wh.unsqueeze(1), m)  # along H => (n, gt, H, W)
        return torch.bmm(wt, m.reshape(n, self.cells[0], h * w)).view(n, t, h, w)  # along T

    def take(self, n: int) -> torch.Tensor:
        """The next n masks (n, T, H, W)."""
        return self.upsample(*self.grids(n))


def _probe(explainer, settings, shape, clock) -> Probe:
    """RISE's cost (:func:`core.attribution.estimate`): :data:`PROBE_BATCHES` batches of masks, a
    stamp before the first and after each."""
    params, x = settings.perturbation, probe_clip(explainer, shape)
    stamps = [clock()]
    rise(explainer, x, [Target(0, "class 0")], replace(params, masks=PROBE_BATCHES * params.batch_size),
         progress=lambda done, total: stamps.append(clock()))
    return measured(explainer, x, params, stamps, [params.batch_size] * PROBE_BATCHES, clock)


@register_method("rise", params=Perturbation, passes=forward_passes, probe=_probe)
def rise(explainer, x: torch.Tensor, targets, params: Perturbation, *, progress=None, cancel=None):
    """(K, T, H, W) RISE maps for the K targets, and info; ``x``: the (1, C, T, H, W) model
    input; ``progress(done, total)`` after each batch; ``cancel()`` returning True stops before
    the next batch with :class:`Cancelled`."""
    size = tuple(x.shape[-3:])
    total = forward_passes(params, x.shape)
    x = x.to(explainer.device)
    fill = baseline_clip(x, params.baseline)
    diff = x - fill
    masks = Masks(size, params)
    k = len(targets)
    weighted = torch.zeros(k, math.prod(size), dtype=torch.float64)  # sum_i s_i m_i
    coverage = torch.zeros(math.prod(size), dtype=torch.float64)  # sum_i m_i
    score_sum = torch.zeros(k, dtype=torch.float64)
    buffer = torch.empty(0, device=x.device)  # the masked clips, reused batch after batch
    for idx in batches(total, params.batch_size, "rise", progress, cancel):
        m = masks.take(len(idx))
        if len(buffer) != len(idx):
            buffer = torch.empty(len(idx), *x.shape[1:], device=x.device)
        # fill + m * diff, (B, T, H, W) => (B, 1, T, H, W): the same mask on every channel
        xb = torch.addcmul(fill, m.to(x.device).unsqueeze(1), diff, out=buffer)
        s = scores(explainer.predict(xb, batch_size=len(idx)), targets)  # (B, K)
        flat = m.flatten(1)
        weighted += (s.T.float() @ flat).double()  # a batch's sum in float32, the total in float64
        coverage += flat.sum(0).double()
        score_sum += s.sum(0)
    n = params.masks
    maps = (weighted - (score_sum / n)[:, None] * coverage) / (n * params.keep)
    return maps.view(k, *size).float(), {
        "forward_passes": total, "masks": n, "window": params.window, "keep": params.keep,
        "baseline": params.baseline.value, "seed": params.seed, "design": params.design,
        "batch_size": params.batch_size}
