"""Named colours for the renderer's objects and patterns, and the name nearest a colour."""

from __future__ import annotations

import numpy as np

__all__ = ["COLOURS", "colour", "colour_name"]

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40), "green": (50, 160, 60), "blue": (40, 70, 200), "yellow": (230, 210, 40),
    "orange": (240, 140, 30), "purple": (130, 60, 170), "pink": (240, 130, 170),
    "white": (235, 235, 235), "black": (25, 25, 25), "grey": (128, 128, 128),
    "brown": (120, 75, 40), "teal": (30, 150, 150),
}


def colour(rng: np.random.Generator) -> np.ndarray:
    """One of :data:`COLOURS`, jittered: a float32 RGB triple in 0..255."""
    base = np.array(list(COLOURS.values())[rng.integers(len(COLOURS))], np.float32)
    return np.clip(base + rng.normal(0, 25, 3), 0, 255).astype(np.float32)


def colour_name(rgb: np.ndarray) -> str:
    """The name of the colour of :data:`COLOURS` nearest ``rgb``."""
    names = list(COLOURS)
    d = [np.sum((np.asarray(COLOURS[n], np.float32) - rgb) ** 2) for n in names]
    return names[int(np.argmin(d))]
