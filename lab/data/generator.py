"""Render one Something-Something-style clip with its ground truth: where and when the action is.

``render_clip(label, seed=...)`` draws everything (frame size, fps, duration, backdrop, clutter,
the acting object, its motion, camera shake, lighting, noise, blur) from one
``numpy.random.Generator`` seeded by ``seed``, so a seed names a clip exactly. ``style``
"unfamiliar" draws from other pools, disjoint from the standard (training) ones wherever the
code allows: patterned backdrops, odd shapes and textures, 4.5-8 s clips, actions faster or
slower than any standard one that may start late (see :class:`Style`). ``style`` "varied" is for
training: it varies the standard look along the same axes from pools disjoint from both.
``style`` "appearance_free" draws the standard clip of the seed, then shows it in random dots
(:mod:`.dots`) on a still camera: the same action, and nothing but motion to see it by.

Length: one seed draws every part of a clip in a fixed order, the order that names each clip exactly; split, that order would be hard to keep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .actions import (
    STANDARD_SECONDS,
    UNFAMILIAR_SECONDS,
    VARIED_SECONDS,
    MotionPlan,
    Stretch,
    Tempo,
    plan_action,
    smooth_jitter,
)
from .classes import CAMERA_CLASSES, CLASSES, COVERING, SPINNING, fill_template
from .dots import Dots
from .scene import Sensor, paste, render_camera, render_still
from .sprites import Sprite, make_background, make_cover, make_object

__all__ = ["FRAME_SIZES", "ActionClip", "GroundTruth", "Style", "render_clip"]

# (height, width) of phone-like clips: 4:3 and 16:9, landscape and portrait.
FRAME_SIZES: tuple[tuple[int, int], ...] = (
    (120, 160), (144, 192), (168, 224), (192, 256), (240, 320), (108, 192), (144, 256), (180, 320),
    (160, 120), (192, 144), (256, 192), (320, 240), (192, 108), (256, 144), (320, 180),
)
_FPS = (12, 15, 20, 24, 25, 30)
_MARGIN = 2  # canvas border around the frame for whole-pixel shake of a still camera


class Style(str, Enum):
    """What a clip looks like. ``STANDARD`` is the training data's. ``UNFAMILIAR`` is for testing
    on clips unlike any of those: backdrops, object shapes and textures from disjoint pools
    (``sprites.ODD_*``), 4.5-8 s clips, and actions faster or slower than any standard one of their
    class, starting anywhere (:class:`~lab.data.actions.Tempo`). ``VARIED`` is for training
    data that does not look all alike: each clip's backdrop and objects come (each 2 times in 3)
    from the varied pools (``patterns.VARIED_*``, recoloured photos), else from the standard ones;
    clips last 1.5-6 s, and actions are stretched 0.75-1.25x and start anywhere
    (:class:`~lab.data.actions.Stretch`). In every style, frame sizes and rates, object sizes,
    distances, lighting and sensor are drawn as in the standard one. ``APPEARANCE_FREE`` is the
    standard clip of the same seed (same motion and sensor) re-textured by :class:`~.dots.Dots`:
    backdrop and object in the same random dots, no clutter, shadow, motion blur or camera shake.
    """

    STANDARD = "standard"
    UNFAMILIAR = "unfamiliar"
    VARIED = "varied"
    APPEARANCE_FREE = "appearance_free"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value) -> Style:
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"style={value!r}; use one of {', '.join(m.value for m in cls)}") from None


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Where and when the action is, for one clip.

    masks (T, H, W) bool, the acting object's visible pixels (the covered object's visible part
    for Covering/Uncovering, the filmed object for camera classes); interval (first, last) frame
    indices of the action, inclusive; placeholders fill the template's ``[something]`` slots.
    ``params`` (JSON-friendly) holds what was drawn (a data set's files add ``crf`` and ``codec``):

    - per class: ``dx``/``dy`` signed displacement over the action as a fraction of the width /
      height (x right, y down); ``angle`` spin in degrees (counter-clockwise +); ``zoom`` factor
      with ``scale_start``/``scale_end`` (scene px per frame px); ``pan`` content shift as a
      fraction of the width (+ = content moves right) and ``tilt``; ``jitter`` (Holding);
      ``cover_from`` (px from the cover's resting place to its far end); ``profile`` (speed curve);
    - always: ``size`` [H, W], ``num_frames``, ``seed``, ``object_kind``, ``object_hw``,
      ``object_area`` (px of the whole object), ``background``, ``clutter`` (count),
      ``shake_px``, ``blur``, ``noise_sigma``, ``shadow``, ``gain_range``; ``motion_blur``
      (exposure, 0 = off) for a still camera;
    - style "unfamiliar" or "varied" only: ``style``; ``tempo`` ("fast"/"slow"; "stretch"),
      ``tempo_factor`` and ``action_seconds`` (but Holding, which lasts the whole clip);
      ``cover_kind`` (covers drawn from a non-standard pool: in "varied" clips, only when the
      objects' pool is "varied"); "varied" also ``pools`` (backdrop's and objects');
    - style "appearance_free": ``style``, ``dot_px`` (dot side), and what the dots leave of the
      standard draws: ``background`` "dots", ``clutter`` 0, ``blur`` 0, no ``shadow``.
    """

    masks: np.ndarray
    interval: tuple[int, int]
    fps: float
    label: str
    placeholders: tuple[str, ...]
    params: dict = field(default_factory=dict)

    @property
    def label_index(self) -> int:
        return CLASSES.index(self.label)

    @property
    def text(self) -> str:
        """The filled label, as SSv2 writes it: "Moving mug from left to right"."""
        return fill_template(self.label, self.placeholders)

    @property
    def num_frames(self) -> int:
        return len(self.masks)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.masks.shape[1], self.masks.shape[2]


