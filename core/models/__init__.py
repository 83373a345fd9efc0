"""Models: one registry of video classifiers, each with a :class:`ModelSpec`."""

from .i3d import I3DResNet, i3d_resnet, i3d_resnet50, i3d_tiny, inflate_state_dict
from .registry import (
    DEFAULT_MODEL,
    UnknownModelError,
    add_model_arguments,
    get_spec,
    list_models,
    load_model,
    weights_status,
)
from .spec import ModelSpec
from .weights import WeightsError, load_checkpoint, save_checkpoint

__all__ = [
    "DEFAULT_MODEL",
    "I3DResNet",
    "ModelSpec",
    "UnknownModelError",
    "WeightsError",
    "add_model_arguments",
    "get_spec",
    "i3d_resnet",
    "i3d_resnet50",
    "i3d_tiny",
    "inflate_state_dict",
    "list_models",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
    "weights_status",
]
