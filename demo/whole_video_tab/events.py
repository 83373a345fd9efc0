"""The Whole video tab's layout, handlers and events: scan a long video, draw its heatmap video
for another class, and explain one moment as the Explain tab explains a clip (shown there)."""

from __future__ import annotations

import os

import gradio as gr
from gradio.utils import get_upload_folder

import core
from core.video import Sampling

from .. import choices, space
from ..config import OPACITY, STATE_TTL_S
from ..explain_tab import clip, trust
from ..models import get_explainer
from ..page import WORK, user_errors
from ..settings import PageSettings
from ..state import request_dir
from . import view

__all__ = ["explain_moment", "layout", "moment_api", "redraw", "scan", "scan_api", "scan_video", "wire"]


def layout(page) -> None:
    """Lay out the tab inside the current Blocks context and add its components to ``page``."""
    c = {"tl_scan": gr.State(None, time_to_live=STATE_TTL_S, delete_callback=view.forget)}
    gr.Markdown(view.intro())
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            c["long_video"] = gr.Video(label="Video (up to 10 minutes)", sources=["upload"], height=220,
                                       elem_id="long-video")
            c["tl_scan_button"] = gr.Button("Scan whole video", variant="primary", elem_id="scan")
            gr.Markdown("Uses the *Model* and *Settings* of the Explain tab.")
            c["tl_moment_slider"] = gr.Slider(0, 1, value=0, step=0.05, label="Moment (s)", interactive=False,
                                              elem_id="moment")
            # what /explain_moment reads: the slider's value, without its bounds (see view.window_start)
            c["moment"] = gr.Number(0, visible=False, elem_id="moment-value")
            c["tl_moment_button"] = gr.Button("Explain this moment", elem_id="explain-moment")
            c["tl_files"] = gr.File(label="Downloads", file_count="multiple", interactive=False,
                                    elem_id="timeline-files")
        with gr.Column(scale=3, min_width=420):
            c["tl_info"] = gr.Markdown(elem_id="timeline-info")
            c["tl_plot"] = gr.HTML(elem_id="timeline-plot")
            # the dropdown is the video's title: a label on the video would cover its label bar
            c["heatmap_of"] = choices.Dropdown([view.MOMENT], value=view.MOMENT, label="Heatmap of", elem_id="heatmap-of",
                                          info="Original | heatmap over the whole video; the class "
                                               "and its probability are written above the frames")
            c["tl_video"] = gr.Video(label="Original | heatmap over the whole video", show_label=False,
                                     interactive=False, height=300, elem_id="timeline-video")
    page.add(c)


@user_errors
def scan_video(long_video, tl_scan, model, settings: PageSettings,
               progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """The class timeline and the heatmap of each moment's top class."""
    if not long_video:
        raise gr.Error("Upload a video first.", print_exception=False)
    view.forget(tl_scan)  # the last scan's spooled frames: this one replaces it
    progress(0.0, desc="Loading the model")
    explainer = get_explainer(model)
    return scan(long_video, model, explainer, settings.validated(), request_dir(get_upload_folder()), progress)


scan = space.gpu(view.scan, seconds=space.scan_cost)  # the model work on a GPU where there is one


@user_errors
def redraw(tl_scan, heatmap_of, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """The whole-video heatmap of another class (or each moment's top class again), drawn from the
    scan's maps and frames: nothing is decoded again."""
    if tl_scan is None:
        raise gr.Error("Scan the whole video first.", print_exception=False)
    progress(0.1, desc="Drawing the heatmap video")
    return {"tl_video": view.redraw(tl_scan, heatmap_of, request_dir(get_upload_folder()))}


@user_errors
def explain_moment(long_video, tl_scan, moment, model, settings: PageSettings, stop=None,
                   progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """The timeline window at ``moment`` explained as the Explain tab explains a clip, shown there."""
    if tl_scan is None or tl_scan.video != long_video:
        raise gr.Error("Scan the whole video first, then pick a moment.", print_exception=False)
    if tl_scan.model != model:
        raise gr.Error(f"The timeline was made with {tl_scan.model}; scan the video again with "
                       f"{model}, or pick {tl_scan.model} again.", print_exception=False)
    progress(0.0, desc="Loading the model")
    explainer = get_explainer(model)
    spec, checked = explainer.spec, settings.validated()
    start = view.window_start(tl_scan, moment)
    progress(0.2, desc=f"Decoding the window at {start:.1f} s")
    window = core.read_clip(long_video, spec, sampling=Sampling.FPS, fps=spec.clip_rate, start=start,
                            limits=view.MOMENT_LIMITS)
    name = f"{os.path.basename(long_video)} @ {start:.2f}-{window.timestamps[-1]:.2f} s"
    page = clip.first_page(explainer, window, name, None, model, checked, settings.opacity, progress, stop)
    return {**page, "tabs": gr.Tabs(selected="explain")}


# The API's /timeline and /explain_moment, with the parameters clients pass (docs/app.md)

def scan_api(long_video, tl_scan, model, method, pooling, layer=None,
             progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """/timeline: the Grad-CAM family's settings (masks and the rest do not apply)."""
    return scan_video(long_video, tl_scan, model, PageSettings(method, pooling, layer), progress)


def moment_api(long_video, tl_scan, moment, model, method, pooling, layer=None, opacity=OPACITY,
               masks=None, window=None, stride=None, baseline=None, stop=None,
               progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """/explain_moment: as /explain, for the window at ``moment``."""
    settings = PageSettings(method, pooling, layer, opacity, None, masks, window, stride, baseline)
    return explain_moment(long_video, tl_scan, moment, model, settings, stop, progress)


def wire(page, stoppable) -> None:
    """The tab's events; ``stoppable``: the Explain tab's Stop, which a moment's explanation runs
    behind, since it shows on that tab."""
    on, c = page.on, page
    on(c["tl_scan_button"].click, scan_api, view.SCANNED, api_name="timeline", show_progress_on=c["tl_plot"],
       **WORK)
    # another class for the whole-video heatmap: drawn from the scan's maps, no model, no decoding
    on(c["heatmap_of"].select, redraw, ("tl_video",), api_name="timeline_heatmap", show_progress_on=c["tl_video"])
    c["tl_moment_slider"].change(None, c["tl_moment_slider"], c["moment"], js="(t) => t", api_visibility="private",
                                 queue=False)
    moment_done = stoppable.on(c["tl_moment_button"].click, moment_api, (*clip.EXPLAINED, "tabs"),
                               api_name="explain_moment", **WORK)
    on(moment_done.success, clip.top5, ("explain_top5",), api_visibility="private", **WORK)
    on(c["tl_moment_button"].click, trust.clear, trust.CLEARED, lifetime=False, api_visibility="private",
       queue=False)  # the trust panel described the last clip
