"""The CAM engine: capture, gradients, the Grad-CAM family, and the Explanation record."""

from .engine import Explainer, explain, explainer_for, resolve_device
from .hooks import capture_activation, resolve_layer
from .methods import METHODS, POOLINGS, cam_from_gradients
from .result import Explanation, Target

__all__ = [
    "METHODS",
    "POOLINGS",
    "Explainer",
    "Explanation",
    "Target",
    "cam_from_gradients",
    "capture_activation",
    "explain",
    "explainer_for",
    "resolve_device",
    "resolve_layer",
]
