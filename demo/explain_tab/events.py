"""The Explain tab's events: which click runs which handler, by the components' names
(:meth:`demo.page.Page.on`), and the Stop button that ends the work it started."""

from __future__ import annotations

import functools

import gradio as gr

from .. import models
from ..page import WORK
from . import api, clip, model_box, trust

__all__ = ["Stoppable", "wire"]


def _stop_button(visible: bool):
    return lambda: {"explain_stop": gr.Button(visible=visible)}


class Stoppable:
    """Work that the tab's Stop button ends (occlusion and RISE check it between batches, and
    Gradio drops the events' results), with Stop on screen while it runs."""

    def __init__(self, page):
        self.page = page
        self.events = []

    def on(self, trigger, fn, outputs, **kwargs):
        """``page.on`` behind Stop: Stop is shown, then (chained on that) the work it can stop:
        a Stop shown by an event beside the work's, on the same trigger, could arrive after the
        work had ended."""
        shown = self.page.on(trigger, _stop_button(True), ("explain_stop",), lifetime=False,
                             api_visibility="private", queue=False)
        return self.add(self.page.on(shown.success, fn, outputs, **kwargs))

    def add(self, event):
        """``event`` stopped by Stop, and Stop hidden once it ends."""
        self.events.append(event)
        self.page.on(event.then, _stop_button(False), ("explain_stop",), lifetime=False,
                     api_visibility="private", queue=False)
        return event

    def wire_stop(self) -> None:
        """The Stop button, once every event it stops is wired (the Whole video tab's moment too)."""
        pressed = self.page.on(self.page["explain_stop"].click, clip.stop_run, (), lifetime=False,
                               cancels=self.events, queue=False, api_name="stop")
        self.page.on(pressed.then, _stop_button(False), ("explain_stop",), lifetime=False, queue=False)


def wire(page, rebuilt, default_spec) -> Stoppable:
    """The tab's events; ``rebuilt(triggers)`` rebuilds the page's settings record on those
    triggers (demo/settings.py). Returns the tab's :class:`Stoppable` for the other tabs' work
    that shows here (the Whole video tab's moment), whose Stop the caller wires last."""
    on, c = page.on, page
    stoppable = Stoppable(page)
    # no clip yet: a friendly warning, and the explanation's panels keep no "Error" badge
    has_clip = on(c["explain_button"].click, clip.need_clip, (), lifetime=False, api_visibility="private",
                  concurrency_limit=None)  # queued: only then is the warning shown
    explained = stoppable.on(has_clip.success, api.explain, clip.EXPLAINED, api_name="explain", **WORK)
    on(explained.success, api.top5, ("explain_top5",), api_name="top5", **WORK)
    on(c["explain_button"].click, trust.clear, trust.CLEARED, lifetime=False, api_visibility="private",
       queue=False)  # the panel described the last clip
    # A new class: the heatmap, then the plot and downloads beside it. Both are queued with
    # the other model work: usually tens of ms from the cached forward pass, but a full
    # forward pass when the cache has dropped the clip's, and all of an occlusion's or RISE's
    # passes: the downloads follow the heatmap so that they find its result kept, not run it twice.
    retargeted = on(c["target"].select, api.retarget, ("explain_heatmap", "explain_info"), api_name="retarget",
                    **WORK)
    on(retargeted.success, api.export, ("explain_plot", "explain_files"), api_name="export",
       show_progress="hidden", **WORK)
    on(c["explain_contrast_button"].click, api.contrast, ("explain_contrast", "explain_contrast_caption"),
       api_name="contrast", **WORK)
    stoppable.on(c["trust_button"].click, api.trust, trust.OUTPUTS, api_name="trust",
                 show_progress_on=c["trust_curves"], **WORK)
    # a new method, pooling, layer or opacity: the record first, then all that shows a heatmap
    # drawn again (Stop shown only for a method it can end), and the line on what was measured
    picked = rebuilt([c["method"].select, c["pooling"].select, c["layer"].select, c["opacity"].release])
    on(picked.success, clip.stop_shown, ("explain_stop",), lifetime=False, api_visibility="private", queue=False)
    stoppable.add(on(picked.success, clip.refresh, clip.REFRESHED, api_visibility="private",
                     trigger_mode="always_last", **WORK))
    on(picked.success, model_box.measured, ("explain_measured",), api_visibility="private", queue=False)
    # what pressing Explain will cost, for a new model or a new method, masks, window or stride
    priced = rebuilt([c["method"].change, c["masks"].change, c["window"].change, c["stride"].change])
    for trigger in (c["model"].change, priced.success):
        on(trigger, model_box.cost, ("explain_cost",), api_visibility="private", trigger_mode="always_last",
           show_progress="hidden", **WORK)
    on(c["model"].change, model_box.switch_model, model_box.SWITCHED, api_visibility="private")
    hub_id_ok = on(c["explain_load"].click, model_box.check_hub_id, (), lifetime=False, api_visibility="private",
                   concurrency_limit=None)  # a refusal is a toast, not a badge on the box
    on(hub_id_ok.success, model_box.add_model, ("model",), api_name="load_model", show_progress_on=c["hub_id"],
       **WORK)

    # models loaded from the page since the server started, for pages opened before that,
    # and the default model's layer and sampling (see the Settings in layout.py)
    def opened() -> dict:
        return {"model": gr.Dropdown(choices=models.offered()), "layer": default_spec.default_layer,
                "sampling": default_spec.sampling, "method": model_box.method_choice(default_spec)}

    on(page.blocks.load, opened, ("model", "layer", "sampling", "method"), lifetime=False,
       api_visibility="private", queue=False)
    # a new upload has no known label (a sample's click fills it again)
    on(functools.partial(gr.on, [c["video"].upload, c["video"].clear]), lambda: {"true_label": ""}, ("true_label",),
       lifetime=False, api_visibility="private", queue=False)
    return stoppable
