"""The 13 Something-Something-style action classes, their mirror pairs and template helpers.

A class label *is* its SSv2 template ("Moving [something] from left to right"); a clip fills the
brackets with its placeholders ("Moving mug from left to right"). SSv2's ``labels.json`` keys are
the templates with the brackets removed, which is what :func:`normalize_template` returns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "CAMERA_CLASSES",
    "CLASSES",
    "MIRROR_PAIRS",
    "TEMPLATES",
    "fill_template",
    "normalize_template",
]

CLASSES: tuple[str, ...] = (
    "Moving [something] from left to right",
    "Moving [something] from right to left",
    "Moving [something] up",
    "Dropping [something]",
    "Pushing [something] so that it slightly moves",
    "Holding [something]",
    "Spinning [something]",
    "Covering [something] with [something]",
    "Uncovering [something]",
    "Approaching [something] with your camera",
    "Moving away from [something] with your camera",
    "Turning the camera left while filming [something]",
    "Turning the camera right while filming [something]",
)

# The labels already are SSv2 templates; the alias says which meaning a caller relies on.
TEMPLATES: tuple[str, ...] = CLASSES

# Pairs whose clips look alike played backwards (or mirrored): telling them apart needs motion.
MIRROR_PAIRS: tuple[tuple[str, str], ...] = (
    (CLASSES[0], CLASSES[1]),
    (CLASSES[2], CLASSES[3]),
    (CLASSES[7], CLASSES[8]),
    (CLASSES[9], CLASSES[10]),
    (CLASSES[11], CLASSES[12]),
)

# Classes where the camera moves and the filmed object stays put in the world.
CAMERA_CLASSES: tuple[str, ...] = CLASSES[9:]

_SLOT = re.compile(r"\[[^\]]*\]")


def normalize_template(template: str) -> str:
    """SSv2's class key: brackets dropped, whitespace collapsed ("Moving something up")."""
    return " ".join(template.replace("[", "").replace("]", "").split())


def fill_template(template: str, placeholders: Sequence[str]) -> str:
    """Put ``placeholders`` into the ``[...]`` slots in order: "Dropping [something]" -> "Dropping mug"."""
    slots = _SLOT.findall(template)
    if len(slots) != len(placeholders):
        raise ValueError(
            f"template {template!r} has {len(slots)} slot(s) but {len(placeholders)} "
            f"placeholder(s) were given: {list(placeholders)!r}"
        )
    it = iter(placeholders)
    return _SLOT.sub(lambda _: next(it), template)
