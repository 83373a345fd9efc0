"""Per-class motion plans: where the acting object (and cover, or camera) is on every frame.

A plan is pure geometry. Object classes place the actor in frame pixels of a still camera;
camera classes place everything in a larger *scene* and move a view box over it
(centre x, centre y, scene pixels per output pixel). Each planner draws its own sizes so the
label's contract (distances, angles, zoom) holds with room to spare. A :class:`Tempo` (the
unfamiliar style) times the action in seconds instead, outside the standard style's range; a
:class:`Stretch` (the varied style) around it, anywhere in a longer clip.

Length: the motion plans of the 13 actions, which share the timing and sliding helpers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import classes

__all__ = ["STANDARD_SECONDS", "UNFAMILIAR_SECONDS", "VARIED_SECONDS", "MotionPlan", "Stretch", "Tempo", "plan_action"]

_MARGIN = 3  # px kept free at frame edges (camera shake included)
STANDARD_SECONDS = (1.5, 4.0)  # clip lengths of the standard style
UNFAMILIAR_SECONDS = (4.5, 8.0)  # and of the unfamiliar one
VARIED_SECONDS = (1.5, 6.0)  # and of the varied one


@dataclass
class MotionPlan:
    """How one clip moves, frame by frame: where the actor (and a cover) is, where the camera looks,
    and the action's frame interval (first, last). :func:`plan_action` draws it; the scene drawer
    (:mod:`.scene`) paints it."""

    interval: tuple[int, int]
    actor_hw: tuple[int, int]
    actor_xy: np.ndarray  # (T, 2) centre x, y: frame px (object classes) or scene px (camera)
    angle: np.ndarray  # (T,) degrees, counter-clockwise
    cover_hw: tuple[int, int] | None = None
    cover_xy: np.ndarray | None = None  # (T, 2) frame px
    scene_hw: tuple[int, int] | None = None  # camera classes: scene canvas size
    view: np.ndarray | None = None  # (T, 3) camera classes: cx, cy, scale
    params: dict = field(default_factory=dict)


def _profile(u: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Monotone 0 -> 1 over u in [0, 1]."""
    if kind == "linear":
        return u
    if kind == "smooth":
        return u * u * (3 - 2 * u)
    if kind == "minjerk":
        return u**3 * (10 - 15 * u + 6 * u * u)
    if kind == "ease_out":
        return 1 - (1 - u) ** rng.uniform(2, 3.5)
    if kind == "fall":
        return u * u
    if kind == "trapezoid":  # constant speed with short eased ends
        e = rng.uniform(0.02, 0.15)
        v = np.minimum(np.minimum(u / e, (1 - u) / e), 1.0)
        s = np.cumsum(v)
        return (s - s[0]) / max(s[-1] - s[0], 1e-9)
    raise ValueError(kind)


def _anywhere(rng: np.random.Generator, t: int, frames: float, min_len: int) -> tuple[int, int]:
    """(first, last) of an action ``frames`` long (at least ``min_len``, at most the clip) that
    starts anywhere the clip of ``t`` frames has room for it."""
    length = int(np.clip(round(frames), min(min_len, t - 1), t - 1))
    start = int(rng.integers(0, t - length))
    return start, start + length


@dataclass(frozen=True)
class Tempo:
    """The unfamiliar style's timing: actions faster or slower than any standard one of their class.

    A standard action lasts ``lo..hi`` of a 1.5-4 s clip (each class has its own fractions), so
    ``lo * 1.5`` to ``hi * 4`` seconds. A fast one lasts ``factor`` (0.4-0.8) times the shortest of
    those, a slow one ``factor`` (1.1-1.6) times the longest, bounded by the class's fewest frames
    and by the clip; it starts anywhere the clip has room for it.
    """

    fps: float
    fast: bool
    factor: float

    @staticmethod
    def draw(rng: np.random.Generator, fps: float) -> Tempo:
        fast = bool(rng.random() < 0.5)
        return Tempo(fps, fast, float(rng.uniform(0.4, 0.8) if fast else rng.uniform(1.1, 1.6)))

    def interval(self, rng: np.random.Generator, t: int, lo: float, hi: float, min_len: int) -> tuple[int, int]:
        seconds = self.factor * (lo * STANDARD_SECONDS[0] if self.fast else hi * STANDARD_SECONDS[1])
        return _anywhere(rng, t, seconds * self.fps, min_len)

    def describe(self, interval: tuple[int, int]) -> dict:
        return {"tempo": "fast" if self.fast else "slow", "tempo_factor": self.factor,
                "action_seconds": (interval[1] - interval[0]) / self.fps}


