"""The Explain tab's API endpoints as ``gradio_client`` calls them (docs/app.md): each takes the
settings as separate parameters, named and ordered as the API has always had them (a client
passes ``method="rise", masks=8``), builds the one :class:`~demo.settings.PageSettings` record
from them and calls the tab's handler. The page's own buttons go through these too, since an
event's inputs are its API's parameters; the page's other events read the record from its
``settings`` state."""

from __future__ import annotations

import gradio as gr

from ..config import OPACITY
from ..settings import PageSettings
from . import clip

__all__ = ["contrast", "explain", "export", "retarget", "top5", "trust"]


def explain(video, true_label, model, method, pooling, layer=None, opacity=OPACITY, sampling=None,
            masks=None, window=None, stride=None, baseline=None, stop=None, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """/explain: ``layer`` and ``sampling`` None (a client that gave only ``model``): that model's own."""
    settings = PageSettings(method, pooling, layer, opacity, sampling, masks, window, stride, baseline)
    return clip.explain_clip(video, true_label, model, settings, stop, progress)


def retarget(session, target, method, pooling, layer=None, opacity=OPACITY,
             masks=None, window=None, stride=None, baseline=None, stop=None):
    """/retarget: the heatmap of another class."""
    return clip.retarget(session, target, _settings(method, pooling, layer, opacity, masks, window, stride, baseline),
                         stop)


def export(session, target, method, pooling, layer=None, opacity=OPACITY,
           masks=None, window=None, stride=None, baseline=None, stop=None):
    """/export: the plot and downloads of the class shown."""
    return clip.export(session, target, _settings(method, pooling, layer, opacity, masks, window, stride, baseline),
                       stop)


def top5(session, method, pooling, layer=None, opacity=OPACITY,
         masks=None, window=None, stride=None, baseline=None, stop=None):
    """/top5: the five most probable classes' heatmaps."""
    return clip.top5(session, _settings(method, pooling, layer, opacity, masks, window, stride, baseline), stop)


def contrast(session, a, b, method, pooling, layer=None, opacity=OPACITY,
             masks=None, window=None, stride=None, baseline=None, stop=None):
    """/contrast: why A rather than B."""
    return clip.contrast(session, a, b, _settings(method, pooling, layer, opacity, masks, window, stride, baseline),
                         stop)


def trust(session, trust_cache, target, method, pooling, layer=None, opacity=OPACITY,
          masks=None, window=None, stride=None, baseline=None, stop=None, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """/trust: the checks of the heatmap shown."""
    settings = _settings(method, pooling, layer, opacity, masks, window, stride, baseline)
    return clip.trust(session, trust_cache, target, settings, stop, progress)


def _settings(method, pooling, layer, opacity, masks, window, stride, baseline) -> PageSettings:
    """The record of an endpoint that reads no clip (no sampling)."""
    return PageSettings(method, pooling, layer, opacity, None, masks, window, stride, baseline)
