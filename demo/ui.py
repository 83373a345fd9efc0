"""The page: layout and wiring. Handlers live in handlers.py, settings in config.py."""

from __future__ import annotations

import functools
import inspect

import gradio as gr

import core
from core.attribution import Baseline, Perturbation

from . import audit_tab, handlers, live_tab, models, readme_page, timeline_view, trust_panel
from .catalog import load_gallery, load_model_galleries, load_samples
from .config import (
    CACHE_CLEANUP,
    CONCURRENCY,
    GALLERY_DIR,
    MAX_FILE_SIZE_MB,
    MAX_SECONDS,
    MAX_SESSIONS,
    OPACITY,
    QUEUE_SIZE,
    REAL_MODEL,
    SAMPLES_DIR,
    STATE_TTL_S,
    TABLE_URL,
)
from .gallery_tab import gallery_tab
from .lifetime import ends_with_request
from .models import model_choices
from .state import Stop

PERTURBATION = Perturbation()  # the page's defaults for occlusion and RISE

CSS = """
#original img, #heatmap img, #contrast img { width: 100%; height: 100%; object-fit: contain; }
#samples .gallery { gap: 4px; }
#samples .gallery-item { padding: 0; font-size: 13px; line-height: 1.3; }
#samples .gallery-item > div { padding: 1px 6px; }
.nav-holder { display: none !important; }  /* the README's page (readme_page.py) needs no navigation bar */
"""


def _intro() -> str:
    """Two lines above the tabs: the samples must stay above the fold at 1366x768."""
    return (
        "# Why did the video model decide that?\n"
        f"Pick a sample clip or upload one (up to {MAX_FILE_SIZE_MB} MB and {MAX_SECONDS:.0f} s) and press "
        "**Explain**: the model names the action and **Grad-CAM** paints where its evidence came from "
        "(red strong, blue none). It shows where the model looked, not that it looked for the right "
        "reason." + (f" More in the [README]({readme_page.link()})." if readme_page.link() else "")
    )


def _models_note(missing) -> str:
    """One line, not a row per model: which registered models have no weights here."""
    names = ", ".join(m.name for m in missing)
    return (f"*Registered, but without weights on this machine ({len(missing)}): {names}. "
            "`python -m core models` says how to get each.*")


