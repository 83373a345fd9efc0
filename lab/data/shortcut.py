"""A planted shortcut: a fixed artifact drawn into every clip of one class.

``python -m lab.data ... --shortcut CLASS`` renders a data set in which every clip of ``CLASS``
carries a small logo in a fixed corner, and no other clip does: a model trained on it can get
``CLASS`` right by looking at the corner instead of the action. The audit (``python -m core
audit``) is measured on such data: it must find the class and the corner.

The logo's box is a fixed fraction of the frame (like a broadcaster's watermark, it scales with
the video), so it sits at the same place of every clip whatever its size, and at the same place
of a model's input, which squashes the whole frame. The data set's manifest (``dataset.json``,
``render_options.shortcut``) and each carrying clip's ground truth (``params.shortcut``) say
which class and where.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Shortcut", "draw_logo"]

_CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


@dataclass(frozen=True)
class Shortcut:
    """Which class carries the logo, in which corner, how big (fraction of each side) and how far
    from the frame's edges (fraction of each side)."""

    label: str
    corner: str = "top-left"
    size: float = 0.2
    margin: float = 0.06

    def __post_init__(self):
        from .classes import CLASSES

        if self.label not in CLASSES:
            raise ValueError(f"shortcut class {self.label!r} is not one of lab.data.CLASSES, e.g. {CLASSES[4]!r}")
        if self.corner not in _CORNERS:
            raise ValueError(f"corner={self.corner!r}; use one of {', '.join(_CORNERS)}")
        if not (0.05 <= self.size <= 0.5 and self.margin >= 0 and self.size + self.margin <= 1):
            raise ValueError(f"size={self.size}, margin={self.margin}: need 0.05 <= size <= 0.5, size + margin <= 1")

    @classmethod
    def parse(cls, value) -> Shortcut | None:
        """From a class name, a manifest's dict, or a Shortcut (None stays None)."""
        if value is None or isinstance(value, Shortcut):
            return value
        if isinstance(value, str):
            return cls(value)
        return cls(**{k: value[k] for k in ("label", "corner", "size", "margin") if k in value})

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) as fractions of the frame's width and height."""
        right, bottom = self.corner.endswith("right"), self.corner.startswith("bottom")
        x0 = 1 - self.margin - self.size if right else self.margin
        y0 = 1 - self.margin - self.size if bottom else self.margin
        return (x0, y0, x0 + self.size, y0 + self.size)

    def manifest(self) -> dict:
        return {"label": self.label, "artifact": "logo", "corner": self.corner, "size": self.size,
                "margin": self.margin, "box": [round(v, 4) for v in self.box]}

    def pixel_box(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in pixels of an (h, w) frame, end-exclusive."""
        x0, y0, x1, y1 = self.box
        return round(x0 * w), round(y0 * h), max(round(x1 * w), round(x0 * w) + 2), max(round(y1 * h), round(y0 * h) + 2)


def draw_logo(frames: np.ndarray, shortcut: Shortcut) -> tuple[int, int, int, int]:
    """Draw the logo into (T, H, W, 3) uint8 ``frames`` in place, the same on every frame.

    The logo is a saturated magenta disc with a white ring and a white bar across it, on a dark
    badge: nothing in the renderer's palettes looks like it, and it survives VP9 at the data
    set's worst quality and the model's downscaling. Returns its pixel box (x0, y0, x1, y1).
    """
    h, w = frames.shape[1:3]
    x0, y0, x1, y1 = shortcut.pixel_box(h, w)
    bh, bw = y1 - y0, x1 - x0
    # Normalised coordinates over the badge: (-1, 1) on both axes, whatever its pixel aspect.
    v = (np.arange(bh) + 0.5) / bh * 2 - 1
    u = (np.arange(bw) + 0.5) / bw * 2 - 1
    r = np.hypot(u[None, :], v[:, None])
    badge = np.empty((bh, bw, 3), np.uint8)
    badge[:] = (24, 24, 32)
    badge[r < 0.9] = (255, 255, 255)
    badge[r < 0.72] = (230, 20, 200)
    badge[(np.abs(v)[:, None] < 0.16) & (np.abs(u)[None, :] < 0.55)] = (255, 255, 255)
    frames[:, y0:y1, x0:x1] = badge
    return x0, y0, x1, y1
