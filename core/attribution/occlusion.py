"""Space-time occlusion: slide a (frames x pixels) window over the clip, replace what it covers by
a baseline, and score the drop of each target.

Windows start at multiples of the stride along each axis, as captum's ``Occlusion`` places them:
``ceil((size - window) / stride) + 1`` starts per axis, the last window cut at the clip's edge.
The drop of window w is ``score(clip) - score(clip with w hidden)``: a class's probability, or
``logit A - logit B`` for a contrast (see :func:`core.attribution.perturb.scores`).

The map is on the stride grid, ``ceil(size / stride)`` cells per axis: a cell's value is the
mean drop of the windows that cover it. Because the stride divides the window, every pixel of a
cell is covered by the same windows, so the cell's value is exactly captum's per-pixel
attribution (the sum of the covering windows' drops over their count) at each of its pixels:
:func:`occlusion_pixels` repeats each cell over its pixels and gives captum's map, which is how the
engine puts occlusion's map on the model input (its ``on_input``, :mod:`core.cam.registry`).
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

from ..cam.registry import register_method
from ..cam.result import Target
from ..errors import Cancelled
from .cost import PROBE_BATCHES, Probe, measured, probe_clip
from .perturb import Perturbation, baseline_clip, batches, scores

__all__ = ["forward_passes", "occlusion", "occlusion_pixels"]


def _starts(size: tuple[int, int, int], p: Perturbation) -> list[int]:
    return [math.ceil((s - w) / st) + 1 for s, w, st in zip(size, p.window, p.stride, strict=True)]


def forward_passes(params: Perturbation, shape) -> int:
    """Forward passes occlusion will run on a model input of ``shape`` (..., T, H, W): one for
    the clip, one per window."""
    size = tuple(shape[-3:])
    params.check_input(size, "occlusion")
    return 1 + math.prod(_starts(size, params))


def _probe(explainer, settings, shape, clock) -> Probe:
    """Occlusion's cost (:func:`core.attribution.estimate`): a stamp after the clean clip's pass,
    then after each batch; stopped after :data:`PROBE_BATCHES` batches."""
    params, x, stamps = settings.perturbation, probe_clip(explainer, shape), []
    with contextlib.suppress(Cancelled):
        occlusion(explainer, x, [Target(0, "class 0")], params, progress=lambda done, total: stamps.append(clock()),
                  cancel=lambda: len(stamps) > PROBE_BATCHES)
    windows = forward_passes(params, shape) - 1
    sizes = [min(params.batch_size, windows - s) for s in range(0, windows, params.batch_size)]
    return measured(explainer, x, params, stamps, sizes, clock, unbatched=1)  # its clean clip: one pass of one clip


@register_method("occlusion", params=Perturbation, passes=forward_passes, probe=_probe,
                 on_input=lambda raw, params, size: occlusion_pixels(raw, params.stride, size))
def occlusion(explainer, x: torch.Tensor, targets, params: Perturbation, *, progress=None, cancel=None):
    """(K, ceil(T/st), ceil(H/sh), ceil(W/sw)) occlusion maps for the K targets, and info.
    ``x``: the (1, C, T, H, W) model input; ``progress(done, total)`` after each batch;
    ``cancel()`` returning True stops before the next batch with :class:`Cancelled`."""
    size = tuple(x.shape[-3:])
    total = forward_passes(params, x.shape)
    counts = _starts(size, params)
    x = x.to(explainer.device)
    fill = baseline_clip(x, params.baseline)
    base = scores(explainer.predict(x, batch_size=1), targets)[0]  # (K,)
    if progress is not None:
        progress(1, total)
    (wt, wh, ww), (st, sh, sw) = params.window, params.stride
    drops = torch.empty(len(targets), total - 1, dtype=torch.float64)
    buffer, hidden = torch.empty(0, device=x.device), []  # the clips, reused; what each hides
    for idx in batches(total - 1, params.batch_size, "occlusion", progress, cancel, 1, total):
        if len(buffer) != len(idx):
            buffer, hidden = x.expand(len(idx), *x.shape[1:]).clone(), []
        for j, region in enumerate(hidden):  # put back what the last batch hid
            buffer[j][region] = x[0][region]
        hidden = []
        for j, n in enumerate(idx):
            a, rest = divmod(n, counts[1] * counts[2])
            b, c = divmod(rest, counts[2])
            region = (slice(None), slice(a * st, a * st + wt), slice(b * sh, b * sh + wh),
                      slice(c * sw, c * sw + ww))
            buffer[j][region] = fill[0][region]
            hidden.append(region)
        drops[:, idx.start:idx.stop] = base[:, None] - scores(explainer.predict(buffer, batch_size=len(idx)), targets).T
    # the windows' drops on the grid of window starts, spread onto the cells each covers
    grid = drops.view(len(targets), 1, *counts)  # (K, n_windows) => (K, 1, nt, nh, nw)
    kernel = torch.ones(1, 1, wt // st, wh // sh, ww // sw, dtype=grid.dtype)
    total_drop = F.conv_transpose3d(grid, kernel)
    covered = F.conv_transpose3d(torch.ones_like(grid[:1]), kernel)
    maps = (total_drop / covered)[:, 0].float()
    return maps, {"forward_passes": total, "window": params.window, "stride": params.stride,
                  "baseline": params.baseline.value, "batch_size": params.batch_size}


def occlusion_pixels(maps: torch.Tensor, stride, size) -> torch.Tensor:
    """(K, T, H, W): each cell of an occlusion map repeated over its pixels (the last cells cut at
    the clip's edge); equal to captum's ``Occlusion`` attribution with the same windows."""
    out = maps
    for dim, (s, n) in enumerate(zip(stride, size, strict=True), start=1):
        out = out.repeat_interleave(s, dim).narrow(dim, 0, n)
    return out
