"""See why a video model decided what it decided.

The pipeline, one module per stage: decode (:mod:`core.video`) -> model (:mod:`core.models`) ->
explain (:mod:`core.cam`) -> render (:mod:`core.render`).

>>> import core
>>> model = core.load_model()                      # the shipped default, offline
>>> clip = core.read_clip("clip.mp4", model.spec)   # 16 frames, with their indices and times
>>> exp = core.explain(model, clip, top_k=2)        # one forward pass, two classes
>>> ex = core.Explainer(model)                      # keeps the forward pass: more classes are cheap
>>> exp = ex.explain(clip, "Dropping [something]", settings=core.Settings(method="layercam"))
>>> core.save_gif(core.combined_frames(clip.frames, core.overlay(clip.frames, exp.maps_on_frames()[0])), "out.gif")
>>> tl = core.timeline(model, "long.mp4")              # a whole video, window by window (core.longvideo)
"""

from .cam import (
    METHODS,
    POOLINGS,
    Explainer,
    Explanation,
    Method,
    Normalize,
    Pooling,
    Settings,
    Target,
    explain,
    resolve_device,
)
from .errors import SettingsError, UnknownModelError, UserError, VideoError, WeightsError
from .longvideo import TimelineResult, timeline
from .models import DEFAULT_MODEL, ModelSpec, get_spec, list_models, load_model, weights_status
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
from .video import Clip, read_clip

# The public API (sorted, as ruff wants it).
__all__ = [
    "DEFAULT_MODEL", "METHODS", "POOLINGS", "Clip", "Explainer", "Explanation", "Method",
    "ModelSpec", "Normalize", "Pooling", "Settings", "SettingsError", "Target", "TimelineResult",
    "UnknownModelError", "UserError", "VideoError", "WeightsError", "colorize",
    "combined_frames", "explain", "get_spec", "list_models", "load_model", "maps_to_frames",
    "overlay", "preprocess", "read_clip", "render_explanation", "resolve_device", "save_gif",
    "save_mp4", "save_npy", "temporal_plot", "timeline", "weights_status",
]
