"""The pools outside the standard look: patterns and shapes of the other two styles.

``ODD_*`` (style "unfamiliar") are for testing on looks no training clip has. ``VARIED_*``
(style "varied") are for training: they vary the standard look along the axes that test probes
(backdrops, object shapes and textures) but share nothing with the ``ODD_*`` pools, so that a
model trained on them is still tested on looks it never saw. Every draw takes a
``numpy.random.Generator``; images are float32 in 0..255, alphas in 0..1.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .palette import colour

__all__ = ["ODD_BACKDROPS", "ODD_SHAPES", "ODD_TEXTURES", "VARIED_PATTERNS", "VARIED_SHAPES", "odd_alpha",
           "odd_pattern", "polygon_alpha", "recolour", "varied_alpha", "varied_pattern"]

# The unfamiliar style's pools: no standard clip has any of these (triangles are left out, as a
# standard "polygon" may have three corners; checkerboards too, a standard texture).
ODD_SHAPES: tuple[str, ...] = ("star", "ring", "cross", "crescent", "heart")
ODD_TEXTURES: tuple[str, ...] = ("dots", "plaid", "cells", "rings", "zigzag")  # objects, covers
ODD_BACKDROPS: tuple[str, ...] = ("plaid", "cells", "confetti", "zigzag", "rings", "dots")

VARIED_PATTERNS: tuple[str, ...] = ("waves", "marble", "argyle", "bands", "scribble", "bricks")
VARIED_SHAPES: tuple[str, ...] = ("triangle", "hexagon", "lshape", "arrow", "pill", "trapezoid", "diamond")


def varied_pattern(rng: np.random.Generator, h: int, w: int, kind: str, period: float) -> np.ndarray:
    """An (h, w, 3) float32 pattern of ``kind`` (:data:`VARIED_PATTERNS`), repeating every
    ~``period`` px, in four random colours (the first two are the main ones)."""
    colours = np.stack([colour(rng) for _ in range(4)])
    c1, c2 = colours[0], colours[1]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    u, v = xx * np.cos(ang) + yy * np.sin(ang), yy * np.cos(ang) - xx * np.sin(ang)
    if kind == "waves":  # stripes bent by a slower sine across them
        bend = rng.uniform(0.3, 1.2) * period * np.sin(2 * np.pi * v / (period * rng.uniform(2, 5)))
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (u + bend) / period)
    elif kind == "marble":  # stripes bent by smooth noise
        noise = np.asarray(Image.fromarray((rng.random((6, 6)) * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC),
                           np.float32) / 255.0
        t = 0.5 + 0.5 * np.sin(2 * np.pi * u / period + rng.uniform(3, 8) * noise)
        t = t ** rng.uniform(1, 3)
    elif kind == "argyle":  # a diamond checkerboard crossed by thin lines of a third colour
        a, b = np.floor((u + v) / period), np.floor((u - v) / period)
        img = np.where(((a + b) % 2 == 0)[..., None], c1, c2)
        line = ((u + v) % period < max(1.0, 0.08 * period)) | ((u - v) % period < max(1.0, 0.08 * period))
        img[line & (rng.random() < 0.7)] = colours[2]
        return img.astype(np.float32)
    elif kind == "bands":  # bands of random widths in several colours
        span = float(np.ptp(u))
        edges = np.cumsum(rng.uniform(0.3, 1.5, int(span / (0.3 * period)) + 2) * period)
        idx = np.searchsorted(edges, u - u.min()) % len(colours)
        return colours[idx].astype(np.float32)
    elif kind == "scribble":  # strokes of a few colours over a plain ground
        im = Image.new("RGB", (w, h), tuple(int(c) for c in c1))
        draw = ImageDraw.Draw(im)
        for _ in range(int(np.clip(h * w / period**2 / 2, 3, 200))):
            pts = np.cumsum(rng.normal(0, period / 2, (4, 2)), 0) + rng.uniform(0, 1, 2) * (w, h)
            draw.line([tuple(p) for p in pts], fill=tuple(int(c) for c in colours[rng.integers(1, len(colours))]),
                      width=max(1, round(period * rng.uniform(0.08, 0.25))))
        return np.asarray(im, np.float32)
    elif kind == "bricks":  # staggered bricks of slightly different shades, with mortar between
        bh = period
        row = np.floor(v / bh)
        col = np.floor((u + (row % 2) * period) / (2 * period))
        mortar = ((v % bh) < max(1.0, 0.12 * bh)) | (((u + (row % 2) * period) % (2 * period)) < max(1.0, 0.12 * bh))
        shade = 0.8 + 0.4 * ((row * 7919 + col * 104729) % 97)[..., None] / 97
        img = np.where(mortar[..., None], c2, c1 * shade)
        return np.clip(img, 0, 255).astype(np.float32)
    else:
        raise ValueError(f"no pattern {kind!r}; use one of {', '.join(VARIED_PATTERNS)}")
    return _mix(c1, c2, t)


def _mix(c1: np.ndarray, c2: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(h, w, 3) float32: colour ``c1`` where ``t`` is 0, ``c2`` where it is 1, linear between."""
    t = t[..., None]
    return (c1 * (1 - t) + c2 * t).astype(np.float32)


