"""See why a video model decided what it decided.

The pipeline, one module per stage: decode (:mod:`core.video`) -> model (:mod:`core.models`) ->
explain (:mod:`core.cam`) -> render (:mod:`core.render`).

>>> import core
>>> model = core.load_model()                      # the shipped default, offline
>>> clip = core.read_clip("clip.mp4", model.spec)   # 16 frames, with their indices and times
>>> exp = core.explain(model, clip, top_k=2)        # one forward pass, two classes
>>> core.save_gif(core.combined_frames(clip.frames, core.overlay(clip.frames, exp.maps_on_frames()[0])), "out.gif")
"""

from .cam import (
    METHODS,
    POOLINGS,
    Explainer,
    Explanation,
    Target,
    explain,
    explainer_for,
    resolve_device,
)
from .models import (
    DEFAULT_MODEL,
    ModelSpec,
    UnknownModelError,
    WeightsError,
    get_spec,
    list_models,
    load_model,
    weights_status,
)
from .render import (
    colorize,
    combined_frames,
    overlay,
    render_explanation,
    save_gif,
    save_mp4,
    save_npy,
    temporal_plot,
)
from .transforms import maps_to_frames, preprocess
from .video import Clip, VideoError, read_clip

__all__ = [
    "DEFAULT_MODEL",
    "METHODS",
    "POOLINGS",
    "Clip",
    "Explainer",
    "Explanation",
    "ModelSpec",
    "Target",
    "UnknownModelError",
    "VideoError",
    "WeightsError",
    "colorize",
    "combined_frames",
    "explain",
    "explainer_for",
    "get_spec",
    "list_models",
    "load_model",
    "maps_to_frames",
    "overlay",
    "preprocess",
    "read_clip",
    "render_explanation",
    "resolve_device",
    "save_gif",
    "save_mp4",
    "save_npy",
    "temporal_plot",
    "weights_status",
]