def build_demo() -> gr.Blocks:
    missing = [m for m in model_choices() if not m.available]
    offered = models.offered()
    default = core.DEFAULT_MODEL if core.DEFAULT_MODEL in offered else (offered or [core.DEFAULT_MODEL])[0]
    spec = core.get_spec(default)
    samples = load_samples(SAMPLES_DIR)

    with gr.Blocks(title="videocam: why did the video model decide that?",
                   delete_cache=CACHE_CLEANUP) as demo:
        session = gr.State(None, time_to_live=STATE_TTL_S)
        stop = gr.State(Stop(), time_to_live=STATE_TTL_S)  # one per session: Gradio copies it
        gr.Markdown(_intro(), elem_id="intro")
        tabs = gr.Tabs(elem_id="tabs")
        with tabs, gr.Tab("Explain", id="explain"):
            with gr.Row():
                with gr.Column(scale=2, min_width=320):
                    video = gr.Video(label="Video clip", sources=["upload"], height=170, elem_id="video")
                    with gr.Row(equal_height=True):
                        model = gr.Dropdown(offered or [default], value=default, label="Model",
                                            elem_id="model", scale=3)
                        explain_btn = gr.Button("Explain", variant="primary", elem_id="explain",
                                                scale=1, min_width=100)
                        stop_btn = gr.Button("Stop", variant="stop", elem_id="stop", scale=0, min_width=60,
                                             visible=False)  # shown while something runs
                    cost = gr.Markdown("", elem_id="cost")  # occlusion/RISE: passes and time, before the run
                    truth_in = gr.Textbox("", label="True label (if you know it)", max_lines=1,
                                          placeholder="filled in for the sample clips", render=False)
                    if samples:  # a compact grid of their labels; a click fills video and label
                        gr.Examples([[str(s.path), s.label] for s in samples], inputs=[video, truth_in],
                                    # held out from training; one line, so that all fit above the fold
                                    label=f"{len(samples)} rendered actions the demo model knows: click one",
                                    examples_per_page=len(samples), elem_id="samples",
                                    visible_columns=[0], example_labels=[s.label for s in samples])
                    else:
                        gr.Markdown("*No sample clips on this machine (demo/samples/index.json).*")
                    model_note = gr.Markdown(models.note(default), elem_id="model-note")
                    truth_in.render()
                    with gr.Accordion("Load a model", open=False, elem_id="load-model"):
                        gr.Markdown(models.how_to_add())
                        with gr.Row(equal_height=True):
                            hub_id = gr.Textbox(label="Hugging Face Hub id", max_lines=1, scale=3,
                                                placeholder=REAL_MODEL, elem_id="hub-id")
                            load_btn = gr.Button("Load", scale=1, min_width=80, elem_id="load")
                        if missing:
                            gr.Markdown(_models_note(missing))
                    opacity = gr.Slider(0, 1, value=OPACITY, step=0.05, label="Heatmap opacity")
                    with gr.Accordion("Settings", open=False):
                        method = gr.Radio(core.Method.choices(), value=spec.default_method,
                                          label="CAM method")
                        measured = gr.Markdown(handlers.measured_line(spec, spec.default_method, spec.default_layer, TABLE_URL),
                                               elem_id="measured")  # what was measured for this architecture
                        pooling = gr.Radio(core.Pooling.choices(), value=core.Pooling.CLIP.value,
                                           label="Channel weights")
                        # no value here: the API's default is then None, the chosen model's
                        # own layer and sampling; the page sets the default model's on load
                        layer = gr.Radio(list(spec.layers), value=None,
                                         label="Target layer (deeper: coarser, more semantic)")
                        sampling = gr.Radio(handlers.sampling_choices(spec), value=None,
                                            label="Frames sampled")
                        with gr.Row():  # occlusion and RISE (core.attribution.Perturbation)
                            masks = gr.Number(PERTURBATION.masks, precision=0, minimum=1, label="RISE masks")
                            window = gr.Textbox(" ".join(map(str, PERTURBATION.window)), max_lines=1,
                                                label="Window (frames height width)")
                            stride = gr.Textbox("", max_lines=1, label="Occlusion stride (blank: the window)")
                            baseline = gr.Radio([b.value for b in Baseline], value=PERTURBATION.baseline.value,
                                                label="Hidden parts become")
                with gr.Column(scale=3, min_width=420):
                    with gr.Row(equal_height=True):
                        original = gr.Image(label="Original", type="filepath", interactive=False,
                                            height=260, elem_id="original", buttons=["download"])
                        heatmap = gr.Image(label="Heatmap",
                                           type="filepath", interactive=False, height=260,
                                           elem_id="heatmap", buttons=["download", "fullscreen"])
                    target = gr.Dropdown(list(spec.categories), value=None, elem_id="target",
                                         label="Explain class",
                                         info="Every class, most probable first. Red shows the "
                                              "evidence for the class you pick.")
                    info = gr.Markdown(label="Details", elem_id="info")
                    with gr.Row():
                        scores = gr.Label(num_top_classes=2, label="Top-2 predictions",
                                          elem_id="scores")
                        with gr.Column():
                            truth = gr.Markdown(label="True label", elem_id="truth")
                            with gr.Accordion("All class scores", open=False):
                                all_scores = gr.Label(label="All classes", show_label=False)
                    gr.Markdown("**When is the evidence?** Each frame's share of the heatmap; "
                                "the dashed line is an even spread over the frames.")
                    plot = gr.Plot(label="Temporal importance", show_label=False, elem_id="plot")
                    files = gr.File(label="Downloads",
                                    file_count="multiple", interactive=False, elem_id="downloads")
            with gr.Accordion("Top-5 at a glance", open=True):
                top = gr.Gallery(label="The five most probable classes", show_label=False, columns=5,
                                 height=240, object_fit="contain", elem_id="top5")
            trust = trust_panel.panel()
            with gr.Accordion("Why A rather than B?", open=False):
                with gr.Row():
                    class_a = gr.Dropdown(list(spec.categories), value=None, label="Class A")
                    class_b = gr.Dropdown(list(spec.categories), value=None, label="Class B")
                    contrast_btn = gr.Button("Explain A rather than B")
                with gr.Row():
                    contrast_img = gr.Image(label="A rather than B", type="filepath",
                                            interactive=False, height=260, elem_id="contrast")
                    contrast_md = gr.Markdown(label="Contrast caption")
        with tabs, gr.Tab("Whole video", id="whole", elem_id="whole-video"):
            timeline = gr.State(None, time_to_live=STATE_TTL_S, delete_callback=timeline_view.forget)
            gr.Markdown(timeline_view.intro())
            with gr.Row():
                with gr.Column(scale=2, min_width=320):
                    long_video = gr.Video(label="Video (up to 10 minutes)", sources=["upload"], height=220,
                                          elem_id="long-video")
                    scan_btn = gr.Button("Scan whole video", variant="primary", elem_id="scan")
                    gr.Markdown("Uses the *Model* and *Settings* of the Explain tab.")
                    moment_slider = gr.Slider(0, 1, value=0, step=0.05, label="Moment (s)", interactive=False,
                                              elem_id="moment")
                    # what /explain_moment reads: the slider's value, without its bounds (see window_start)
                    moment = gr.Number(0, visible=False, elem_id="moment-value")
                    moment_btn = gr.Button("Explain this moment", elem_id="explain-moment")
                    tl_files = gr.File(label="Downloads", file_count="multiple", interactive=False,
                                       elem_id="timeline-files")
                with gr.Column(scale=3, min_width=420):
                    tl_info = gr.Markdown(elem_id="timeline-info")
                    tl_plot = gr.HTML(elem_id="timeline-plot")
                    # the dropdown is the video's title: a label on the video would cover its label bar
                    heatmap_of = gr.Dropdown([timeline_view.MOMENT], value=timeline_view.MOMENT,
                                             label="Heatmap of", elem_id="heatmap-of",
                                             info="Original | heatmap over the whole video; the class "
                                                  "and its probability are written above the frames")
                    tl_video = gr.Video(label="Original | heatmap over the whole video", show_label=False,
                                        interactive=False, height=300, elem_id="timeline-video")
        with tabs, gr.Tab("Audit", id="audit", elem_id="audit"):
            audit = audit_tab.panel()
        with tabs, gr.Tab("Live", id="live", elem_id="live"):
            live = live_tab.panel(spec.categories)
        with tabs, gr.Tab("Gallery", id="gallery"):
            gallery_tab(load_gallery(GALLERY_DIR), load_model_galleries(GALLERY_DIR), core.DEFAULT_MODEL)

        c = {"video": video, "true_label": truth_in, "model": model, "method": method,
             "pooling": pooling, "layer": layer, "opacity": opacity, "sampling": sampling,
             "session": session, "original": original, "heatmap": heatmap, "top2": scores,
             "all": all_scores, "truth": truth, "target": target, "a": class_a, "b": class_b,
             "plot": plot, "files": files, "info": info, "top5": top, "contrast": contrast_img,
             "caption": contrast_md, "model_note": model_note, "hub_id": hub_id, "tabs": tabs,
             "long_video": long_video, "timeline": timeline, "moment": moment, "moment_slider": moment_slider, "tl_plot": tl_plot,
             "tl_video": tl_video, "heatmap_of": heatmap_of, "tl_files": tl_files, "tl_info": tl_info,
             "masks": masks, "window": window, "stride": stride, "baseline": baseline, "stop": stop, "cost": cost,
             "measured": measured,
             **trust, **audit, **live}
        work = {"concurrency_id": "model", "concurrency_limit": CONCURRENCY}

        def on(trigger, fn, outputs, **kwargs):
            """Wire ``fn``: its inputs are the components named like its parameters, its outputs
            the components named in ``outputs`` (it returns a dict by those names)."""
            # the work ends with its request: Stop, a cancel, a closed tab (demo/lifetime.py)
            return trigger(ends_with_request(_by_name(fn, outputs)), _inputs(fn, c), [c[n] for n in outputs], **kwargs)

        def stop_shown_then(trigger):
            """Show Stop, then (chained on this) the work it can stop: a Stop shown by an event
            beside the work's, on the same trigger, could arrive after the work had ended."""
            return trigger(_stop_button(True), None, stop_btn, api_visibility="private", queue=False).success

        # no clip yet: a friendly warning, and the explanation's panels keep no "Error" badge
        has_clip = explain_btn.click(handlers.need_clip, video, None, api_visibility="private",
                                     concurrency_limit=None)  # queued: only then is the warning shown
        explained = on(stop_shown_then(has_clip.success), handlers.explain, handlers.EXPLAINED, api_name="explain",
                       **work)
        on(functools.partial(gr.on, [model.change, method.change, masks.change, window.change, stride.change]),
           handlers.cost, ("cost",), api_visibility="private", trigger_mode="always_last", show_progress="hidden",
           **work)
        on(explained.success, handlers.top5, ("top5",), api_name="top5", **work)
        on(scan_btn.click, handlers.scan, timeline_view.SCANNED, api_name="timeline",
           show_progress_on=tl_plot, **work)
        # another class for the whole-video heatmap: drawn from the scan's maps, no model, no decoding
        on(heatmap_of.select, handlers.redraw, ("tl_video",), api_name="timeline_heatmap",
           show_progress_on=tl_video)
        moment_slider.change(None, moment_slider, moment, js="(t) => t", api_visibility="private", queue=False)
        moment_done = on(stop_shown_then(moment_btn.click), handlers.explain_moment, (*handlers.EXPLAINED, "tabs"),
                         api_name="explain_moment", **work)
        on(moment_done.success, handlers.top5, ("top5",), api_visibility="private", **work)
        # A new class: the heatmap, then the plot and downloads beside it. Both are queued with
        # the other model work: usually tens of ms from the cached forward pass, but a full
        # forward pass when the cache has dropped the clip's, and all of an occlusion's or RISE's
        # passes: the downloads follow the heatmap so that they find its result kept, not run it twice.
        retargeted = on(target.select, handlers.retarget, ("heatmap", "info"), api_name="retarget", **work)
        on(retargeted.success, handlers.export, ("plot", "files"), api_name="export",
           show_progress="hidden", **work)
        refreshed = on(functools.partial(gr.on, [method.select, pooling.select, layer.select, opacity.release]),
                       handlers.refresh, handlers.REFRESHED, api_visibility="private",
                       trigger_mode="always_last", **work)
        on(contrast_btn.click, handlers.contrast, ("contrast", "caption"), api_name="contrast", **work)
        checked = on(stop_shown_then(trust["button"].click), handlers.trust, trust_panel.OUTPUTS, api_name="trust",
                     show_progress_on=trust["curves"], **work)
        cleared = tuple(n for n in trust_panel.OUTPUTS if n != "cache")
        for button in (explain_btn, moment_btn):  # the panel described the last clip
            on(button.click, trust_panel.clear, cleared, api_visibility="private", queue=False)
        on(model.change, handlers.switch_model, handlers.SWITCHED, api_visibility="private")
        on(functools.partial(gr.on, [method.select, layer.select]), handlers.measured, ("measured",),
           api_visibility="private", queue=False)
        # Stop: the running occlusion or RISE of this session checks the flag between batches,
        # and Gradio drops the events' results
        stop_btn.click(handlers.stop_run, stop, None, cancels=[explained, refreshed, checked, moment_done],
                       queue=False, api_name="stop").then(_stop_button(False), None, stop_btn, queue=False)
        # Stop is on screen only while work it stops runs (stop_shown_then; and a refresh that
        # runs occlusion or RISE)
        for done in (explained, moment_done, checked):
            done.then(_stop_button(False), None, stop_btn, api_visibility="private", queue=False)
        gr.on([method.select, pooling.select, layer.select, opacity.release], handlers.stop_shown, method, stop_btn,
              api_visibility="private", queue=False)
        refreshed.then(_stop_button(False), None, stop_btn, api_visibility="private", queue=False)
        audited = [on(audit["audit_run"].click, audit_tab.audit_upload, audit_tab.OUTPUTS, api_name="audit",
                      show_progress_on=audit["audit_summary"], **work),
                   on(audit["audit_sample_btn"].click, audit_tab.audit_sample, audit_tab.OUTPUTS,
                      api_name="audit_sample", show_progress_on=audit["audit_summary"], **work)]
        audit["audit_stop"].click(None, None, None, cancels=audited, queue=False)  # the audit stops at its next clip
        live_tab.wire(demo, c)
        hub_id_ok = load_btn.click(handlers.check_hub_id, hub_id, None, api_visibility="private",
                                   concurrency_limit=None)  # a refusal is a toast, not a badge on the box
        on(hub_id_ok.success, handlers.add_model, ("model",), api_name="load_model",
           show_progress_on=hub_id, **work)
        # models loaded from the page since the server started, for pages opened before that,
        # and the default model's layer and sampling (see the Settings above)
        demo.load(lambda: (gr.Dropdown(choices=models.offered()), spec.default_layer, spec.sampling,
                           handlers.method_choice(spec)),
                  None, [model, layer, sampling, method], api_visibility="private", queue=False)
        gr.on([video.upload, video.clear], lambda: "", None, truth_in, api_visibility="private",
              queue=False)
    readme_page.add(demo)  # where "More in the README" links, when the README has no other address
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    _start_sweeper()
    return demo