def odd_pattern(rng: np.random.Generator, h: int, w: int, kind: str, period: float) -> np.ndarray:
    """An (h, w, 3) float32 pattern of ``kind`` (:data:`ODD_TEXTURES`, :data:`ODD_BACKDROPS`),
    repeating every ~``period`` px."""
    c1, c2 = colour(rng), colour(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    u, v = xx * np.cos(ang) + yy * np.sin(ang), yy * np.cos(ang) - xx * np.sin(ang)
    if kind == "dots":  # polka dots, on a square or a staggered grid
        shift = (np.floor(v / period) % 2) * period / 2 if rng.random() < 0.5 else 0.0
        du, dv = (u + shift) % period - period / 2, v % period - period / 2
        t = np.clip(period * rng.uniform(0.2, 0.4) - np.hypot(du, dv) + 0.5, 0, 1)
    elif kind == "plaid":  # tartan: two crossing sets of bands, plus thin lines of a third colour
        pu, pv = period * rng.uniform(0.8, 1.6, 2)
        t = 0.5 * ((u % pu) < pu * rng.uniform(0.25, 0.5)) + 0.5 * ((v % pv) < pv * rng.uniform(0.25, 0.5))
        img = c1 * (1 - t[..., None]) + c2 * t[..., None]
        line = ((u + pu / 2) % pu < max(1.0, 0.1 * pu)) | ((v + pv / 2) % pv < max(1.0, 0.1 * pv))
        img[line] = colour(rng)
        return img.astype(np.float32)
    elif kind == "cells":  # Voronoi cells in random colours, with dark borders
        from scipy.spatial import cKDTree

        cell = 2.5 * period
        n = int(np.clip(h * w / cell**2, 4, 600))
        seeds = rng.uniform(0, 1, (n, 2)) * (w, h)
        d, idx = cKDTree(seeds).query(np.stack([xx.ravel(), yy.ravel()], 1), k=2)
        palette = np.stack([colour(rng) for _ in range(n)])
        img = palette[idx[:, 0]].reshape(h, w, 3)
        edge = np.clip((d[:, 1] - d[:, 0]).reshape(h, w) - rng.uniform(0.5, 2.5), 0, 1)[..., None]
        return (img * (0.25 + 0.75 * edge)).astype(np.float32)
    elif kind == "confetti":  # a strong, fine mosaic of 2-4 px squares in a few colours
        b = max(2, round(period / 5))
        palette = np.stack([c1, c2] + [colour(rng) for _ in range(int(rng.integers(1, 4)))])
        small = palette[rng.integers(len(palette), size=(-(-h // b), -(-w // b)))]
        return np.repeat(np.repeat(small, b, 0), b, 1)[:h, :w].astype(np.float32)
    elif kind == "zigzag":  # chevrons
        tri = np.abs((u / period) % 1 - 0.5) * 2
        t = (((v + rng.uniform(0.5, 1.5) * period * tri) / period) % 1 < 0.5).astype(np.float32)
    elif kind == "rings":  # concentric rings about a point that may lie off the picture
        cx, cy = rng.uniform(-0.5, 1.5) * w, rng.uniform(-0.5, 1.5) * h
        t = 0.5 + 0.5 * np.sin(np.hypot(xx - cx, yy - cy) * 2 * np.pi / period)
        t = np.clip((t - 0.5) * rng.uniform(2, 6) + 0.5, 0, 1)
    else:
        raise ValueError(f"no pattern {kind!r}")
    return _mix(c1, c2, t)


def odd_alpha(rng: np.random.Generator, h: int, w: int, shape: str) -> np.ndarray:
    """An anti-aliased (h, w) float32 alpha of an :data:`ODD_SHAPES` shape filling its box."""
    s = 4  # supersampling: the inside test runs on a 4x finer grid, then 4x4 blocks are averaged
    y, x = np.mgrid[0 : h * s, 0 : w * s].astype(np.float32)
    x, y = (x + 0.5) / (w * s) * 2 - 1, (y + 0.5) / (h * s) * 2 - 1  # -1..1 across the box
    r = np.hypot(x, y)
    if shape == "star":
        n, inner, rot = int(rng.integers(5, 9)), rng.uniform(0.38, 0.6), rng.uniform(0, 2 * np.pi)
        ang = rot + np.arange(2 * n) * np.pi / n
        rad = np.where(np.arange(2 * n) % 2, inner, 1.0)
        return polygon_alpha(np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1), h, w)
    if shape == "ring":
        inside = (r <= 1) & (r >= rng.uniform(0.45, 0.7))
    elif shape == "cross":
        a = rng.uniform(0.28, 0.45)
        inside = (np.abs(x) <= a) | (np.abs(y) <= a)
    elif shape == "crescent":  # a disc with a bite out of one side
        phi, d = rng.uniform(0, 2 * np.pi), rng.uniform(0.45, 0.7)
        inside = (r <= 1) & (np.hypot(x - d * np.cos(phi), y - d * np.sin(phi)) > rng.uniform(0.75, 0.95))
    elif shape == "heart":  # (X^2 + Y^2 - 1)^3 <= X^2 Y^3, which spans X +-1.139, Y -1..1.236 (up)
        hx, hy = x * 1.139, 1.236 - (y + 1) / 2 * 2.236
        inside = (hx**2 + hy**2 - 1) ** 3 - hx**2 * hy**3 <= 0
    else:
        raise ValueError(f"no shape {shape!r}")
    return inside.reshape(h, s, w, s).mean((1, 3), dtype=np.float32)


def polygon_alpha(pts, h: int, w: int) -> np.ndarray:
    """The (h, w) float32 alpha of the polygon through ``pts`` ((n, 2) x, y), scaled to fill its
    box, 4x supersampled (every polygonal shape of every pool is drawn here)."""
    p = np.asarray(pts, np.float64)
    p = (p - p.min(0)) / np.maximum(np.ptp(p, 0), 1e-6)
    s = 4
    big = Image.new("L", (s * w, s * h), 0)
    ImageDraw.Draw(big).polygon([(x * (s * w - 1), y * (s * h - 1)) for x, y in p], fill=255)
    return np.asarray(big.resize((w, h), Image.BOX), np.float32) / 255.0


def varied_alpha(rng: np.random.Generator, h: int, w: int, shape: str) -> np.ndarray:
    """An anti-aliased (h, w) float32 alpha of a :data:`VARIED_SHAPES` shape filling its box."""
    if shape == "triangle":
        return polygon_alpha([(0, 1), (1, 1), (rng.uniform(0.2, 0.8), 0)], h, w)
    if shape == "hexagon":
        ang = rng.uniform(0, np.pi / 3) + np.arange(6) * np.pi / 3
        return polygon_alpha(list(zip(np.cos(ang), np.sin(ang), strict=True)), h, w)
    if shape == "lshape":
        a, b = rng.uniform(0.35, 0.55, 2)
        pts = [(0, 0), (a, 0), (a, 1 - b), (1, 1 - b), (1, 1), (0, 1)]
        return polygon_alpha(pts if rng.random() < 0.5 else [(1 - x, y) for x, y in pts], h, w)
    if shape == "arrow":
        s, head = rng.uniform(0.3, 0.5), rng.uniform(0.35, 0.55)
        pts = [(0, 0.5 - s / 2), (1 - head, 0.5 - s / 2), (1 - head, 0), (1, 0.5), (1 - head, 1),
               (1 - head, 0.5 + s / 2), (0, 0.5 + s / 2)]
        return polygon_alpha(pts if rng.random() < 0.5 else [(1 - x, y) for x, y in pts], h, w)
    if shape == "trapezoid":
        a = rng.uniform(0.15, 0.35)
        return polygon_alpha([(a, 0), (1 - a, 0), (1, 1), (0, 1)], h, w)
    if shape == "diamond":
        return polygon_alpha([(0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5)], h, w)
    if shape == "pill":  # a capsule along the box's long side
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = min(h, w) / 2
        if w >= h:
            d = np.hypot(np.clip(xx + 0.5, r, w - r) - (xx + 0.5), yy + 0.5 - h / 2)
        else:
            d = np.hypot(np.clip(yy + 0.5, r, h - r) - (yy + 0.5), xx + 0.5 - w / 2)
        return np.clip(r - d + 0.5, 0, 1).astype(np.float32)
    raise ValueError(f"no shape {shape!r}; use one of {', '.join(VARIED_SHAPES)}")


def recolour(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """A photo in other colours: channels swapped, and maybe inverted or pushed to two tones."""
    out = img[..., rng.permutation(3)]
    r = rng.random()
    if r < 0.3:
        out = 255.0 - out
    elif r < 0.5:  # posterised: a duotone of the photo's brightness
        grey = out.mean(-1, keepdims=True) / 255.0
        lo, hi = rng.uniform(0, 120, 3), rng.uniform(135, 255, 3)
        out = lo + (hi - lo) * grey
    return np.ascontiguousarray(out, np.float32)