@dataclass(frozen=True, eq=False)
class ActionClip(GroundTruth):
    """A rendered clip: its frames (T, H, W, 3) uint8 RGB (keyword-only) and its ground truth."""

    frames: np.ndarray = field(kw_only=True)


def _resolve_label(label: str | int) -> str:
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        if not 0 <= label < len(CLASSES):
            raise ValueError(f"label index {label} is out of range; use 0..{len(CLASSES) - 1}")
        return CLASSES[int(label)]
    if label not in CLASSES:
        raise ValueError(f"unknown label {label!r}; use one of lab.data.CLASSES, e.g. {CLASSES[0]!r}")
    return label


def _sprite_contrast(sprite: Sprite, ref: np.ndarray) -> float:
    a = sprite.alpha.sum()
    return float(np.linalg.norm(sprite.premult.reshape(-1, 3).sum(0) / max(a, 1e-6) - ref))


def _distinct_object(rng, hw, ref, **kw) -> Sprite:
    """An object whose mean colour stands out from ``ref``, the backdrop behind it (best of 4)."""
    best, score = None, -1.0
    for _ in range(4):
        s = make_object(rng, *hw, **kw)
        c = _sprite_contrast(s, ref)
        if c > score:
            best, score = s, c
        if c >= 40:
            break
    return best


def _box_mean(img: np.ndarray, xy: np.ndarray, hw: tuple[int, int], off: int = 0) -> np.ndarray:
    """Mean colour of ``img`` under the box spanned by all positions ``xy`` of an (h, w) thing."""
    x0 = int(max(xy[:, 0].min() - hw[1] / 2 + off, 0))
    x1 = int(min(xy[:, 0].max() + hw[1] / 2 + off + 1, img.shape[1]))
    y0 = int(max(xy[:, 1].min() - hw[0] / 2 + off, 0))
    y1 = int(min(xy[:, 1].max() + hw[0] / 2 + off + 1, img.shape[0]))
    region = img[y0:y1, x0:x1]
    return region.reshape(-1, 3).mean(0) if region.size else img.reshape(-1, 3).mean(0)


def _place_clutter(rng, canvas, n, unit, keep_out, shadow, pool: str, bg_kind: str) -> int:
    """Paste up to ``n`` static objects, avoiding ``keep_out`` boxes (x0, y0, x1, y1) of ``canvas``."""
    h, w = canvas.shape[:2]
    placed = 0
    for _ in range(n):
        long = rng.uniform(0.08, 0.25) * unit
        hw = (max(6, round(long * rng.uniform(0.5, 1))), max(6, round(long)))
        hw = hw if rng.random() < 0.5 else hw[::-1]
        for _try in range(6):
            x, y = rng.uniform(0, w - hw[1]), rng.uniform(0, h - hw[0])
            box = (x, y, x + hw[1], y + hw[0])
            if all(box[2] < k[0] or box[0] > k[2] or box[3] < k[1] or box[1] > k[3] for k in keep_out):
                s = make_object(rng, *hw, pool=pool, avoid=bg_kind)
                _stamp(canvas, s, round(x), round(y), shadow)
                placed += 1
                break
    return placed


