"""Synthetic Something-Something-style action clips with ground truth, and the SSv2 layout.

``render_clip`` draws one clip of a class with masks of the acting object (where) and the
action's frame interval (when); ``check_contract`` verifies a clip against its label's
definition; ``write_dataset`` / ``SSv2Dataset`` write and read the Something-Something v2 layout.
"""

from .classes import (
    CAMERA_CLASSES,
    CLASSES,
    MIRROR_PAIRS,
    fill_template,
    normalize_template,
)
from .contract import check_contract, content_shift
from .generator import FRAME_SIZES, ActionClip, GroundTruth, render_clip
from .ssv2 import (
    SPLITS,
    SSv2Dataset,
    decode_video,
    load_ground_truth,
    write_dataset,
    write_video,
)

__all__ = [
    "CAMERA_CLASSES",
    "CLASSES",
    "FRAME_SIZES",
    "MIRROR_PAIRS",
    "SPLITS",
    "ActionClip",
    "GroundTruth",
    "SSv2Dataset",
    "check_contract",
    "content_shift",
    "decode_video",
    "fill_template",
    "load_ground_truth",
    "normalize_template",
    "render_clip",
    "write_dataset",
    "write_video",
]