@dataclass(frozen=True)
class Stretch:
    """The varied style's timing: a standard action's seconds (``lo..hi`` of a 1.5-4 s clip) times
    ``factor`` (0.75-1.25), so mostly between the unfamiliar style's fast and slow ones; it starts
    anywhere the clip has room for it.
    """

    fps: float
    factor: float

    @staticmethod
    def draw(rng: np.random.Generator, fps: float) -> Stretch:
        return Stretch(fps, float(rng.uniform(0.75, 1.25)))

    def interval(self, rng: np.random.Generator, t: int, lo: float, hi: float, min_len: int) -> tuple[int, int]:
        seconds = self.factor * rng.uniform(lo, hi) * rng.uniform(*STANDARD_SECONDS)
        return _anywhere(rng, t, seconds * self.fps, min_len)

    def describe(self, interval: tuple[int, int]) -> dict:
        return {"tempo": "stretch", "tempo_factor": self.factor,
                "action_seconds": (interval[1] - interval[0]) / self.fps}


def _timing(rng: np.random.Generator, t: int, lo: float, hi: float, min_len: int = 4,
            tempo: Tempo | Stretch | None = None) -> tuple[int, int]:
    """(first, last) action frames: the action may start late and end early."""
    if tempo is not None:
        return tempo.interval(rng, t, lo, hi, min_len)
    length = int(np.clip(round(t * rng.uniform(lo, hi)), min(min_len, t - 1), t - 1))
    r = rng.random()
    start = 0 if r < 0.2 else t - 1 - length if r < 0.35 else int(rng.integers(0, t - length))
    return start, start + length


def _progress(t: int, interval: tuple[int, int], kind: str, rng: np.random.Generator) -> np.ndarray:
    t0, t1 = interval
    u = np.clip((np.arange(t) - t0) / max(t1 - t0, 1), 0, 1)
    return _profile(u, kind, rng)


def _box(rng: np.random.Generator, long: float, aspect=(0.5, 1.0)) -> tuple[int, int]:
    short = max(6, round(long * rng.uniform(*aspect)))
    long = max(6, round(long))
    return (long, short) if rng.random() < 0.4 else (short, long)


