"""The appearance-free look: every surface the same random dots, so only motion shows.

As in the Appearance-Free Dataset (Ilic et al., 2022, "Is appearance free action recognition
possible?"), a clip of style ``appearance_free`` draws the same scene and action as the standard
clip of its seed, then re-textures it: the backdrop becomes a static random-dot pattern, and the
acting object (and a cover) a patch of the same random dots, cut to its shape with a hard edge,
that moves with it; the camera holds still (no shake: the backdrop's dots never move). Any single frame is then one field of dots (the object's pixels have the
backdrop's statistics, and no edge or shading marks its outline); the object is seen only when
its dots move against the still ones, the random-dot kinematogram of vision science.

Dots are black or white with even odds (the classic kinematogram: mean 127.5, the most contrast a
codec and the model's downscaling leave), square, ``min(h, w) / 64`` px a side (at least 1), so
they keep about the same size in a model's 112 px input whatever the frame size. What may still
show: the sensor's gain and noise treat object and backdrop alike; clips are encoded like the
others, which may blur dots a little, the same everywhere.
"""

from __future__ import annotations

import numpy as np

from .sprites import Sprite

__all__ = ["Dots"]

_STREAM = 0xAF  # the dots' own random stream, apart from the clip's: the standard draws stay as they are


class Dots:
    """Random-dot textures for one clip (frame size ``hw``), from their own stream of ``seed``."""

    def __init__(self, seed: int, hw: tuple[int, int]):
        self.rng = np.random.default_rng([int(seed), _STREAM])
        self.dot = max(1, round(min(hw) / 64))

    def texture(self, h: int, w: int) -> np.ndarray:
        """(h, w, 3) float32: black or white dots, ``self.dot`` px a side, grey (all channels alike)."""
        b = self.dot
        small = self.rng.integers(0, 2, (-(-h // b), -(-w // b))).astype(np.float32) * 255
        img = np.repeat(np.repeat(small, b, 0), b, 1)[:h, :w]
        return np.ascontiguousarray(np.repeat(img[..., None], 3, axis=-1))

    def sprite(self, s: Sprite | None) -> Sprite | None:
        """``s`` cut from fresh dots: its shape (alpha > 0.5, hard-edged), none of its look."""
        if s is None:
            return None
        alpha = (s.alpha > 0.5).astype(np.float32)
        return Sprite(self.texture(*alpha.shape) * alpha[..., None], alpha, s.name, s.kind)