def _stamp(canvas, sprite: Sprite, x0: int, y0: int, shadow) -> None:
    if shadow is not None:
        dark = np.zeros_like(sprite.premult)
        paste(canvas, dark, sprite.alpha * shadow[2], x0 + shadow[0], y0 + shadow[1])
    paste(canvas, sprite.premult, sprite.alpha, x0, y0)


def _boxes(xy: np.ndarray, hw: tuple[int, int], pad: float) -> list[tuple[float, ...]]:
    """Keep-out boxes around the first and last positions of a moving thing."""
    return [(x - hw[1] / 2 - pad, y - hw[0] / 2 - pad, x + hw[1] / 2 + pad, y + hw[0] / 2 + pad)
            for x, y in (xy[0], xy[-1])]


def render_clip(label: str | int, *, seed: int, size: tuple[int, int] | None = None,
                fps: float | None = None, duration: float | None = None,
                style: Style | str = Style.STANDARD) -> ActionClip:
    """Render one clip of ``label`` (a string of :data:`CLASSES` or its index).

    ``size`` is (height, width), default drawn from :data:`FRAME_SIZES`; ``fps`` defaults to a
    draw from 12-30, ``duration`` (seconds) to 1.5-4 (4.5-8 for ``style`` "unfamiliar", 1.5-6 for
    "varied"). The same arguments give identical arrays; the standard style's draws never depend
    on the others'.
    """
    label = _resolve_label(label)
    style = Style.parse(style)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    h, w = FRAME_SIZES[rng.integers(len(FRAME_SIZES))] if size is None else size
    if min(h, w) < 32 or int(h) != h or int(w) != w:
        raise ValueError(f"size={size!r} is too small; need (height, width) of at least 32 px each")
    h, w = int(h), int(w)
    fps = float(fps if fps is not None else rng.choice(_FPS))
    seconds = {Style.STANDARD: STANDARD_SECONDS, Style.UNFAMILIAR: UNFAMILIAR_SECONDS,
               Style.VARIED: VARIED_SECONDS}.get(style, STANDARD_SECONDS)
    duration = float(duration if duration is not None else rng.uniform(*seconds))
    t = round(fps * duration)
    if fps <= 0 or t < 8:
        raise ValueError(f"fps={fps} x duration={duration} s gives {t} frames; need at least 8")
    tempo = {Style.UNFAMILIAR: Tempo, Style.VARIED: Stretch}.get(style)
    plan = plan_action(label, rng, t, h, w, tempo=tempo.draw(rng, fps) if tempo else None)
    if style is Style.VARIED:  # (backdrop's, objects') pools, drawn apart so that any pairing occurs
        pools = tuple("varied" if rng.random() < 2 / 3 else "standard" for _ in range(2))
    else:
        pools = ("standard" if style is Style.APPEARANCE_FREE else style.value,) * 2
    sensor = Sensor.draw(rng, t)
    blur = 0.0 if rng.random() < 0.6 else float(rng.uniform(0.4, 1.2))
    shadow = None
    if rng.random() < 0.4:
        shadow = (int(rng.integers(-5, 6)), int(rng.integers(2, 7)), float(rng.uniform(0.2, 0.45)))
    dots = Dots(seed, (h, w)) if style is Style.APPEARANCE_FREE else None
    if label in CAMERA_CLASSES:
        frames, masks, extra, names = _camera_clip(rng, plan, h, w, blur, shadow, sensor, pools, dots)
    else:
        frames, masks, extra, names = _still_clip(rng, label, plan, h, w, blur, shadow, sensor, pools, dots)
    params = {
        **plan.params, **extra, "size": [h, w], "num_frames": t, "seed": int(seed),
        "blur": blur, "noise_sigma": sensor.sigma, "shadow": shadow is not None,
        "gain_range": [float(sensor.gain.min()), float(sensor.gain.max())],
    }
    if style is not Style.STANDARD:  # standard clips keep today's params (and ground-truth files) byte for byte
        params["style"] = style.value
    if style is Style.VARIED:
        params["pools"] = list(pools)
    if dots is not None:  # what is left of the standard draws once the dots are all there is to see
        params.update(background="dots", clutter=0, blur=0.0, shadow=False, dot_px=dots.dot)
    return ActionClip(masks, (int(plan.interval[0]), int(plan.interval[1])), fps, label, names, params,
                      frames=frames)


