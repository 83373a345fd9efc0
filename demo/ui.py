"""The page: layout and wiring. Handlers live in handlers.py, settings in config.py."""

from __future__ import annotations

import functools

import gradio as gr

import core

from . import handlers, trust_panel
from .catalog import load_gallery, load_samples
from .config import (
    CACHE_CLEANUP,
    CONCURRENCY,
    GALLERY_DIR,
    MAX_FILE_SIZE_MB,
    MAX_SECONDS,
    MAX_SESSIONS,
    QUEUE_SIZE,
    README_URL,
    SAMPLES_DIR,
    STATE_TTL_S,
    VIDEO_TYPES,
)
from .gallery_tab import gallery_tab
from .models import model_choices

METHOD_CHOICES = [("Grad-CAM", "gradcam"), ("Grad-CAM++", "gradcampp"), ("HiResCAM", "hirescam"),
                  ("XGrad-CAM", "xgradcam"), ("LayerCAM", "layercam")]
POOLING_CHOICES = [("one weight per channel for the clip", "clip"), ("per frame", "frame")]
SAMPLING_CHOICES = [("spread over the whole clip", "uniform"),
                    ("4 per second, from the middle of the clip", "fps")]

CSS = """
#original img, #heatmap img, #contrast img { width: 100%; height: 100%; object-fit: contain; }
"""


def _intro() -> str:
    readme = f" More in the [README]({README_URL})." if README_URL else " More in README.md."
    return (
        "# Why did the video model decide that?\n"
        "Upload a short clip or pick a sample and press **Explain**. The model watches a few frames "
        "and names the action; **Grad-CAM** then paints, frame by frame, where its evidence for a "
        "class came from: red is strong evidence, blue none. Pick another class under *Explain "
        "class* to see what would have made the model say that instead; the plot shows *when* "
        "the evidence is. A heatmap shows where the model looked, not that it looked for the "
        f"right reason.{readme}  \n"
        f"*Limits: videos up to {MAX_FILE_SIZE_MB} MB and {MAX_SECONDS:.0f} s "
        f"({', '.join(VIDEO_TYPES)}).*"
    )


def _models_note(missing) -> str:
    rows = "\n".join(f"- `{m.name}`: {m.where}" for m in missing)
    return f"Not on this machine (their weights are missing):\n{rows}"


def build_demo() -> gr.Blocks:
    choices = model_choices()
    available = [m.name for m in choices if m.available]
    missing = [m for m in choices if not m.available]
    default = available[0] if available else core.DEFAULT_MODEL
    spec = core.get_spec(default)
    samples = load_samples(SAMPLES_DIR)

    with gr.Blocks(title="videocam: why did the video model decide that?",
                   delete_cache=CACHE_CLEANUP) as demo:
        session = gr.State(None, time_to_live=STATE_TTL_S)
        gr.Markdown(_intro())
        with gr.Tab("Explain"):
            with gr.Row():
                with gr.Column(scale=2, min_width=320):
                    video = gr.Video(label="Video clip", sources=["upload"], height=220, elem_id="video")
                    truth_in = gr.Textbox("", label="True label (if you know it)", max_lines=1,
                                          placeholder="filled in for the sample clips")
                    if samples:
                        gr.Examples([[str(s.path), s.label] for s in samples], inputs=[video, truth_in],
                                    label="Sample clips (held out from training): click one",
                                    examples_per_page=len(samples), elem_id="samples")
                    else:
                        gr.Markdown("*No sample clips on this machine (demo/samples/index.json).*")
                    explain_btn = gr.Button("Explain", variant="primary", elem_id="explain")
                    model = gr.Dropdown(available or [default], value=default, label="Model")
                    if missing:
                        with gr.Accordion("Other models", open=False):
                            gr.Markdown(_models_note(missing))
                    opacity = gr.Slider(0, 1, value=0.5, step=0.05, label="Heatmap opacity")
                    with gr.Accordion("Settings", open=False):
                        method = gr.Radio(METHOD_CHOICES, value="gradcam", label="CAM method")
                        pooling = gr.Radio(POOLING_CHOICES, value="clip", label="Channel weights")
                        layer = gr.Radio(list(spec.layers), value=spec.default_layer,
                                         label="Target layer (deeper: coarser, more semantic)")
                        sampling = gr.Radio(SAMPLING_CHOICES, value=spec.sampling,
                                            label="Frames sampled")
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
            trust_btn, trust_cache, trust_out = trust_panel.panel()
            with gr.Accordion("Why A rather than B?", open=False):
                with gr.Row():
                    class_a = gr.Dropdown(list(spec.categories), value=None, label="Class A")
                    class_b = gr.Dropdown(list(spec.categories), value=None, label="Class B")
                    contrast_btn = gr.Button("Explain A rather than B")
                with gr.Row():
                    contrast_img = gr.Image(label="A rather than B", type="filepath",
                                            interactive=False, height=260, elem_id="contrast")
                    contrast_md = gr.Markdown(label="Contrast caption")
        with gr.Tab("Gallery"):
            gallery_tab(load_gallery(GALLERY_DIR))

        knobs = [method, pooling, layer, opacity]
        work = {"concurrency_id": "model", "concurrency_limit": CONCURRENCY}
        explain_btn.click(
            handlers.explain, [video, truth_in, model, *knobs, sampling],
            [session, original, heatmap, scores, all_scores, truth, target, class_a, class_b, plot,
             files, info], api_name="explain", **work,
        ).success(handlers.top5, [session, *knobs], top, api_name="top5", **work)
        # A new class: the heatmap straight away, unqueued (tens of ms of work, so no queue
        # round trip), and the plot and downloads through the queue beside it.
        target.select(handlers.retarget, [session, target, *knobs], [heatmap, info],
                      api_name="retarget", queue=False)
        target.select(handlers.export, [session, target, *knobs], [plot, files], api_name="export",
                      show_progress="hidden", **work)
        gr.on([method.select, pooling.select, layer.select, opacity.release], handlers.refresh,
              [session, target, *knobs], [heatmap, info, plot, files, top],
              api_visibility="private", trigger_mode="always_last", **work)
        contrast_btn.click(handlers.contrast, [session, class_a, class_b, *knobs],
                           [contrast_img, contrast_md], api_name="contrast", **work)
        trust_btn.click(handlers.trust, [session, trust_cache, target, *knobs], trust_out,
                        api_name="trust", show_progress_on=trust_out[2], **work)
        explain_btn.click(trust_panel.clear, None, trust_out[1:], api_visibility="private",
                          queue=False)  # the panel described the last clip
        model.change(handlers.controls_for, model, [layer, sampling], api_visibility="private")
        gr.on([video.upload, video.clear], lambda: "", None, truth_in, api_visibility="private",
              queue=False)
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    _start_sweeper()
    return demo


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
    }
