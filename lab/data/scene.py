"""Compositing: sprites onto a still canvas, or a moving camera over a scene; then the sensor.

Frames are built one at a time in a float32 (H, W, 3) buffer: backdrop copied in, sprites
composited, then multiplied by the frame's exposure gain, noised, and clipped into the uint8
output. Per-channel gains are applied as (H, W*3) rows: numpy broadcasting over a trailing axis
of 3 runs ~10x slower.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .actions import MotionPlan
from .sprites import Sprite

__all__ = ["Sensor", "paste", "render_camera", "render_still"]

_PYRAMID_STEP = 2**0.5


@dataclass(frozen=True, eq=False)
class Sensor:
    """Per-frame exposure gain (T, 3) and noise sigma (grey levels); a fresh draw per clip."""

    gain: np.ndarray
    sigma: float
    noise_pick: np.ndarray  # (T, 3) bank index, y offset, x offset

    @staticmethod
    def draw(rng: np.random.Generator, t: int) -> Sensor:
        base = rng.uniform(0.8, 1.15) * rng.uniform(0.92, 1.08, 3)
        drift = rng.uniform(0, 0.08) * np.sin(2 * np.pi * rng.uniform(0.2, 1.5) * np.arange(t) / t
                                               + rng.uniform(0, 6.3))
        gain = (base[None, :] * (1 + drift[:, None])).astype(np.float32)
        sigma = 0.0 if rng.random() < 0.2 else float(rng.uniform(1, 7))
        pick = np.stack([rng.integers(0, 4, t), rng.integers(0, 16, t), rng.integers(0, 16, t)], 1)
        return Sensor(gain, sigma, pick)


@functools.lru_cache(maxsize=4)
def _noise_bank(h: int, w: int) -> np.ndarray:
    """Four unit-Gaussian frames a little larger than (h, w); fixed, so clips stay deterministic."""
    return np.random.default_rng(20170825).standard_normal((4, h + 16, w + 16, 3), np.float32)


class _Sink:
    """Turns float frames into sensor output: gain, noise, clip, cast to uint8."""

    def __init__(self, sensor: Sensor, t: int, h: int, w: int):
        self.sensor, self.h, self.w = sensor, h, w
        self.out = np.empty((t, h, w, 3), np.uint8)
        self.noise = None
        if sensor.sigma > 0:
            bh, bw = -(-h // 64) * 64, -(-w // 64) * 64
            self.noise = _noise_bank(bh, bw)[:, : h + 16, : w + 16] * np.float32(sensor.sigma)

    def write(self, t: int, f: np.ndarray) -> None:
        # (H, W, 3) -> (H, W*3): a gain row per frame keeps numpy's inner loop long.
        rows = f.reshape(self.h, self.w * 3)
        rows *= np.tile(self.sensor.gain[t], self.w)
        if self.noise is not None:
            k, oy, ox = self.sensor.noise_pick[t]
            f += self.noise[k, oy : oy + self.h, ox : ox + self.w]
        np.clip(f, 0, 255, out=f)
        self.out[t] = f


def _clip_box(x0: int, y0: int, h: int, w: int, H: int, W: int):
    """Destination and source slices of an (h, w) patch at (x0, y0), or None if off-frame."""
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if xa >= xb or ya >= yb:
        return None
    return (slice(ya, yb), slice(xa, xb)), (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0))


def paste(dst: np.ndarray, premult: np.ndarray, alpha: np.ndarray, x0: int, y0: int,
          keep: np.ndarray | None = None) -> None:
    """Composite a premultiplied patch over ``dst`` (H, W, 3) float32 in place, top-left at (x0, y0).

    ``keep`` is ``1 - alpha`` repeated over the 3 channels, if the caller has it already
    (multiplying by a trailing axis of 3 broadcast is ~10x slower in numpy).
    """
    boxes = _clip_box(x0, y0, *alpha.shape, *dst.shape[:2])
    if boxes is None:
        return
    d, s = boxes
    if keep is None:
        keep = np.repeat(1 - alpha[..., None], 3, axis=-1)
    region = dst[d]
    region *= keep[s]
    region += premult[s]


def _paste_mask(mask: np.ndarray, alpha: np.ndarray, x0: int, y0: int, value: bool = True) -> None:
    boxes = _clip_box(x0, y0, *alpha.shape, *mask.shape)
    if boxes is not None:
        d, s = boxes
        mask[d][alpha[s] > 0.5] = value


def _layer(premult: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return premult, alpha, np.repeat(1 - alpha[..., None], 3, axis=-1)


def _rotator(sprite: Sprite, resample=Image.BILINEAR):
    """A function angle -> rotated layer; angles are quantised to 0.5 degree and cached.

    The premultiplied sprite is rotated as one Pillow "RGBa" image: premultiplied channels
    resample linearly, so edges get no dark fringe (``resample`` NEAREST: no resampling at all).
    """
    h, w = sprite.shape
    rgba = np.dstack([sprite.premult, sprite.alpha * 255]).clip(0, 255).astype(np.uint8)
    image = Image.frombytes("RGBa", (w, h), rgba.tobytes())
    cache: dict[float, tuple] = {}

    def rotate(angle: float):
        key = round(angle * 2) / 2
        if key not in cache:
            if key % 360 == 0:
                cache[key] = _layer(sprite.premult, sprite.alpha)
            else:
                r = np.asarray(image.rotate(key, resample, expand=True), np.float32)
                cache[key] = _layer(r[..., :3], r[..., 3] / 255)
        return cache[key]

    return rotate


def _centre_on_mass(sprite: Sprite) -> tuple[Sprite, float, float]:
    """Pad a sprite so its alpha centroid is its box centre (it then spins in place).

    Returns the padded sprite and where its new centre sits relative to the old box centre.
    """
    h, w = sprite.shape
    a = sprite.alpha
    total = max(float(a.sum()), 1e-6)
    dx = float((a.sum(0) * np.arange(w)).sum() / total - (w - 1) / 2)
    dy = float((a.sum(1) * np.arange(h)).sum() / total - (h - 1) / 2)
    px, py = round(2 * abs(dx)), round(2 * abs(dy))
    pads = ((py * (dy < 0), py * (dy > 0)), (px * (dx < 0), px * (dx > 0)))
    padded = Sprite(np.pad(sprite.premult, (*pads, (0, 0))), np.pad(a, pads), sprite.name, sprite.kind)
    return padded, dx, dy


def _smear(premult: np.ndarray, alpha: np.ndarray, vx: float, vy: float, exposure: float):
    """Motion blur along (vx, vy) px/frame: the mean of shifted copies. Returns (p, a, dx, dy)."""
    length = np.hypot(vx, vy) * exposure
    n = min(int(length) + 1, 10)
    if n < 2:
        return premult, alpha, 0, 0
    pad = int(np.ceil(length / 2)) + 1
    h, w = alpha.shape
    acc_p = np.zeros((h + 2 * pad, w + 2 * pad, 3), np.float32)
    acc_a = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    for s in np.linspace(-0.5, 0.5, n):
        oy, ox = pad + round(s * vy * exposure), pad + round(s * vx * exposure)
        acc_p[oy : oy + h, ox : ox + w] += premult
        acc_a[oy : oy + h, ox : ox + w] += alpha
    return acc_p / n, acc_a / n, -pad, -pad


def render_still(plan: MotionPlan, canvas: np.ndarray, margin: int, actor: Sprite, cover: Sprite | None,
                 shake: np.ndarray, sensor: Sensor, *, exposure: float = 0.0,
                 shadow: tuple[int, int, float] | None = None, sharp: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Object classes: a still (shaking by whole pixels) camera over ``canvas``.

    ``canvas`` is the backdrop with its static clutter, ``margin`` px larger than the frame on
    every side; ``shake`` (T, 2) integer offsets within the margin. ``exposure`` > 0 turns on
    motion blur of the actor; ``shadow`` = (dx, dy, strength) darkens the actor's offset footprint;
    ``sharp`` rotates the actor by nearest neighbour (random dots stay dots, edges stay hard).
    Returns frames (T, H, W, 3) uint8 and masks (T, H, W) bool of the actor's visible pixels.
    """
    t = len(plan.actor_xy)
    h, w = canvas.shape[0] - 2 * margin, canvas.shape[1] - 2 * margin
    sink = _Sink(sensor, t, h, w)
    masks = np.zeros((t, h, w), bool)
    f = np.empty((h, w, 3), np.float32)
    vel = np.gradient(plan.actor_xy, axis=0) if t > 1 else np.zeros_like(plan.actor_xy)
    off = (0.0, 0.0)
    if np.any(plan.angle != 0):
        actor, *off = _centre_on_mass(actor)
    rotate = _rotator(actor, Image.NEAREST if sharp else Image.BILINEAR)
    cover_layer = _layer(cover.premult, cover.alpha) if cover is not None else None
    for i in range(t):
        sx, sy = int(shake[i, 0]), int(shake[i, 1])
        f[:] = canvas[margin + sy : margin + sy + h, margin + sx : margin + sx + w]
        prem, alpha, keep = rotate(float(plan.angle[i]))
        ah, aw = alpha.shape
        x0 = round(plan.actor_xy[i, 0] + off[0] - aw / 2) - sx
        y0 = round(plan.actor_xy[i, 1] + off[1] - ah / 2) - sy
        if shadow is not None:
            sh = _clip_box(x0 + shadow[0], y0 + shadow[1], ah, aw, h, w)
            if sh is not None:
                f[sh[0]] *= (1 - shadow[2]) + shadow[2] * keep[sh[1]]
        if exposure > 0:
            p2, a2, dx, dy = _smear(prem, alpha, vel[i, 0], vel[i, 1], exposure)
            paste(f, p2, a2, x0 + dx, y0 + dy)
        else:
            paste(f, prem, alpha, x0, y0, keep)
        _paste_mask(masks[i], alpha, x0, y0)
        if cover is not None:
            ch, cw = cover.shape
            cx0 = round(plan.cover_xy[i, 0] - cw / 2) - sx
            cy0 = round(plan.cover_xy[i, 1] - ch / 2) - sy
            paste(f, cover_layer[0], cover_layer[1], cx0, cy0, cover_layer[2])
            _paste_mask(masks[i], cover.alpha, cx0, cy0, value=False)
        sink.write(i, f)
    return sink.out, masks