def smooth_jitter(rng: np.random.Generator, t: int, amp: float) -> np.ndarray:
    """Smooth hand tremor or camera shake, (t,) within +-amp (also used by the renderer)."""
    k = max(2, t // 6)
    pts = rng.uniform(-1, 1, k + 1)
    return np.interp(np.linspace(0, k, t), np.arange(k + 1), pts) * amp


def _slide(rng, t, h, w, size, axis: int, sign: int, frac: tuple[float, float], interval, kind):
    """A straight move along ``axis`` (0 = x, 1 = y) by frac of the frame, in frame px."""
    dims = (w, h)
    ext = size[::-1]  # (box w, box h)
    length = dims[axis]
    room = length - ext[axis] - 2 * _MARGIN
    d = rng.uniform(frac[0] * length, max(frac[0] * length, min(frac[1] * length, room)))
    start = rng.uniform(_MARGIN + ext[axis] / 2, length - _MARGIN - ext[axis] / 2 - d)
    if sign < 0:
        start += d
    other = 1 - axis
    lo, hi = _MARGIN + ext[other] / 2, dims[other] - _MARGIN - ext[other] / 2
    o0 = rng.uniform(lo, hi)
    drift = float(np.clip(rng.uniform(-0.04, 0.04) * dims[other], lo - o0, hi - o0))
    s = _progress(t, interval, kind, rng)
    xy = np.zeros((t, 2))
    xy[:, axis] = start + sign * d * s
    xy[:, other] = o0 + drift * s
    return xy, sign * d


@dataclass(frozen=True)
class _Slide:
    """A straight move of the object: which way, how far, how long and at what speed."""

    axis: int  # 0 = x, 1 = y
    sign: int  # +1 right/down, -1 left/up, 0 drawn at random
    distance: tuple[float, float]  # of the frame's width (axis 0) or height (axis 1)
    length: tuple[float, float]  # of the clip's frames
    profiles: tuple[str, ...]
    min_len: int = 5
    tilt: bool = True  # may tilt slightly on the way
    arc: bool = False  # may be carried in a low arc


_SIDEWAYS = ("linear", "smooth", "minjerk", "trapezoid")
_SLIDES: dict[str, _Slide] = {
    classes.MOVING_LEFT_TO_RIGHT: _Slide(0, 1, (0.38, 0.75), (0.35, 0.9), _SIDEWAYS, arc=True),
    classes.MOVING_RIGHT_TO_LEFT: _Slide(0, -1, (0.38, 0.75), (0.35, 0.9), _SIDEWAYS, arc=True),
    classes.MOVING_UP: _Slide(1, -1, (0.28, 0.6), (0.35, 0.85), ("trapezoid", "linear")),
    classes.DROPPING: _Slide(1, 1, (0.28, 0.65), (0.2, 0.5), ("fall",)),
    classes.PUSHING: _Slide(0, 0, (0.065, 0.135), (0.12, 0.4), ("ease_out", "smooth"), min_len=3, tilt=False),
}


def plan_action(label: str, rng: np.random.Generator, t: int, h: int, w: int, *,
                tempo: Tempo | Stretch | None = None) -> MotionPlan:
    """Draw a plan for ``label`` on a (h, w) frame with ``t`` frames.

    ``tempo`` (the unfamiliar or varied style) times the action; Holding lasts the whole clip
    regardless.
    """
    plan = _plan(label, rng, t, h, w, tempo)
    if tempo is not None and label != classes.HOLDING:
        plan.params.update(tempo.describe(plan.interval))
    return plan


def _plan(label: str, rng: np.random.Generator, t: int, h: int, w: int, tempo: Tempo | Stretch | None) -> MotionPlan:
    m = min(h, w)
    if label in _SLIDES:
        return _plan_slide(_SLIDES[label], rng, t, h, w, tempo)
    if label == classes.HOLDING:
        size = _box(rng, rng.uniform(0.12, 0.35) * m)
        amp = rng.uniform(0.003, 0.012)
        xy = np.empty((t, 2))
        xy[:, 0] = rng.uniform(size[1] / 2 + 8, w - size[1] / 2 - 8) + smooth_jitter(rng, t, amp * w)
        xy[:, 1] = rng.uniform(size[0] / 2 + 8, h - size[0] / 2 - 8) + smooth_jitter(rng, t, amp * h)
        angle = smooth_jitter(rng, t, rng.uniform(0, 3))
        return MotionPlan((0, t - 1), size, xy, angle, params={"jitter": amp})
    if label == classes.SPINNING:
        size = _box(rng, rng.uniform(0.18, 0.45) * m, aspect=(0.35, 0.6))
        r = np.hypot(*size) * 0.6 + _MARGIN  # the spin is about the centroid, not the box centre
        interval = _timing(rng, t, 0.4, 0.9, min_len=6, tempo=tempo)
        kind = str(rng.choice(["linear", "smooth", "ease_out"]))
        prog = _progress(t, interval, kind, rng)
        # At most 45 degrees a frame, or the spin aliases (a wagon wheel seems to stand still).
        if 45 / np.diff(prog).max() < 200:
            kind, prog = "linear", _progress(t, interval, "linear", rng)
        total = min(rng.uniform(200, 720), 45 / np.diff(prog).max()) * rng.choice([-1, 1])
        angle = total * prog
        xy = np.empty((t, 2))
        xy[:, 0] = rng.uniform(r, w - r) + smooth_jitter(rng, t, 0.003 * w)
        xy[:, 1] = rng.uniform(r, h - r) + smooth_jitter(rng, t, 0.003 * h)
        return MotionPlan(interval, size, xy, angle, params={"angle": float(total), "profile": kind})
    if label in (classes.COVERING, classes.UNCOVERING):
        return _plan_cover(rng, t, h, w, tempo, uncover=label == classes.UNCOVERING)
    if label in (classes.APPROACHING, classes.MOVING_AWAY):
        return _plan_zoom(rng, t, h, w, tempo, zoom_in=label == classes.APPROACHING)
    if label in (classes.TURNING_LEFT, classes.TURNING_RIGHT):
        return _plan_pan(rng, t, h, w, tempo, content_right=label == classes.TURNING_LEFT)
    raise ValueError(f"no motion plan for label {label!r}; use one of lab.data.CLASSES")


def _plan_slide(slide: _Slide, rng, t, h, w, tempo) -> MotionPlan:
    # Drawn for every slide, not only a random-direction one, so that each seed keeps its clip.
    either = int(rng.choice([-1, 1]))
    size = _box(rng, rng.uniform(0.12, 0.33) * min(h, w))
    interval = _timing(rng, t, *slide.length, min_len=slide.min_len, tempo=tempo)
    kind = str(rng.choice(slide.profiles))
    xy, d = _slide(rng, t, h, w, size, slide.axis, slide.sign or either, slide.distance, interval, kind)
    angle = np.zeros(t)
    if slide.tilt and rng.random() < 0.35:  # a slight tilt on the way
        angle = rng.uniform(-15, 15) * _progress(t, interval, "smooth", rng)
    key = "dy" if slide.axis else "dx"
    params = {key: d / (h if slide.axis else w), "profile": kind}
    if slide.arc and rng.random() < 0.4:  # carried in a low arc
        u = _progress(t, interval, "linear", rng)
        lift = min(rng.uniform(0, 0.08) * h, xy[:, 1].min() - size[0] / 2 - _MARGIN)
        xy[:, 1] -= max(lift, 0) * np.sin(np.pi * u)
    return MotionPlan(interval, size, xy, angle, params=params)


def _plan_cover(rng, t, h, w, tempo, *, uncover: bool) -> MotionPlan:
    m = min(h, w)
    size = _box(rng, rng.uniform(0.12, 0.28) * m)
    k = rng.uniform(1.25, 1.6, 2)
    cover = (round(size[0] * k[0]) + 6, round(size[1] * k[1]) + 6)
    ax = np.clip(rng.uniform(0.2, 0.8) * w, size[1] / 2 + _MARGIN, w - size[1] / 2 - _MARGIN)
    ay = np.clip(rng.uniform(0.25, 0.8) * h, size[0] / 2 + _MARGIN, h - size[0] / 2 - _MARGIN)
    slack = (np.array(cover[::-1]) - np.array(size[::-1])) / 2 - 2
    end = np.array([ax, ay]) + rng.uniform(-0.3, 0.3, 2) * slack
    dirs = [np.array(d, float) for d in [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]]
    rng.shuffle(dirs)
    gap = rng.uniform(2, 0.3 * m)
    start = None
    for d in dirs:
        need = np.where(d != 0, (np.array(cover[::-1]) + np.array(size[::-1])) / 2 + gap, 0)
        cand = np.array([ax, ay]) + d * need
        lim = 0.45 * np.array(cover[::-1])
        if np.all(cand >= -lim) and np.all(cand <= np.array([w, h]) + lim):
            start = cand
            break
    if start is None:  # always fits sideways with the object near the middle
        ax, end = w / 2, np.array([w / 2, end[1]])
        start = np.array([ax + (cover[1] + size[1]) / 2 + 2, end[1]])
    interval = _timing(rng, t, 0.3, 0.8, min_len=5, tempo=tempo)
    kind = str(rng.choice(["smooth", "minjerk", "linear", "trapezoid"]))
    s = _progress(t, interval, kind, rng)[:, None]
    a, b = (end, start) if uncover else (start, end)
    cover_xy = a + (b - a) * s
    actor = np.tile([ax, ay], (t, 1)).astype(float)
    return MotionPlan(interval, size, actor, np.zeros(t), cover, cover_xy,
                params={"cover_from": [float(v) for v in (start - end)], "profile": kind})


def _plan_zoom(rng, t, h, w, tempo, *, zoom_in: bool) -> MotionPlan:
    z = rng.uniform(1.45, 2.2)
    m = min(h, w)
    pad = 0.03 * z * m  # room for shake around the widest view
    hs, ws = int(np.ceil(h * z + 2 * pad)), int(np.ceil(w * z + 2 * pad))
    frac = rng.uniform(max(0.2, 0.12 * z), min(0.7, 0.35 * z))  # of the close view
    size = _box(rng, frac * m)
    c_wide = np.array([ws / 2, hs / 2])
    c_close = np.array([rng.uniform(w / 2 + pad, ws - w / 2 - pad), rng.uniform(h / 2 + pad, hs - h / 2 - pad)])
    room = (np.array([w, h]) - np.array(size[::-1])) / 2 - 4
    obj = c_close + rng.uniform(-0.6, 0.6, 2) * np.maximum(room, 0)
    interval = _timing(rng, t, 0.4, 0.9, min_len=6, tempo=tempo)
    kind = str(rng.choice(["smooth", "linear", "minjerk"]))
    q = _progress(t, interval, kind, rng)
    if not zoom_in:
        q = 1 - q
    # Box edges move linearly in q, so the object, inside both end views, stays inside all views.
    view = np.empty((t, 3))
    view[:, :2] = c_wide + (c_close - c_wide) * q[:, None]
    view[:, 2] = z + (1 - z) * q
    return MotionPlan(interval, size, np.tile(obj, (t, 1)), np.zeros(t), scene_hw=(hs, ws), view=view,
                params={"zoom": float(z), "scale_start": float(view[0, 2]), "scale_end": float(view[-1, 2])})


def _plan_pan(rng, t, h, w, tempo, *, content_right: bool) -> MotionPlan:
    m = min(h, w)
    p = rng.uniform(0.3, 0.6)
    pad = int(0.03 * m) + 2
    tilt = rng.uniform(-0.05, 0.05) * h
    hs, ws = int(h + 2 * pad + abs(tilt)) + 1, int(np.ceil(w * (1 + p))) + 2 * pad
    size = _box(rng, rng.uniform(0.12, 0.3) * m)
    # Views: the content moves right when the camera turns left, i.e. the view slides left.
    x_right, x_left = ws - pad - w / 2, ws - pad - w / 2 - p * w
    y0 = pad + h / 2 + max(-tilt, 0)
    x0, x1 = (x_right, x_left) if content_right else (x_left, x_right)
    lo = max(x0, x1) - w / 2 + size[1] / 2 + 4  # inside both end views
    hi = min(x0, x1) + w / 2 - size[1] / 2 - 4
    ox = rng.uniform(lo, max(lo, hi))
    oy = rng.uniform(y0 + max(tilt, 0) - h / 2 + size[0] / 2 + 4, y0 + min(tilt, 0) + h / 2 - size[0] / 2 - 4)
    interval = _timing(rng, t, 0.4, 0.9, min_len=6, tempo=tempo)
    kind = str(rng.choice(["smooth", "linear", "minjerk", "trapezoid"]))
    q = _progress(t, interval, kind, rng)
    view = np.stack([x0 + (x1 - x0) * q, y0 + tilt * q, np.ones(t)], 1)
    return MotionPlan(interval, size, np.tile([ox, oy], (t, 1)), np.zeros(t), scene_hw=(hs, ws), view=view,
                params={"pan": float(p if content_right else -p), "tilt": float(tilt / h)})
