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
>>> core.explain_to_folder("clip.mp4", "out/", top_k=2)  # what `python -m core explain` writes (core.export)
"""

from ._lazy import lazy_names

# name -> the module that defines it. ``import core`` imports none of them: each loads on first use
# (as torch-cam's ``__init__``), so the CLI and a script pay only for what they touch, and matplotlib,
# torchvision's model zoo, transformers and gradio load only where they are needed.
_WHERE = {
    "METHODS": "cam", "POOLINGS": "cam", "Explainer": "cam", "Explanation": "cam", "Method": "cam",
    "Normalize": "cam", "Pooling": "cam", "Settings": "cam", "Target": "cam", "explain": "cam",
    "resolve_device": "cam",
    "Perturbation": "attribution",
    "Cancelled": "errors", "SettingsError": "errors", "UnknownModelError": "errors", "UserError": "errors",
    "VideoError": "errors", "WeightsError": "errors",
    "TimelineResult": "longvideo", "timeline": "longvideo",
    "DEFAULT_MODEL": "models", "ModelSpec": "models", "get_spec": "models", "list_models": "models",
    "load_model": "models", "weights_status": "models",
    "colorize": "render", "combined_frames": "render", "overlay": "render",
    "render_explanation": "render", "save_gif": "render", "save_mp4": "render", "save_npy": "render",
    "temporal_plot": "render",
    "maps_to_frames": "transforms", "preprocess": "transforms",
    "explanation_html": "notebook", "trust_html": "notebook",
    "explain_to_folder": "export",
    "Clip": "video", "read_clip": "video",
    "sample_clips": "_shipped",
}


__getattr__, __dir__ = lazy_names(__name__, _WHERE)

# The public API (sorted, as ruff wants it).
__all__ = [
    "DEFAULT_MODEL", "METHODS", "POOLINGS", "Cancelled", "Clip", "Explainer", "Explanation", "Method",
    "ModelSpec", "Normalize", "Perturbation", "Pooling", "Settings", "SettingsError", "Target", "TimelineResult",
    "UnknownModelError", "UserError", "VideoError", "WeightsError", "colorize",
    "combined_frames", "explain", "explain_to_folder", "explanation_html", "get_spec", "list_models", "load_model", "maps_to_frames",
    "overlay", "preprocess", "read_clip", "render_explanation", "resolve_device", "sample_clips", "save_gif",
    "save_mp4", "save_npy", "temporal_plot", "timeline", "trust_html", "weights_status",
]
