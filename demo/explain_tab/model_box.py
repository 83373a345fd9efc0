"""The Explain tab's model and method choice: a new model picked (its layers, classes, sampling
and measured method), a Hugging Face model loaded by its Hub id, and what the chosen method will
cost and what was measured for it, said beside the choice."""

from __future__ import annotations

import os
import re

import gradio as gr
import torch

import core
from core.attribution import estimate
from core.cam.registry import method_entry, methods_for, resolve
from core.models.measured import measured_line
from core.video import DEFAULT_FPS, Sampling

from .. import models
from ..config import ALLOW_DOWNLOADS, DOCS_BASE, REAL_MODEL
from ..models import get_explainer
from ..page import user_errors
from ..settings import PageSettings
from . import outputs, trust
from .clip import within_caps

__all__ = ["SWITCHED", "add_model", "check_hub_id", "cost", "measured", "method_choice", "sample_rate",
           "sampling_choices", "switch_model"]

_DROPPED = ("explain_heatmap", "explain_original", "explain_top2", "explain_all_scores", "explain_plot",
            "explain_files", "explain_top5", "explain_contrast")  # the last clip's results
SWITCHED = ("session", "method", "explain_measured", "layer", "sampling", "target", "a", "b", *_DROPPED,
            "explain_info", "explain_model_note", *trust.CLEARED)


def switch_model(model: str) -> dict:
    """A new model was picked: its layers, sampling, classes and measured default method; the
    last clip's results and checks are dropped (they were the old model's, and the session must
    not pair its clip with the new model's layers). Returns every name in :data:`SWITCHED`."""
    try:
        spec = core.get_spec(model)
    except core.UserError as e:  # e.g. a Hub id that is not cached: Explain will say so again
        spec, problem = None, str(e)
    out = {"session": None, **dict.fromkeys(_DROPPED), **trust.clear()}
    if spec is None:
        return {**out, **dict.fromkeys(("method", "layer", "sampling", "target", "a", "b", "explain_measured"),
                                       gr.skip()),
                "explain_model_note": f"**{model}**: {problem}",
                "explain_info": f"**{model}** cannot be used yet: {problem}"}
    classes = gr.Dropdown(choices=list(spec.categories), value=None)
    return {
        **out,
        "method": method_choice(spec),
        "explain_measured": measured_line(spec, spec.default_method, spec.default_layer, DOCS_BASE),
        "explain_model_note": models.note(model, spec),  # the spec read above, not read again
        "layer": gr.Radio(choices=list(spec.layers), value=spec.default_layer),
        "sampling": gr.Radio(choices=sampling_choices(spec), value=spec.sampling),
        "target": classes, "a": classes, "b": classes,
        "explain_info": f"Model changed to **{model}**: press **Explain** to explain the clip with it.",
    }


def method_choice(spec: core.ModelSpec) -> gr.Radio:
    """The methods that apply to the model (the attention methods only for a Hugging Face video
    transformer), its measured default chosen."""
    allowed = methods_for(spec)
    value = spec.default_method if spec.default_method in allowed else core.Method.GRADCAM.value
    return gr.Radio(choices=[(m.label, m.value) for m in allowed], value=value)


def measured(model, settings: PageSettings) -> dict:
    """The line under the method choice: what was measured for this architecture with this method."""
    try:
        spec = core.get_spec(model)
    except core.UserError:
        return {"explain_measured": ""}
    return {"explain_measured": measured_line(spec, settings.method, settings.layer or spec.default_layer, DOCS_BASE)}


def cost(model, settings: PageSettings) -> dict:
    """What pressing Explain will cost, shown next to the button, as the method registered it
    (core.cam.registry): the number of forward passes and, for a method with a probe (occlusion,
    RISE), the time they take at this model's measured speed."""
    try:
        checked = PageSettings(settings.method, "clip", None, masks=settings.masks, window=settings.window,
                               stride=settings.stride, baseline=settings.baseline).validated()
        entry = method_entry(checked.method)
        if entry.needs_layer:  # the Grad-CAM family: one forward pass, nothing to say
            return {"explain_cost": ""}
        explainer = get_explainer(model)
        spec = explainer.spec
        x = torch.zeros(1, 3, spec.num_frames, *spec.input_size)
        passes = explainer.forward_passes(x, checked)
        within_caps(explainer, x, checked)  # over this page's cap: say so before Explain is pressed
    except core.UserError as e:
        return {"explain_cost": f"⚠ {e}"}
    if entry.classify is not None:  # one pass, which also classifies (core.attribution.CLASSIFYING)
        if entry.class_agnostic:
            return {"explain_cost": f"**{passes} forward pass**, which also classifies. {outputs.CLASS_AGNOSTIC}"}
        return {"explain_cost": f"**{passes} forward pass**, which also classifies, plus one backward pass per class."}
    if entry.probe is None:  # counted, not measured
        return {"explain_cost": f"**{passes} forward pass{'' if passes == 1 else 'es'}**."}
    # the method's own batches measured (masks, blending, scoring), not the forward passes alone
    est = estimate(explainer, resolve(explainer, checked), x.shape)
    return {"explain_cost": f"**{passes} forward passes**, about {est.seconds:.0f} s here "
                            f"({est.per_pass * 1e3:.0f} ms per clip with its masking, measured). **Stop** ends it."}


def check_hub_id(hub_id) -> None:
    """Before Load: what the box refuses at once (no id, not an id, nothing to load without a
    download here), in a toast, with no "Error" painted over the box."""
    _hub_id(hub_id)


def _hub_id(hub_id) -> str:
    hub_id = (hub_id or "").strip()
    if not hub_id:
        raise gr.Error("Type a Hugging Face Hub id first, e.g. MCG-NJU/videomae-base-finetuned-kinetics.",
                       print_exception=False)
    hub_shaped = (re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", hub_id) and ".." not in hub_id
                  and len(hub_id) <= 96)  # the Hub's own limit
    if not hub_shaped or os.path.exists(hub_id):  # never a path on the server
        shown = hub_id if len(hub_id) <= 60 else hub_id[:60] + "..."
        raise gr.Error(f"{shown!r} is not a Hugging Face Hub id; type one like {REAL_MODEL}.",
                       print_exception=False)
    if not ALLOW_DOWNLOADS and not core.weights_status(hub_id)[0]:
        raise gr.Error(models.how_to_add(plain=True), print_exception=False)  # a toast shows no Markdown
    return hub_id


@user_errors
def add_model(hub_id, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's progress bar)
    """The "Load a model" box: fetch (when this server allows it) and load a Hugging Face video
    classifier, offer it to everyone, and select it."""
    hub_id = _hub_id(hub_id)
    progress(0.0, desc=f"Fetching and loading {hub_id}")
    get_explainer(hub_id)
    models.remember(hub_id)
    return {"model": gr.Dropdown(choices=models.offered(), value=hub_id)}


def sample_rate(spec: core.ModelSpec) -> float:
    """Frames per second of the ``fps`` sampling policy for this model."""
    return spec.sample_fps or DEFAULT_FPS


def sampling_choices(spec: core.ModelSpec) -> list[tuple[str, str]]:
    """The Frames-sampled choices (core's :class:`Sampling`) for ``spec``, with its real rate for
    the ``fps`` policy."""
    rate = f"{sample_rate(spec):g} per second, from the middle of the clip"
    return [(rate if m is Sampling.FPS else m.label, m.value) for m in Sampling]
