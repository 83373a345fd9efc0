"""Motion or appearance? Whether a class's evidence in a clip is what moves or what it looks like.

For one clip and class, three numbers and a verdict (:func:`motion_check`):

- **share on what moves** (descriptive: where the map points). A voxel of the model input
  *moves* when its frame difference, smoothed over 5 x 5 px, is at least :data:`MOVING_LEVEL` of
  the clip's 99.9th percentile of it, and at least :data:`MOVING_FLOOR` (in pixel units 0..1 when
  the model has a spec, else the input's): the frame difference of voxel (t, y, x) is the larger
  of its absolute differences to frames t - 1 and t + 1, averaged over the colour channels.
  ``share`` is the explanation's positive evidence (``raw_maps`` clamped at 0, upsampled
  trilinearly to the input) inside the moving voxels over all of it; ``area`` is the moving
  voxels' fraction of the clip, the share a map spread evenly would get.
- **motion removed** (causal): every frame replaced by the middle one, the clip the trust panel's
  counterfactuals call "frozen". A real frame, so the clip stays like the data; the temporal mean
  is not used because its smear still draws the path of what moved.
- **appearance removed, motion kept** (causal): for any clip, its temporal high-pass
  ``x - mean_t(x) + mean(x)``: whatever does not change over the clip (the scene, a static logo,
  the still parts of the object) becomes one flat colour, and every change is kept where and when
  it happens. It cannot remove the look of what moves: a moving object still stands out from the
  flat ground by its own colour and shape. Where a truly appearance-free version of the same clip
  exists (``lab.data``'s ``style="appearance_free"``, the same seed: the same motion in random dots),
  pass it as ``motion_only`` and it is used instead.

Each drop is relative: ``1 - P(class | altered clip) / P(class | clip)``. The **verdict**: a
removal *matters* when its drop is at least :data:`DROP` (the class keeps less than half its
probability). Only removing motion matters: ``motion``; only removing appearance: ``appearance``;
both: ``both``; neither: ``neither`` (the class survives either removal). Read it for a class the
model gives some probability to: below :data:`MIN_PROB` the check is marked ``weak`` (the drops
of a class at 0.01 are ratios of noise).

Cost: the two altered clips in one batched no-grad call of :meth:`~core.cam.Explainer.predict` (2
clip passes); the map and the clip's probability come from ``exp``, or from the Explainer's cached
forward pass of the clip (an explanation of the same clip and layer made before costs none).
:func:`motion_share` alone (the share and area of an explanation) runs no forward pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..cam import Explainer, Explanation
from ..cam.engine import class_index
from ..errors import SettingsError

__all__ = ["APPEARANCE", "BOTH", "DROP", "MIN_PROB", "MOTION", "MOVING_FLOOR", "MOVING_LEVEL", "NEITHER", "MotionCheck",
           "appearance_removed", "frozen", "motion_check", "motion_share", "motion_verdict", "moving_voxels"]

MOTION, APPEARANCE, BOTH, NEITHER = "motion", "appearance", "both", "neither"
DROP = 0.5  # a removal matters when the class loses at least this fraction of its probability
MIN_PROB = 0.1  # below this P(class), a check is weak: its relative drops say little
MOVING_LEVEL = 0.25  # a voxel moves at this fraction of the clip's (99.9th-percentile) frame difference
MOVING_FLOOR = 0.04  # ... and at least this much (pixel units, 0..1): sensor noise does not move
_SMOOTH = 5  # px: the frame difference is averaged over this square before the thresholds
_DIGITS = 4


@dataclass(frozen=True)
class MotionCheck:
    """Motion or appearance for one clip and class (see the module's docstring for every field)."""

    target: str
    target_index: int
    share: float | None  # the evidence's share on moving voxels; None when the map is all zero
    area: float  # the moving voxels' fraction of the clip (a uniform map's share)
    prob: float  # P(class) of the clip as is
    prob_frozen: float  # ... with motion removed (every frame the middle one)
    prob_still_removed: float  # ... with appearance removed, motion kept
    appearance_removal: str  # "high-pass" (x - mean over time) or "motion_only" (the clip given)
    forward_passes: int  # run by this check (the explanation's included when it made one)

    @property
    def motion_drop(self) -> float:
        """How much of P(class) removing motion costs (1 - frozen / as is)."""
        return _drop(self.prob, self.prob_frozen)

    @property
    def appearance_drop(self) -> float:
        """How much of P(class) removing appearance, motion kept, costs."""
        return _drop(self.prob, self.prob_still_removed)

    @property
    def verdict(self) -> str:
        return motion_verdict(self.motion_drop, self.appearance_drop)

    @property
    def weak(self) -> bool:
        """P(class) of the clip is below :data:`MIN_PROB`: read the verdict with care."""
        return self.prob < MIN_PROB

    def to_dict(self) -> dict:
        d = {k: round(v, _DIGITS) if isinstance(v, float) else v for k, v in asdict(self).items()}
        return {**d, "motion_drop": round(self.motion_drop, _DIGITS),
                "appearance_drop": round(self.appearance_drop, _DIGITS), "verdict": self.verdict,
                "weak": self.weak, "thresholds": {"drop": DROP, "min_prob": MIN_PROB, "moving_level": MOVING_LEVEL,
                                                  "moving_floor": MOVING_FLOOR}}


def _drop(p: float, q: float) -> float:
    return 1.0 - q / p if p > 0 else 0.0


def motion_verdict(motion_drop: float, appearance_drop: float) -> str:
    """The verdict on two relative drops (the rule in the module's docstring)."""
    m, a = motion_drop >= DROP, appearance_drop >= DROP
    return BOTH if m and a else MOTION if m else APPEARANCE if a else NEITHER


def frozen(x: torch.Tensor) -> torch.Tensor:
    """Motion removed: every frame of (N, C, T, H, W) clips replaced by the middle one."""
    T = x.shape[2]
    return x[:, :, T // 2 : T // 2 + 1].expand_as(x).contiguous()


def appearance_removed(x: torch.Tensor) -> torch.Tensor:
    """Appearance removed, motion kept: (N, C, T, H, W) clips' temporal high-pass on a flat
    ground of each clip's mean colour, ``x - mean_t(x) + mean_{t,h,w}(x)``."""
    return x - x.mean(2, keepdim=True) + x.mean((2, 3, 4), keepdim=True)


def moving_voxels(x: torch.Tensor, std: torch.Tensor | None = None) -> torch.Tensor:
    """(T, H, W) bool: the voxels of a (1, C, T, H, W) clip that move (the module's definition).
    ``std`` (C,): the model's input normalisation, to measure differences in pixel units."""
    if x.shape[2] < 2:
        return torch.zeros(x.shape[2:], dtype=torch.bool)
    x = x[0].float().cpu()
    if std is not None:
        x = x * std.view(-1, 1, 1, 1)
    d = (x[:, 1:] - x[:, :-1]).abs().mean(0)  # (T - 1, H, W): between frames t and t + 1
    d = torch.maximum(F.pad(d, (0, 0, 0, 0, 1, 0)), F.pad(d, (0, 0, 0, 0, 0, 1)))  # (T, H, W)
    d = F.avg_pool2d(d[:, None], _SMOOTH, stride=1, padding=_SMOOTH // 2, count_include_pad=False)[:, 0]
    top = float(torch.quantile(d.flatten()[:: max(1, d.numel() // 2**20)], 0.999))
    return d >= max(MOVING_LEVEL * top, MOVING_FLOOR)


def motion_share(exp: Explanation, x: torch.Tensor, k: int = 0, std: torch.Tensor | None = None
                 ) -> tuple[float | None, float]:
    """(share, area) for ``exp``'s target ``k`` over its model input ``x`` (1, C, T, H, W): the
    positive evidence's share on the moving voxels (None for an all-zero map) and their fraction
    of the clip. No forward pass: what a benchmark reads per method."""
    moving = moving_voxels(x, std)
    raw = exp.raw_maps[k].float().clamp(min=0)
    mass = F.interpolate(raw[None, None], size=tuple(x.shape[2:]), mode="trilinear", align_corners=False)[0, 0]
    total = float(mass.sum())
    return (float(mass[moving].sum()) / total if total > 0 else None), float(moving.float().mean())


def motion_check(explainer: Explainer | nn.Module, clip, target=None, *, exp: Explanation | None = None,
                 motion_only=None) -> MotionCheck:
    """Motion or appearance? for ``clip`` and class ``target`` (an index or label; default
    ``exp``'s first target, else the top-1 class).

    ``explainer``: the :class:`~core.cam.Explainer` of the model (its cached forward pass of the
    clip is reused), or a model. ``exp``: an explanation of ``clip`` for ``target``, whose map is
    read (without it, ``explainer.explain(clip, target)`` makes one with the model's defaults).
    ``motion_only``: optionally an appearance-free version of the same clip (same frames and
    size), used for "appearance removed" instead of the high-pass. See the module's docstring.
    """
    ex = explainer if isinstance(explainer, Explainer) else Explainer(explainer, cache_size=1)
    passes = 0
    k = 0
    if exp is not None and target is not None:
        idx = [t.index for t in exp.targets]
        want = class_index(target, exp.categories)
        if want in idx:
            k = idx.index(want)
        else:  # another class of the same clip: the same settings (the cached forward pass)
            exp = ex.explain(clip, want, settings=exp.settings)
            passes += int(exp.method_info.get("forward_passes", 0))
    elif exp is None:
        exp = ex.explain(clip, target)
        passes += int(exp.method_info.get("forward_passes", 0))
    x = ex.model_input(clip)
    t = exp.targets[k]
    if motion_only is not None:
        still_removed = ex.model_input(motion_only)
        if still_removed.shape != x.shape:
            raise SettingsError(f"motion_only has the input shape {tuple(still_removed.shape)}, the clip "
                                f"{tuple(x.shape)}; give a version of the same clip (same frames and size)")
    else:
        still_removed = appearance_removed(x)
    probs = ex.predict(torch.cat([frozen(x), still_removed]))[:, t.index].tolist()
    passes += 2
    std = torch.tensor(ex.spec.std, dtype=torch.float32) if ex.spec is not None else None
    share, area = motion_share(exp, x, k, std)
    return MotionCheck(t.label, t.index, share, area, float(exp.probs[t.index]), probs[0], probs[1],
                       "high-pass" if motion_only is None else "motion_only", passes)