def _stop_button(visible: bool):
    return lambda: gr.Button(visible=visible)


def _inputs(fn, components: dict) -> list:
    """The components named like ``fn``'s parameters, in order (Gradio's progress tracker is
    not a component)."""
    names = [n for n in inspect.signature(fn).parameters if n != "progress"]
    return [components[n] for n in names]


def _by_name(fn, names):
    """``fn`` returning a dict by output name, as Gradio wants it: a tuple in ``names`` order."""

    @functools.wraps(fn)  # Gradio reads the API's parameter names through __wrapped__
    def call(*args, **kwargs):
        out = fn(*args, **kwargs)
        if set(out) != set(names):
            raise RuntimeError(f"{fn.__name__} returned {sorted(out)}; its outputs are {sorted(names)}")
        values = tuple(out[n] for n in names)
        return values if len(values) > 1 else values[0]

    return call


@functools.cache  # one per process, however many times the page is built
def _start_sweeper() -> None:
    """Gradio's delete_cache removes uploads; our own output folders are swept here."""
    from gradio.utils import get_upload_folder

    from .state import start_sweeper

    start_sweeper(get_upload_folder(), *CACHE_CLEANUP)


def launch_kwargs() -> dict:
    """What launch() needs besides the address: the upload and session limits and the look. No
    allowed_paths: samples and gallery GIFs are copied into Gradio's cache when the page is built,
    and our outputs are written there, so nothing else on disk is served. Gradio keeps a
    session's state for an hour even after its tab closes (and API clients never close), so
    without a cap on sessions memory grows with visitors per hour."""
    return {
        "max_file_size": f"{MAX_FILE_SIZE_MB}mb",
        "state_session_capacity": MAX_SESSIONS,
        "theme": gr.themes.Soft(primary_hue="orange", secondary_hue="blue"),
        "css": CSS,
        "js": timeline_view.SYNC_JS,
    }
