"""Models: one registry of video classifiers, each with a :class:`ModelSpec`.

Each family registers itself in its own module (:func:`register_model`); the modules listed
here are imported so that their models are registered.
"""

from . import hf, hf_shipped, torchvision_video  # noqa: F401  (families that register themselves)
from .i3d import I3DResNet, i3d_resnet, i3d_resnet50, i3d_tiny, i3d_tiny14, inflate_state_dict
from .registry import (
    DEFAULT_MODEL,
    ModelEntry,
    ModelSource,
    UnknownModelError,
    add_model_arguments,
    get_spec,
    list_models,
    load_model,
    register_model,
    register_source,
    weights_status,
)
from .spec import Layout, ModelSpec, Sampling
from .weights import WeightsError, load_checkpoint, save_checkpoint

__all__ = [
    "DEFAULT_MODEL",
    "I3DResNet",
    "Layout",
    "ModelEntry",
    "ModelSource",
    "ModelSpec",
    "Sampling",
    "UnknownModelError",
    "WeightsError",
    "add_model_arguments",
    "get_spec",
    "i3d_resnet",
    "i3d_resnet50",
    "i3d_tiny",
    "i3d_tiny14",
    "inflate_state_dict",
    "list_models",
    "load_checkpoint",
    "load_model",
    "register_model",
    "register_source",
    "save_checkpoint",
    "weights_status",
]
