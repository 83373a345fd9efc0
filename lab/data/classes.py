"""The 13 Something-Something-style action classes, their mirror pairs and template helpers.

A class label *is* its SSv2 template ("Moving [something] from left to right"); a clip fills the
brackets with its placeholders ("Moving mug from left to right"). SSv2's ``labels.json`` keys are
the templates with the brackets removed, which is what :func:`normalize_template` returns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "APPROACHING",
    "CAMERA_CLASSES",
    "CLASSES",
    "COVERING",
    "DROPPING",
    "HOLDING",
    "MIRROR_PAIRS",
    "MOVING_AWAY",
    "MOVING_LEFT_TO_RIGHT",
    "MOVING_RIGHT_TO_LEFT",
    "MOVING_UP",
    "PUSHING",
    "SPINNING",
    "TURNING_LEFT",
    "TURNING_RIGHT",
    "UNCOVERING",
    "fill_template",
    "normalize_template",
]

# One name per class: the generator and its checks decide by these, never by position.
MOVING_LEFT_TO_RIGHT = "Moving [something] from left to right"
MOVING_RIGHT_TO_LEFT = "Moving [something] from right to left"
MOVING_UP = "Moving [something] up"
DROPPING = "Dropping [something]"
PUSHING = "Pushing [something] so that it slightly moves"
HOLDING = "Holding [something]"
SPINNING = "Spinning [something]"
COVERING = "Covering [something] with [something]"
UNCOVERING = "Uncovering [something]"
APPROACHING = "Approaching [something] with your camera"
MOVING_AWAY = "Moving away from [something] with your camera"
TURNING_LEFT = "Turning the camera left while filming [something]"
TURNING_RIGHT = "Turning the camera right while filming [something]"

# The position is the class index in labels.json and in the shipped checkpoint: keep the order.
CLASSES: tuple[str, ...] = (
    MOVING_LEFT_TO_RIGHT,
    MOVING_RIGHT_TO_LEFT,
    MOVING_UP,
    DROPPING,
    PUSHING,
    HOLDING,
    SPINNING,
    COVERING,
    UNCOVERING,
    APPROACHING,
    MOVING_AWAY,
    TURNING_LEFT,
    TURNING_RIGHT,
)

# Pairs whose clips look alike played backwards (or mirrored): telling them apart needs motion.
MIRROR_PAIRS: tuple[tuple[str, str], ...] = (
    (MOVING_LEFT_TO_RIGHT, MOVING_RIGHT_TO_LEFT),
    (MOVING_UP, DROPPING),
    (COVERING, UNCOVERING),
    (APPROACHING, MOVING_AWAY),
    (TURNING_LEFT, TURNING_RIGHT),
)

# Classes where the camera moves and the filmed object stays put in the world.
CAMERA_CLASSES: tuple[str, ...] = (APPROACHING, MOVING_AWAY, TURNING_LEFT, TURNING_RIGHT)

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
