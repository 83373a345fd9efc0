"""What occlusion and RISE share: their settings record, the baseline clip, scores, and the
batched, cancellable loop over perturbed clips that runs them through ``Explainer.predict``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn.functional as F

from ..errors import Cancelled, SettingsError

__all__ = ["DESIGNS", "Baseline", "Perturbation", "baseline_clip", "scores"]

Triple = tuple[int, int, int]
DESIGNS = ("balanced", "independent")  # how RISE draws its grids
Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


class Baseline(str, Enum):
    """What a hidden part of the clip is replaced by."""

    BLUR = "blur"  # each frame blurred: shapes and motion gone, colours and brightness kept
    MEAN = "mean"  # the clip's mean value per channel


def _triple(name: str, value, flag: str) -> Triple:
    try:
        t = tuple(value)
    except TypeError:
        t = ()
    if len(t) != 3 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in t):
        raise SettingsError(f"{name}={value!r}; give three positive whole numbers (frames, "
                            f"height, width), e.g. {flag} 2 16 16")
    return tuple(int(v) for v in t)


@dataclass(frozen=True)
class Perturbation:
    """Settings of the perturbation methods, validated here, once.

    ``window``: occlusion's window and RISE's mask cell, in frames x pixels of the model input.
    ``stride``: occlusion's step (default: the window, no overlap); it must divide the window so
    every cell of the map is covered by the same windows. ``masks``: RISE's N. ``keep``: the
    share of RISE's cells kept. ``design``: how RISE draws its grids, ``balanced`` (blocks of
    Hadamard rows: the noise of the estimate cancels over a block; keep = 0.5) or
    ``independent`` (every cell on its own, as in the paper); see :mod:`core.attribution.rise`.
    ``batch_size``: clips per forward pass (memory is flat in N).
    """

    masks: int = 1000
    window: Triple = (4, 28, 28)
    stride: Triple | None = None
    baseline: Baseline | str = Baseline.BLUR
    seed: int = 0
    batch_size: int = 16
    keep: float = 0.5
    design: str = "balanced"

    def __post_init__(self):
        window = _triple("window", self.window, "--window")
        stride = window if self.stride is None else _triple("stride", self.stride, "--stride")
        bad = [i for i in range(3) if window[i] % stride[i]]
        if bad:
            raise SettingsError(
                f"stride {stride} does not divide window {window} (in {', '.join('THW'[i] for i in bad)}); "
                "pick a stride that does, e.g. half the window, so every cell of the map is "
                "covered by the same windows")
        try:
            baseline = Baseline(self.baseline)
        except ValueError:
            raise SettingsError(f"baseline={self.baseline!r}; choose one of "
                                f"{', '.join(b.value for b in Baseline)}") from None
        for name, low in (("masks", 1), ("batch_size", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise SettingsError(f"{name}={v!r}; give a whole number >= {low}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise SettingsError(f"seed={self.seed!r}; give a whole number")
        if not 0.0 < float(self.keep) < 1.0:
            raise SettingsError(f"keep={self.keep!r}; give a share between 0 and 1, e.g. 0.5")
        if self.design not in DESIGNS:
            raise SettingsError(f"design={self.design!r}; choose one of {', '.join(DESIGNS)}")
        if self.design == "balanced" and float(self.keep) != 0.5:
            raise SettingsError(f"keep={self.keep!r}: balanced masks keep half the cells; "
                                "use design='independent' (--design independent) for another share")
        object.__setattr__(self, "window", window)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "baseline", baseline)
        object.__setattr__(self, "keep", float(self.keep))

    def check_input(self, size: Triple, method: str) -> None:
        """The window must fit the model input (T, H, W)."""
        if any(w > s for w, s in zip(self.window, size, strict=True)):
            fit = "x".join(str(min(w, s)) for w, s in zip(self.window, size, strict=True))
            raise SettingsError(
                f"{method}: window {'x'.join(map(str, self.window))} is larger than the model input "
                f"{'x'.join(map(str, size))} (frames x height x width); use --window {fit.replace('x', ' ')} or smaller")


def baseline_clip(x: torch.Tensor, baseline: Baseline) -> torch.Tensor:
    """(1, C, T, H, W): what hidden parts of ``x`` become. ``blur``: every frame blurred with a
    Gaussian of sigma = 1/16 of its longer side (reflected at the edges); ``mean``: each
    channel's mean over the clip."""
    if baseline == Baseline.MEAN:
        return x.mean((2, 3, 4), keepdim=True).expand_as(x).contiguous()
    h, w = x.shape[-2:]
    sigma = max(h, w) / 16
    out = x
    for dim, size in ((-2, h), (-1, w)):  # separable: along H, then along W
        radius = min(math.ceil(3 * sigma), size - 1)
        if radius < 1:
            continue
        k = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
        k = (k / k.sum()).view(1, 1, 1, -1) if dim == -1 else (k / k.sum()).view(1, 1, -1, 1)
        n, c, t = out.shape[:3]
        flat = out.reshape(n * c * t, 1, *out.shape[-2:])  # (N, C, T, H, W) => (N*C*T, 1, H, W)
        pad = (radius, radius, 0, 0) if dim == -1 else (0, 0, radius, radius)
        out = F.conv2d(F.pad(flat, pad, mode="reflect"), k).reshape(out.shape)
    return out


def scores(probs: torch.Tensor, targets) -> torch.Tensor:
    """(B, K): the probability of each target's class, or, for a contrast A - B, ``log p_A -
    log p_B`` (= logit A - logit B: the softmax's normaliser cancels)."""
    cols = []
    for t in targets:
        if t.minus is None:
            cols.append(probs[:, t.index])
        else:
            tiny = torch.finfo(probs.dtype).tiny
            cols.append(probs[:, t.index].clamp_min(tiny).log() - probs[:, t.minus].clamp_min(tiny).log())
    return torch.stack(cols, 1).double()


def batches(total: int, size: int, method: str, progress: Progress | None, cancel: Cancel | None,
            offset: int = 0, grand_total: int | None = None) -> Iterator[range]:
    """Ranges of ``size`` items; reports ``progress(done, total)`` after each, and raises
    :class:`Cancelled` before the next one when ``cancel()`` says so."""
    grand = grand_total or total
    for start in range(0, total, size):
        if cancel is not None and cancel():
            raise Cancelled(f"{method} cancelled after {offset + start} of {grand} forward passes")
        yield range(start, min(start + size, total))
        if progress is not None:
            progress(offset + min(start + size, total), grand)
