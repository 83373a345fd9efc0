"""How long occlusion and RISE will take on a model, measured from what they really do.

A count of forward passes times the model's forward speed runs low: each batch of a perturbation
method also makes its clips (RISE draws its grids, upsamples them to masks and blends each with
the baseline; occlusion copies a window of the baseline in and the last one back), scores them
and adds them up, and the call runs a forward pass of one clip to classify (and occlusion one
for the unperturbed clip) besides its batches. So :func:`estimate` runs the method itself, with
the asked settings, on a random clip of the model's input size for a few batches (its
``cancel`` stops it), and times:

- ``per_pass``: seconds per perturbed clip, the mean of its batches after the first (a warm-up):
  mask making, blending, the batched forward pass, scoring and summing;
- ``fixed``: what runs once: one no-grad forward pass of one clip (the classifying pass; twice
  for occlusion, whose first pass scores the clean clip) and the baseline clip.

``seconds = fixed + per_pass * perturbed passes``. The measurement is kept by the Explainer, per
method and settings (RISE's number of masks and seed aside: they change how many batches run,
not what one costs), so the page measures once per model and settings.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ..cam.settings import Method, Settings
from ..errors import SettingsError
from .occlusion import forward_passes as occlusion_passes
from .occlusion import occlusion
from .perturb import Cancelled, baseline_clip
from .rise import forward_passes as rise_passes
from .rise import rise

__all__ = ["Estimate", "estimate"]

PROBE_BATCHES = 3  # batches the measurement runs: a warm-up, then the ones timed


@dataclass(frozen=True)
class Estimate:
    """What a perturbation method will cost on one clip, before it runs."""

    passes: int  # forward passes in all, the classifying one included
    perturbed: int  # of which perturbed clips, run in batches
    per_pass: float  # seconds per perturbed clip, everything its batch does included
    fixed: float  # seconds run once: the unbatched forward passes (passes - perturbed) and the baseline clip

    @property
    def seconds(self) -> float:
        return self.fixed + self.per_pass * self.perturbed


def _probe(explainer, settings: Settings, shape, clock) -> tuple[float, float, float]:
    """(seconds per perturbed clip, seconds of one clip's forward pass, seconds of the baseline
    clip): the method's own batches, timed by ``clock`` on a random clip of ``shape``."""
    from ..cam.result import Target

    params, is_rise = settings.perturbation, settings.method == Method.RISE
    torch.manual_seed(0)
    x = torch.rand(1, *tuple(shape)[1:]).to(explainer.device)
    stamps: list[float] = []

    def progress(done, total):
        stamps.append(clock())

    t0 = clock()
    if is_rise:  # a progress stamp after each batch
        rise(explainer, x, [Target(0, "class 0")], replace(params, masks=PROBE_BATCHES * params.batch_size),
             progress=progress)
        stamps.insert(0, t0)
        sizes = [params.batch_size] * PROBE_BATCHES
    else:  # a stamp after the clean clip's pass, then after each batch; stopped after PROBE_BATCHES
        with contextlib.suppress(Cancelled):
            occlusion(explainer, x, [Target(0, "class 0")], params, progress=progress,
                      cancel=lambda: len(stamps) > PROBE_BATCHES)
        windows = occlusion_passes(params, shape) - 1
        sizes = [min(params.batch_size, windows - s) for s in range(0, windows, params.batch_size)]
    spans = [(b - a, n) for a, b, n in zip(stamps[:-1], stamps[1:], sizes, strict=False)]
    spans = spans[1:] if len(spans) > 1 else spans  # the first batch warms up
    per_pass = sum(s for s, _ in spans) / sum(n for _, n in spans)
    t1 = clock()
    explainer.predict(x, batch_size=1)  # one clip, warm: what the classifying pass costs
    t2 = clock()
    baseline_clip(x, params.baseline)
    return per_pass, t2 - t1, clock() - t2


def estimate(explainer, settings: Settings, shape, *, clock: Callable[[], float] = time.perf_counter) -> Estimate:
    """What ``settings`` (a resolved occlusion or RISE :class:`Settings`: see
    :func:`core.attribution.maps.resolve`) will cost on ``explainer``'s model for a model input of
    ``shape`` (1, C, T, H, W); measured on the first call for these settings (a few of the
    method's batches), then kept by the Explainer, as :meth:`core.Explainer.clip_seconds` keeps
    its speeds. ``clock``: wall time (the page's); ``time.process_time`` gives CPU seconds (a
    benchmark on a machine shared with other jobs)."""
    if settings.method not in (Method.OCCLUSION, Method.RISE):
        raise SettingsError(f"a time estimate is for occlusion or rise, not {settings.method.value}")
    method_passes = occlusion_passes if settings.method == Method.OCCLUSION else rise_passes
    total = method_passes(settings.perturbation, shape) + 1  # and the pass that predicts the classes
    single = 2 if settings.method == Method.OCCLUSION else 1  # the classifying pass; occlusion's clean clip
    key = ("estimate", settings.method.value, replace(settings.perturbation, masks=1, seed=0), tuple(shape),
           str(explainer.device), clock)
    kept = explainer._clip_seconds  # the Explainer's measurements: dropped with it
    if key not in kept:
        kept[key] = _probe(explainer, settings, shape, clock)
    per_pass, one, baseline = kept[key]
    return Estimate(total, total - single, per_pass, single * one + baseline)
