"""The CAM engine: capture, gradients, the registry of methods (the Grad-CAM family and
:mod:`core.attribution`'s), and the Explanation record."""

from .engine import Explainer, explain, resolve_device
from .forward import LayerForward, cam_maps, forward_to_layer
from .hooks import capture_activation, resolve_layer
from .layouts import LAYOUTS, to_cthw
from .methods import METHODS, POOLINGS, cam_from_gradients
from .registry import register_method
from .result import Explanation, Target
from .settings import Method, Normalize, Pooling, Settings

__all__ = [
    "LAYOUTS",
    "METHODS",
    "POOLINGS",
    "Explainer",
    "Explanation",
    "LayerForward",
    "Method",
    "Normalize",
    "Pooling",
    "Settings",
    "Target",
    "cam_from_gradients",
    "cam_maps",
    "capture_activation",
    "explain",
    "forward_to_layer",
    "register_method",
    "resolve_device",
    "resolve_layer",
    "to_cthw",
]
