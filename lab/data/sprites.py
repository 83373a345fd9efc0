"""Objects and backgrounds: photo crops and procedural textures, cut into random shapes.

Photos come from scikit-image's bundled files only (read straight from its data folder, so
nothing is ever downloaded). ``pool="unfamiliar"`` draws from other pools, disjoint from the
standard ones (:data:`ODD_SHAPES`, :data:`ODD_TEXTURES`, :data:`ODD_BACKDROPS`, no photos);
``pool="varied"`` from training pools disjoint from both (:mod:`.patterns`, recoloured photos).
Every draw takes a ``numpy.random.Generator``; images are float32 in 0..255, and a sprite keeps
its colour *premultiplied* by its alpha so that resampling and compositing stay linear (no dark
fringes after rotation).

Length: every object, cover and backdrop the renderer draws, which share the noise, texture and
pooling helpers.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from .palette import colour, colour_name
from .patterns import (
    ODD_BACKDROPS,
    ODD_SHAPES,
    ODD_TEXTURES,
    VARIED_PATTERNS,
    VARIED_SHAPES,
    odd_alpha,
    odd_pattern,
    polygon_alpha,
    recolour,
    varied_alpha,
    varied_pattern,
)

__all__ = ["ODD_BACKDROPS", "ODD_SHAPES", "ODD_TEXTURES", "PHOTO_NAMES", "POOLS", "Sprite", "make_background",
           "make_cover", "make_object"]

POOLS: tuple[str, ...] = ("standard", "unfamiliar", "varied")  # what the draws below take from

# Bundled file -> object names a person might give a thing that looks like it.
_PHOTOS: dict[str, tuple[str, ...]] = {
    "astronaut.png": ("photo", "postcard", "magazine"),
    "coffee.png": ("mug", "cup", "coffee cup"),
    "chelsea.png": ("cat picture", "toy cat", "cushion"),
    "rocket.jpg": ("toy rocket", "poster", "book"),
    "hubble_deep_field.jpg": ("star map", "notebook", "poster"),
    "ihc.png": ("sponge", "cookie", "napkin"),
    "color.png": ("coaster", "sticker", "colour wheel"),
    "retina.jpg": ("orange", "plate", "ball"),
    "motorcycle_left.png": ("toy motorbike", "magazine", "box"),
    "phantom.png": ("lid", "coaster", "badge"),
    "camera.png": ("photo", "book", "card"),
    "coins.png": ("coin", "wallet", "coaster"),
    "moon.png": ("stone", "rock", "potato"),
    "page.png": ("paper", "letter", "book"),
    "text.png": ("note", "paper", "envelope"),
    "cell.png": ("sponge", "bread", "towel"),
    "brick.png": ("brick", "block", "box"),
    "grass.png": ("mat", "towel", "brush"),
    "gravel.png": ("stone", "sandpaper", "cookie"),
}
_TEXTURE_PHOTOS = ("brick.png", "grass.png", "gravel.png", "page.png", "text.png",
                   "hubble_deep_field.jpg", "cell.png", "moon.png", "coins.png")
_SHAPE_NOUNS = {
    "ellipse": ("ball", "plate", "lid", "egg", "bowl"),
    "rect": ("box", "book", "phone", "remote control", "wallet", "block", "card"),
    "polygon": ("toy", "stone", "piece of paper", "leaf", "pen holder"),
    "blob": ("sponge", "potato", "pillow", "teddy bear"),
    "horse": ("toy horse", "figurine"),
}
_ODD_NOUNS = {
    "star": ("star", "starfish", "badge"),
    "ring": ("ring", "bagel", "donut", "roll of tape"),
    "cross": ("plus sign", "plaster", "cross"),
    "crescent": ("croissant", "banana", "crescent moon"),
    "heart": ("heart", "cookie", "cushion"),
}
_VARIED_NOUNS = {
    "triangle": ("triangle", "ruler", "slice of pizza"), "hexagon": ("nut", "coaster", "tile"),
    "lshape": ("bracket", "set square", "sock"), "arrow": ("arrow", "sign", "pointer"),
    "pill": ("pill", "marker", "eraser", "bottle"), "trapezoid": ("bucket", "lampshade", "tray"),
    "diamond": ("kite", "tile", "card"),
}
_COVER_NOUNS = ("towel", "cloth", "piece of paper", "box", "book", "napkin", "lid", "tray")
_DATA_DIR = os.path.join(os.path.dirname(__import__("skimage").__file__), "data")


@dataclass(frozen=True, eq=False)
class Sprite:
    """A cut-out: ``premult`` (h, w, 3) colour times alpha, ``alpha`` (h, w), both float32."""

    premult: np.ndarray
    alpha: np.ndarray
    name: str
    kind: str

    @property
    def shape(self) -> tuple[int, int]:
        return self.alpha.shape


@functools.cache
def _photo(file: str) -> Image.Image | None:
    """A bundled photo as RGB or L, at most 512 px on its long side; None if not shipped."""
    path = os.path.join(_DATA_DIR, file)
    if not os.path.exists(path):
        return None
    im = Image.open(path)
    im = im.convert("L") if im.mode in ("L", "I", "I;16", "1") else im.convert("RGB")
    if file == "horse.png":
        return im
    scale = 512 / max(im.size)
    if scale < 1:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BILINEAR)
    im.load()
    return im


PHOTO_NAMES: tuple[str, ...] = tuple(f for f in _PHOTOS if os.path.exists(os.path.join(_DATA_DIR, f)))


def _photo_crop(rng: np.random.Generator, file: str, h: int, w: int) -> np.ndarray:
    """A random window of ``file`` resized to (h, w, 3); grey photos get a random tint."""
    im = _photo(file)
    frac = rng.uniform(0.25, 1.0)
    cw = min(im.width, im.height * w / h) * frac
    ch = cw * h / w
    x0, y0 = rng.uniform(0, im.width - cw), rng.uniform(0, im.height - ch)
    out = np.asarray(im.resize((w, h), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch)), np.float32)
    if out.ndim == 2:
        tint = rng.uniform(0.55, 1.0, 3).astype(np.float32)
        out = out[..., None] * tint
    if rng.random() < 0.3:
        out = out[:, ::-1]
    return out


def _value_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth noise in 0..1 of shape (h, w), ``cells`` blobs across the long side."""
    gh, gw = max(2, cells * h // max(h, w) + 1), max(2, cells * w // max(h, w) + 1)
    small = Image.fromarray((rng.random((gh, gw)) * 255).astype(np.uint8))
    return np.asarray(small.resize((w, h), Image.BICUBIC), np.float32) / 255.0


def _texture(rng: np.random.Generator, h: int, w: int, kind: str) -> np.ndarray:
    """A procedural (h, w, 3) float32 texture of ``kind``."""
    c1, c2 = colour(rng), colour(rng)
    if kind == "flat":
        return np.broadcast_to(c1, (h, w, 3)).copy()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "noise":
        t = _value_noise(rng, h, w, int(rng.integers(3, 12)))[..., None]
    else:
        ang = rng.uniform(0, np.pi)
        u = (xx * np.cos(ang) + yy * np.sin(ang)) / max(h, w)
        if kind == "gradient":
            t = (u - u.min()) / max(float(np.ptp(u)), 1e-6)
        elif kind == "stripes":
            t = 0.5 + 0.5 * np.sin(u * 2 * np.pi * rng.uniform(2, 8))
            t = np.clip((t - 0.5) * rng.uniform(1, 6) + 0.5, 0, 1)
        else:  # checker
            n = rng.uniform(3, 10) / max(h, w)
            t = ((np.floor(xx * n) + np.floor(yy * n)) % 2).astype(np.float32)
        t = t[..., None]
    return c1 * (1 - t) + c2 * t


def _shape_alpha(rng: np.random.Generator, h: int, w: int, kind: str, corner: float = 0.45) -> np.ndarray:
    """An anti-aliased (h, w) float32 alpha filling its box."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx, ry, rx = (h - 1) / 2, (w - 1) / 2, h / 2, w / 2
    if kind == "ellipse":
        q = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
        return np.clip((1 - q) * min(rx, ry) + 0.5, 0, 1)
    if kind == "rect":
        r = rng.uniform(0.05, corner) * min(rx, ry)
        qx, qy = np.abs(xx - cx) - (rx - r), np.abs(yy - cy) - (ry - r)
        d = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - r
        return np.clip(0.5 - d, 0, 1)
    if kind == "blob":
        theta = np.arctan2((yy - cy) / ry, (xx - cx) / rx)
        rho = np.hypot((xx - cx) / rx, (yy - cy) / ry)
        edge = np.ones_like(theta)
        for k in (2, 3, 5):
            edge += rng.uniform(-0.08, 0.08) * np.sin(k * theta + rng.uniform(0, 6.3))
        return np.clip((edge / 1.17 - rho) * min(rx, ry) + 0.5, 0, 1)
    if kind == "horse" and _photo("horse.png") is not None:
        sil = np.asarray(_photo("horse.png").convert("L")) < 128
        return np.asarray(Image.fromarray(sil.astype(np.uint8) * 255).resize((w, h), Image.BOX), np.float32) / 255
    for _ in range(8):  # polygon: redraw slivers, keep shapes that fill >= 45 % of their box
        n = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = rng.uniform(0.6, 1.0, n)
        alpha = polygon_alpha(np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1), h, w)
        if alpha.mean() >= 0.45:
            break
    return alpha


def _finish(rgb: np.ndarray, alpha: np.ndarray, rng: np.random.Generator, blur: float) -> tuple:
    """Shade, outline and defocus a sprite; returns (premult, alpha)."""
    h, w = alpha.shape
    if rng.random() < 0.6:  # a light from one side
        g = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(1.0, 1.25), w if rng.random() < 0.5 else h)
        rgb = rgb * (g[None, :, None] if g.size == w else g[:, None, None])
    if rng.random() < 0.3:  # a darker rim, as of an edge turning away from the light
        rim = alpha * np.clip(2 * (1 - _gauss(alpha, rng.uniform(0.8, 2.0))), 0, 1)
        rgb = rgb * (1 - rng.uniform(0.3, 0.6) * rim)[..., None]
    rgb = np.clip(rgb, 0, 255).astype(np.float32)
    premult = rgb * alpha[..., None]
    if blur > 0.3:  # defocus spreads the cut-out's edge too
        premult, alpha = _gauss(premult, blur), _gauss(alpha, blur)
    return premult, alpha


def _gauss(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur over the first two axes, zero outside (float32)."""
    r = max(1, int(np.ceil(2.5 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2).astype(np.float32)
    k /= k.sum()
    for axis in (0, 1):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (r, r)
        p = np.pad(a, pad)
        n = a.shape[axis]
        a = sum(k[i] * np.take(p, range(i, i + n), axis=axis) for i in range(2 * r + 1))
    return a.astype(np.float32)


def _pool(pool: str) -> str:
    if pool not in POOLS:
        raise ValueError(f"pool={pool!r}; use one of {', '.join(POOLS)}")
    return pool


def _varied_texture(rng: np.random.Generator, h: int, w: int, avoid: str | None, period: float) -> tuple:
    """(rgb, kind) for a varied-pool surface: a :data:`VARIED_PATTERNS` pattern other than
    ``avoid`` (7 in 10) or a recoloured photo crop."""
    if rng.random() < 0.3 and PHOTO_NAMES:
        file = str(rng.choice(PHOTO_NAMES))
        return recolour(rng, _photo_crop(rng, file, h, w)), f"recoloured:{file.split('.')[0]}"
    kind = str(rng.choice([k for k in VARIED_PATTERNS if k != avoid]))
    return varied_pattern(rng, h, w, kind, period), kind


def make_object(rng: np.random.Generator, h: int, w: int, *, asymmetric: bool = False,
                blur: float = 0.0, pool: str = "standard", avoid: str | None = None) -> Sprite:
    """A random (h, w) object: a photo crop or a procedural texture cut into a random shape.

    ``asymmetric`` avoids plain round objects whose rotation could not be seen (for Spinning);
    the other pools have no plain textures. ``pool`` "unfamiliar" draws an :data:`ODD_TEXTURES`
    pattern other than ``avoid`` (the backdrop's, so the object stands out) cut into an
    :data:`ODD_SHAPES` shape; "varied" a varied pattern or recoloured photo cut into a
    :data:`~.patterns.VARIED_SHAPES` shape.
    """
    if _pool(pool) == "unfamiliar":
        shape, tex = str(rng.choice(ODD_SHAPES)), str(rng.choice([t for t in ODD_TEXTURES if t != avoid]))
        rgb = odd_pattern(rng, h, w, tex, max(3.0, min(h, w) * rng.uniform(0.15, 0.35)))
        name = f"{colour_name(rgb.reshape(-1, 3).mean(0))} {rng.choice(_ODD_NOUNS[shape])}"
        premult, alpha = _finish(rgb, odd_alpha(rng, h, w, shape), rng, blur)
        return Sprite(premult, alpha, name, f"{tex}/{shape}")
    if pool == "varied":
        shape = str(rng.choice(VARIED_SHAPES))
        rgb, tex = _varied_texture(rng, h, w, avoid, max(3.0, min(h, w) * rng.uniform(0.15, 0.4)))
        name = f"{colour_name(rgb.reshape(-1, 3).mean(0))} {rng.choice(_VARIED_NOUNS[shape])}"
        premult, alpha = _finish(rgb, varied_alpha(rng, h, w, shape), rng, blur)
        return Sprite(premult, alpha, name, f"{tex}/{shape}")
    shapes, p = ["ellipse", "rect", "polygon", "blob", "horse"], [0.25, 0.35, 0.2, 0.15, 0.05]
    shape = str(rng.choice(shapes, p=p))
    if rng.random() < 0.55 and PHOTO_NAMES:
        file = str(rng.choice(PHOTO_NAMES))
        rgb, kind = _photo_crop(rng, file, h, w), f"photo:{file.split('.')[0]}"
        name = str(rng.choice(_PHOTOS[file]))
    else:
        tex = str(rng.choice(["flat", "gradient", "stripes", "checker", "noise"]))
        if asymmetric and tex == "flat":
            tex = "stripes"
        rgb, kind = _texture(rng, h, w, tex), tex
        name = f"{colour_name(rgb.reshape(-1, 3).mean(0))} {rng.choice(_SHAPE_NOUNS[shape])}"
    alpha = _shape_alpha(rng, h, w, shape)
    premult, alpha = _finish(rgb, alpha, rng, blur)
    return Sprite(premult, alpha, name, f"{kind}/{shape}")


def make_cover(rng: np.random.Generator, h: int, w: int, *, blur: float = 0.0,
               pool: str = "standard", avoid: str | None = None) -> Sprite:
    """An opaque (h, w) cover: a rounded rectangle, fully solid inside its edge.

    ``pool`` "unfamiliar" or "varied" patterns it from that pool but ``avoid`` (its kind is then
    "cover:<texture>"); it stays a rectangle, as it must hide the object whole.
    """
    if _pool(pool) == "unfamiliar":
        tex = str(rng.choice([t for t in ODD_TEXTURES if t != avoid]))
        rgb, kind = odd_pattern(rng, h, w, tex, max(3.0, min(h, w) * rng.uniform(0.1, 0.25))), f"cover:{tex}"
    elif pool == "varied":
        rgb, tex = _varied_texture(rng, h, w, avoid, max(3.0, min(h, w) * rng.uniform(0.1, 0.3)))
        kind = f"cover:{tex}"
    else:
        rgb = (_photo_crop(rng, str(rng.choice(PHOTO_NAMES)), h, w) if rng.random() < 0.4 and PHOTO_NAMES
               else _texture(rng, h, w, str(rng.choice(["flat", "gradient", "stripes", "noise"]))))
        kind = "cover"
    alpha = _shape_alpha(rng, h, w, "rect", corner=0.25)
    premult, alpha = _finish(rgb, alpha, rng, blur)
    return Sprite(premult, alpha, str(rng.choice(_COVER_NOUNS)), kind)


def make_background(rng: np.random.Generator, h: int, w: int, *, textured: bool = False,
                    blur: float = 0.0, pool: str = "standard") -> tuple[np.ndarray, str]:
    """A (h, w, 3) float32 scene backdrop and its kind; ``textured`` rules out flat ones.

    ``pool`` "unfamiliar" draws a pattern of :data:`ODD_BACKDROPS` (all textured), 6-22 px a
    repeat; "varied" a :data:`~.patterns.VARIED_PATTERNS` pattern, 6-40 px a repeat, or a
    recoloured photo.
    """
    if _pool(pool) == "unfamiliar":
        kind = str(rng.choice(ODD_BACKDROPS))
        img = odd_pattern(rng, h, w, kind, rng.uniform(6, 22))
    elif pool == "varied":
        img, kind = _varied_texture(rng, h, w, None, rng.uniform(6, 40))
    else:
        img, kind = _standard_backdrop(rng, h, w, textured)
    if rng.random() < 0.5:  # muted, as a backdrop often is
        m = img.mean((0, 1), keepdims=True)
        img = m + (img - m) * rng.uniform(0.7 if textured else 0.4, 0.9)
    if blur > 0.3:
        im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(blur))
        img = np.asarray(im, np.float32)
    return np.ascontiguousarray(img, np.float32), kind


def _standard_backdrop(rng: np.random.Generator, h: int, w: int, textured: bool) -> tuple[np.ndarray, str]:
    kinds = ["photo", "texture", "gradient", "flat", "tabletop"]
    p = [0.3, 0.25, 0.1, 0.1, 0.25] if not textured else [0.35, 0.35, 0.0, 0.0, 0.3]
    kind = str(rng.choice(kinds, p=p))
    if kind == "tabletop":
        split = round(h * rng.uniform(0.25, 0.6))
        wall = _backdrop(rng, split, w, textured)
        table = _backdrop(rng, h - split, w, True)
        return np.concatenate([wall, table], 0), kind
    return _backdrop(rng, h, w, textured, kind), kind


def _backdrop(rng: np.random.Generator, h: int, w: int, textured: bool, kind: str | None = None) -> np.ndarray:
    kind = kind or str(rng.choice(["photo", "texture"] + ([] if textured else ["gradient", "flat"])))
    if kind == "photo" and PHOTO_NAMES:
        return _photo_crop(rng, str(rng.choice(PHOTO_NAMES)), h, w)
    if kind == "texture":
        files = [f for f in _TEXTURE_PHOTOS if f in PHOTO_NAMES]
        if files and rng.random() < 0.5:
            return _photo_crop(rng, str(rng.choice(files)), h, w)
        return _texture(rng, h, w, str(rng.choice(["noise", "stripes", "checker"])))
    return _texture(rng, h, w, kind if kind in ("gradient", "flat") else "noise")