def render_camera(plan: MotionPlan, scene: np.ndarray, obj: tuple[np.ndarray, int, int],
                  out_hw: tuple[int, int], shake: np.ndarray, sensor: Sensor) -> tuple[np.ndarray, np.ndarray]:
    """Camera classes: crop-and-resize the view box of every frame out of a static ``scene``.

    ``scene`` (Hs, Ws, 3) float32 holds every object; ``obj`` = (alpha, x0, y0) is the filmed
    object's alpha and its top-left corner in the scene; ``shake`` (T, 2) view-centre offsets in output px. Zooms resample from an
    image pyramid (steps of sqrt 2, so each frame shrinks by < 1.42x with bilinear filtering);
    a view at scale 1 is a plain crop.
    """
    h, w = out_hw
    t = len(plan.view)
    sink = _Sink(sensor, t, h, w)
    masks = np.zeros((t, h, w), bool)
    f = np.empty((h, w, 3), np.float32)
    levels: list[Image.Image] = []
    hs, ws = scene.shape[:2]
    alpha, ox, oy = obj
    for i in range(t):
        cx, cy, s = plan.view[i]
        cx, cy = cx + shake[i, 0] * s, cy + shake[i, 1] * s
        x0, y0 = cx - w * s / 2, cy - h * s / 2
        if abs(s - 1) < 1e-6:
            ix = int(np.clip(round(x0), 0, ws - w))
            iy = int(np.clip(round(y0), 0, hs - h))
            f[:] = scene[iy : iy + h, ix : ix + w]
            _paste_mask(masks[i], alpha, ox - ix, oy - iy)
        else:
            if not levels:
                levels.append(Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8)))
            k = max(0, int(np.floor(np.log(s) / np.log(_PYRAMID_STEP) + 1e-6)))
            while len(levels) <= k:
                prev = levels[-1]
                size = (max(1, round(ws / _PYRAMID_STEP ** len(levels))),
                        max(1, round(hs / _PYRAMID_STEP ** len(levels))))
                levels.append(prev.resize(size, Image.BILINEAR))
            lv = levels[k]
            fx, fy = lv.width / ws, lv.height / hs
            box = (x0 * fx, y0 * fy, (x0 + w * s) * fx, (y0 + h * s) * fy)
            f[:] = np.asarray(lv.resize((w, h), Image.BILINEAR, box=box))
            xs = np.clip((x0 + (np.arange(w) + 0.5) * s).astype(int), 0, ws - 1)
            ys = np.clip((y0 + (np.arange(h) + 0.5) * s).astype(int), 0, hs - 1)
            rx = np.nonzero((xs >= ox) & (xs < ox + alpha.shape[1]))[0]
            ry = np.nonzero((ys >= oy) & (ys < oy + alpha.shape[0]))[0]
            masks[i][np.ix_(ry, rx)] = alpha[np.ix_(ys[ry] - oy, xs[rx] - ox)] > 0.5
        sink.write(i, f)
    return sink.out, masks
