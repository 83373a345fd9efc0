"""The CAM engine: capture, gradients, the Grad-CAM family, and the Explanation record."""

from .engine import Explainer, explain, resolve_device
from .hooks import capture_activation, resolve_layer
from .layouts import LAYOUTS, to_cthw
from .methods import METHODS, POOLINGS, cam_from_gradients
from .result import Explanation, Target
from .settings import Method, Normalize, Pooling, Settings

__all__ = [
    "LAYOUTS",
    "METHODS",
    "POOLINGS",
    "Explainer",
    "Explanation",
    "Method",
    "Normalize",
    "Pooling",
    "Settings",
    "Target",
    "cam_from_gradients",
    "capture_activation",
    "explain",
    "resolve_device",
    "resolve_layer",
    "to_cthw",
]