def _still_clip(rng, label, plan: MotionPlan, h, w, blur, shadow, sensor, pools: tuple[str, str], dots=None):
    m = _MARGIN
    canvas, bg_kind = make_background(rng, h + 2 * m, w + 2 * m, blur=blur, pool=pools[0])
    keep = _boxes(plan.actor_xy + m, plan.actor_hw, 4)
    if plan.cover_xy is not None:
        keep += _boxes(plan.cover_xy + m, plan.cover_hw, 4)
    n_clutter = _place_clutter(rng, canvas, int(rng.integers(0, 5)), min(h, w), keep, shadow, pools[1], bg_kind)
    ref = _box_mean(canvas, plan.actor_xy, plan.actor_hw, m)
    actor = _distinct_object(rng, plan.actor_hw, ref, asymmetric=label == SPINNING, blur=blur,
                             pool=pools[1], avoid=bg_kind)
    cover = None
    names: tuple[str, ...] = (actor.name,)
    if plan.cover_xy is not None:
        cover = make_cover(rng, *plan.cover_hw, blur=blur, pool=pools[1], avoid=bg_kind)
        if label == COVERING:  # the only template with a slot for the cover
            names = (actor.name, cover.name)
    amp = rng.uniform(0, 1.3)
    shake = np.rint(np.stack([smooth_jitter(rng, len(plan.actor_xy), amp) for _ in range(2)], 1))
    exposure = float(rng.uniform(0.3, 1.0)) if rng.random() < 0.5 else 0.0
    if dots is not None:  # every draw made as in the standard clip; then only the dots are shown, on a still camera
        canvas, actor, cover, exposure, shadow = dots.texture(*canvas.shape[:2]), dots.sprite(actor), \
            dots.sprite(cover), 0.0, None
        shake[:] = 0
    frames, masks = render_still(plan, canvas, m, actor, cover, shake.astype(int), sensor,
                                 exposure=exposure, shadow=shadow, sharp=dots is not None)
    full = int((actor.alpha > 0.5).sum())
    extra = {"object_kind": actor.kind, "object_hw": list(plan.actor_hw), "object_area": full,
             "background": bg_kind, "clutter": n_clutter, "motion_blur": exposure,
             "shake_px": float(np.abs(shake).max())}
    if pools[1] != "standard" and cover is not None:
        extra["cover_kind"] = cover.kind
    return frames, masks, extra, names


def _camera_clip(rng, plan: MotionPlan, h, w, blur, shadow, sensor, pools: tuple[str, str], dots=None):
    hs, ws = plan.scene_hw
    scene, bg_kind = make_background(rng, hs, ws, textured=True, blur=blur, pool=pools[0])
    unit = min(h, w) * float(np.mean(plan.view[:, 2]))
    keep = _boxes(plan.actor_xy, plan.actor_hw, 6)
    n_clutter = _place_clutter(rng, scene, int(rng.integers(3, 8)), unit, keep, shadow, pools[1], bg_kind)
    ref = _box_mean(scene, plan.actor_xy, plan.actor_hw)
    actor = _distinct_object(rng, plan.actor_hw, ref, blur=blur, pool=pools[1], avoid=bg_kind)
    if dots is not None:  # the filmed object in the backdrop's dots: still in the world, so unseen
        scene, actor, shadow = dots.texture(hs, ws), dots.sprite(actor), None
    ah, aw = plan.actor_hw
    x0, y0 = round(plan.actor_xy[0, 0] - aw / 2), round(plan.actor_xy[0, 1] - ah / 2)
    _stamp(scene, actor, x0, y0, shadow)
    amp = rng.uniform(0.003, 0.012) * min(h, w)
    shake = np.stack([smooth_jitter(rng, len(plan.view), amp) for _ in range(2)], 1)
    frames, masks = render_camera(plan, scene, (actor.alpha, x0, y0), (h, w), shake, sensor)
    extra = {"object_kind": actor.kind, "object_hw": list(plan.actor_hw),
             "object_area": int((actor.alpha > 0.5).sum()), "background": bg_kind,
             "clutter": n_clutter, "shake_px": float(np.abs(shake).max())}
    return frames, masks, extra, (actor.name,)

