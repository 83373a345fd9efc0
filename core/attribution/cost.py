"""How long a method that perturbs the clip (occlusion, RISE) will take on a model, measured from
what it really does.

A count of forward passes times the model's forward speed runs low: each batch of a perturbation
method also makes its clips (RISE draws its grids, upsamples them to masks and blends each with
the baseline; occlusion copies a window of the baseline in and the last one back), scores them
and adds them up, and the call runs a forward pass of one clip to classify (and occlusion one
for the unperturbed clip) besides its batches. So each such method registers a ``probe``
(:mod:`core.cam.registry`) that runs the method itself, with the asked settings, on a random clip
of the model's input size (:func:`probe_clip`) for :data:`PROBE_BATCHES` batches, and
:func:`measured` times:

- ``per_pass``: seconds per perturbed clip, the mean of its batches after the first (a warm-up):
  mask making, blending, the batched forward pass, scoring and summing;
- ``fixed``: what runs once: one no-grad forward pass of one clip (the classifying pass; twice
  for occlusion, whose first pass scores the clean clip) and the baseline clip.

``seconds = fixed + per_pass * perturbed passes`` (:func:`estimate`, for any method with a probe).
The measurement is kept by the Explainer, per method and settings (RISE's number of masks and
seed aside: they change how many batches run, not what one costs), so the page measures once per
model and settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from ..cam.registry import method_entry, registered
from ..cam.settings import Settings
from ..errors import SettingsError
from .perturb import baseline_clip

__all__ = ["Estimate", "Probe", "estimate", "measured", "probe_clip"]

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


@dataclass(frozen=True)
class Probe:
    """What a method's probe measured."""

    per_pass: float  # seconds per perturbed clip, its batches after the first
    one: float  # seconds of one clip's no-grad forward pass, warm
    baseline: float  # seconds to make the baseline clip
    unbatched: int  # the method's own forward passes of one clip each (occlusion's clean clip: 1)


def probe_clip(explainer, shape) -> torch.Tensor:
    """The random clip of model-input ``shape`` (1, C, T, H, W) that a probe runs its method on."""
    torch.manual_seed(0)
    return torch.rand(1, *tuple(shape)[1:]).to(explainer.device)


def measured(explainer, x, params, stamps: list[float], sizes: list[int], clock, *, unbatched: int = 0) -> Probe:
    """A :class:`Probe` from a method's run on ``x``: ``stamps`` are ``clock()`` before its first
    batch and after each, ``sizes`` its batches' numbers of clips; then one clip's forward pass and
    the baseline clip of ``params`` are timed here."""
    spans = [(b - a, n) for a, b, n in zip(stamps[:-1], stamps[1:], sizes, strict=False)]
    spans = spans[1:] if len(spans) > 1 else spans  # the first batch warms up
    per_pass = sum(s for s, _ in spans) / sum(n for _, n in spans)
    t1 = clock()
    explainer.predict(x, batch_size=1)  # one clip, warm: what the classifying pass costs
    t2 = clock()
    baseline_clip(x, params.baseline)
    return Probe(per_pass, t2 - t1, clock() - t2, unbatched)


def estimate(explainer, settings: Settings, shape, *, clock: Callable[[], float] = time.perf_counter) -> Estimate:
    """What ``settings`` (a resolved :class:`Settings` of a method with a probe, occlusion or RISE:
    see :func:`core.cam.registry.resolve`) will cost on ``explainer``'s model for a model input of
    ``shape`` (1, C, T, H, W); measured on the first call for these settings (a few of the
    method's batches), then kept by the Explainer, as :meth:`core.Explainer.clip_seconds` keeps
    its speeds. ``clock``: wall time (the page's); ``time.process_time`` gives CPU seconds (a
    benchmark on a machine shared with other jobs)."""
    entry = method_entry(settings.method)
    if entry.probe is None:
        timed = " or ".join(m.value for m, e in registered().items() if e.probe is not None)
        raise SettingsError(f"a time estimate is for {timed}, not {settings.method.value}")
    total = entry.forward_passes(settings.perturbation, shape) + 1  # and the pass that predicts the classes
    key = ("estimate", settings.method.value, replace(settings.perturbation, masks=1, seed=0), tuple(shape),
           str(explainer.device), clock)
    kept = explainer._clip_seconds  # the Explainer's measurements: dropped with it
    if key not in kept:
        kept[key] = entry.probe(explainer, settings, shape, clock)
    probe = kept[key]
    single = 1 + probe.unbatched  # the classifying pass, and the method's passes of one clip
    return Estimate(total, total - single, probe.per_pass, single * probe.one + probe.baseline)
