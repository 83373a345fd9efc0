"""Does a clip show what its label says? Checked from its masks and frames, not from the plan.

``check_contract(clip)`` returns a list of broken promises, empty when the clip is fine. The
numbers are the class table's (>= 35 % of the width for left/right, >= 25 % of the height for
up/drop, 5-15 % for a push, < 3 % jitter for holding, >= 180 degrees for a spin, >= 1.4x zoom).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from . import classes
from .classes import CAMERA_CLASSES, CLASSES
from .generator import ActionClip

__all__ = ["centroids", "check_contract", "content_shift"]

_REST = 0.03  # how far (fraction of the frame) a resting object may wander before/after the action


def centroids(masks: np.ndarray) -> np.ndarray:
    """(T, 2) mask centroids (x, y) in pixels; NaN where a mask is empty."""
    _, h, w = masks.shape
    area = masks.sum((1, 2)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = (masks.sum(1) * np.arange(w)).sum(1) / area
        cy = (masks.sum(2) * np.arange(h)).sum(1) / area
    return np.stack([cx, cy], 1)


def _orientation(mask: np.ndarray) -> float:
    """Principal-axis angle of a mask in degrees, in [0, 180)."""
    ys, xs = np.nonzero(mask)
    xs, ys = xs - xs.mean(), ys - ys.mean()
    return float(np.degrees(0.5 * np.arctan2(2 * (xs * ys).mean(), (xs * xs).mean() - (ys * ys).mean())) % 180)


def _best_shift(ga: np.ndarray, gb: np.ndarray, max_dx: int, max_dy: int) -> int:
    """Horizontal shift of ``gb`` against ``ga`` with the best normalised cross-correlation."""
    h, w = ga.shape
    best, best_score = 0, -np.inf
    for dy in range(-max_dy, max_dy + 1):
        ya, yb = (ga[: h - dy], gb[dy:]) if dy >= 0 else (ga[-dy:], gb[: h + dy])
        for dx in range(-max_dx, max_dx + 1):
            x, y = (ya[:, : w - dx], yb[:, dx:]) if dx >= 0 else (ya[:, -dx:], yb[:, : w + dx])
            x, y = x - x.mean(), y - y.mean()
            score = (x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum() + 1e-6)
            if score > best_score:
                best, best_score = dx, score
    return best


def content_shift(frames: np.ndarray, steps: int = 16) -> float:
    """How many px the picture moved right from the first to the last of ``frames`` (T, H, W, 3).

    Block matching on ~64 px wide grey images, chained over up to ``steps`` short hops, each
    searched only over shifts a hop can plausibly make: one long jump could lock onto a
    repeating texture (stripes, a checkerboard) instead of the objects. Normalised
    cross-correlation ignores lighting drift; each hop may also tilt by +-2 px.
    """
    k = max(1, frames.shape[2] // 64)
    h, w = frames.shape[1] // k, frames.shape[2] // k
    idx = np.unique(np.linspace(0, len(frames) - 1, steps + 1).round().astype(int))
    # (h*k, w*k, 3) -> (h, k, w, k, 3): mean over each k x k block, and over colour.
    grey = [frames[i, : h * k, : w * k].reshape(h, k, w, k, 3).mean((1, 3, 4), dtype=np.float32) for i in idx]
    max_dx = int(np.clip(2.0 / max(len(idx) - 1, 1), 0.1, 0.3) * w)
    return float(k * sum(_best_shift(a, b, max_dx, 2) for a, b in pairwise(grey)))


def _rests(c: np.ndarray, interval: tuple[int, int], h: int, w: int) -> list[str]:
    """The object keeps still before the action starts and after it ends."""
    t0, t1 = interval
    out = []
    for name, part, ref in (("before", c[: t0 + 1], c[t0]), ("after", c[t1:], c[t1])):
        dev = np.abs(part - ref).max(0) / (w, h)
        if np.nanmax(dev) > _REST:
            out.append(f"object moves {name} the action interval ({np.nanmax(dev):.1%} of the frame)")
    return out


def _far_enough(problems: list[str], what: str, moved: float, side: str, sign: int, percent: int) -> None:
    """``moved`` (a fraction of the frame's ``side``) must reach ``percent`` % in direction ``sign``."""
    if sign * moved < percent / 100:
        problems.append(f"{what} {moved:+.1%} of the {side}; need {sign * percent:+d}% or more")


def check_contract(clip: ActionClip) -> list[str]:
    """Broken promises of ``clip`` against its label's definition; [] when it is valid."""
    problems = []
    f, m = clip.frames, clip.masks
    if clip.label not in CLASSES:
        return [f"unknown label {clip.label!r}"]
    if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
        return [f"frames must be (T, H, W, 3) uint8, got {f.shape} {f.dtype}"]
    t, h, w = f.shape[:3]
    if m.shape != (t, h, w) or m.dtype != bool:
        return [f"masks must be ({t}, {h}, {w}) bool, got {m.shape} {m.dtype}"]
    t0, t1 = clip.interval
    if not 0 <= t0 < t1 <= t - 1:
        return [f"interval {clip.interval} is not inside 0..{t - 1} with first < last"]
    try:
        clip.text  # noqa: B018 - placeholders must fill the template's slots
    except ValueError as e:
        problems.append(str(e))
    area = m.sum((1, 2))
    c = centroids(m)
    label = clip.label
    cover = label in (classes.COVERING, classes.UNCOVERING)
    if not cover and (area == 0).any():
        problems.append(f"object mask is empty on {int((area == 0).sum())} frame(s)")
        return problems
    if label not in CAMERA_CLASSES and clip.params.get("shake_px", 0) > 1.5:
        problems.append(f"camera shakes {clip.params['shake_px']} px; a still camera allows 1")
    d = (c[t1] - c[t0]) / (w, h)  # displacement over the action, as frame fractions
    if label in (classes.MOVING_LEFT_TO_RIGHT, classes.MOVING_RIGHT_TO_LEFT):
        _far_enough(problems, "object moves", d[0], "width", 1 if label == classes.MOVING_LEFT_TO_RIGHT else -1, 35)
        if abs(d[1]) > 0.15:
            problems.append(f"object drifts {d[1]:+.1%} of the height while moving sideways")
    elif label in (classes.MOVING_UP, classes.DROPPING):
        _far_enough(problems, "object moves", d[1], "height (down is +)", -1 if label == classes.MOVING_UP else 1, 25)
        mid = (c[(t0 + t1) // 2, 1] + c[(t0 + t1 + 1) // 2, 1]) / 2
        first, second = abs(mid - c[t0, 1]), abs(c[t1, 1] - mid)
        ratio = second / max(first, 1e-6)
        if label == classes.MOVING_UP and not 0.6 <= ratio <= 1.67:
            problems.append(f"rise is not at a roughly constant speed (2nd/1st half distance {ratio:.2f})")
        if label == classes.DROPPING and ratio < 2.0:
            problems.append(f"fall does not speed up (2nd/1st half distance {ratio:.2f}; free fall gives 3)")
    elif label == classes.PUSHING:
        if not 0.05 <= abs(d[0]) <= 0.15:
            problems.append(f"push moves the object {d[0]:+.1%} of the width; need 5-15%")
    elif label in (classes.HOLDING, classes.SPINNING):
        jit = np.abs(c - np.median(c, 0)).max(0) / (w, h)
        limit = 0.03 if label == classes.HOLDING else 0.05
        if jit.max() >= limit:
            problems.append(f"object wanders {jit.max():.1%} of the frame; need < {limit:.0%}")
        if label == classes.SPINNING:
            if abs(clip.params.get("angle", 0)) < 180:
                problems.append(f"spin angle {clip.params.get('angle')} < 180 degrees")
            th = np.array([_orientation(m[i]) for i in range(t0, t1 + 1)])
            turned = np.abs(np.sum((np.diff(th) + 90) % 180 - 90))
            if turned < 150:
                problems.append(f"the object's axis turns only {turned:.0f} degrees")
    elif cover:
        full = clip.params.get("object_area", int(area.max()))
        hidden, seen = (area[t1:], area[: t0 + 1]) if label == classes.COVERING else (area[: t0 + 1], area[t1:])
        if (hidden != 0).any():
            problems.append("covered object shows where it should be fully hidden")
        if seen.min() < 0.9 * full:
            problems.append(f"object is only {seen.min() / max(full, 1):.0%} visible where it should be uncovered")
        steps = np.diff(area[t0 : t1 + 1].astype(float)) * (1 if label == classes.COVERING else -1)
        if (steps > 0.05 * full + 2).any():
            problems.append("visible area does not shrink (cover) / grow (uncover) steadily")
    elif label in (classes.APPROACHING, classes.MOVING_AWAY):
        z = clip.params.get("zoom", 0)
        if z < 1.4:
            problems.append(f"zoom factor {z} < 1.4")
        grow = area[t1] / area[t0] if label == classes.APPROACHING else area[t0] / area[t1]
        if grow < 0.8 * 1.4**2:
            problems.append(f"object area changes only {grow:.2f}x; a 1.4x zoom gives 1.96x")
    elif label in (classes.TURNING_LEFT, classes.TURNING_RIGHT):
        sign = 1 if label == classes.TURNING_LEFT else -1
        _far_enough(problems, "filmed object shifts", d[0], "width", sign, 25)
        shift = content_shift(f[t0 : t1 + 1]) / w
        if sign * shift < 0.2:
            problems.append(f"scene content shifts {shift:+.1%} of the width; the whole frame must move")
    if not cover and label not in (classes.HOLDING, classes.APPROACHING, classes.MOVING_AWAY):
        problems += _rests(c, clip.interval, h, w)
    return problems
