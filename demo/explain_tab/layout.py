"""The Explain tab's layout: the clip, the model and its settings on the left, the results on the
right, then the top-5, the trust checks and "A rather than B". The model and settings chosen here
serve every tab (the page's ``settings`` record is built from them: demo/settings.py)."""

from __future__ import annotations

import gradio as gr

import core
from core.attribution import Baseline, Perturbation
from core.models.measured import measured_line

from .. import choices, models
from ..config import DOCS_BASE, OPACITY, REAL_MODEL
from ..settings import PageSettings
from . import trust
from .model_box import sampling_choices

__all__ = ["layout", "models_note"]

PERTURBATION = Perturbation()  # the page's defaults for occlusion and RISE


def models_note(missing) -> str:
    """One line, not a row per model: which registered models have no weights here."""
    names = ", ".join(m.name for m in missing)
    return (f"*Registered, but without weights on this machine ({len(missing)}): {names}. "
            "`python -m core models` says how to get each.*")


def layout(page, default: str, spec: core.ModelSpec, offered: list[str], samples, missing) -> PageSettings:
    """Lay out the tab inside the current Blocks context for model ``default`` (its ``spec``) and
    add its components to ``page``; returns the settings its components show."""
    c = {}
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            c["video"] = gr.Video(label="Video clip", sources=["upload"], height=170, elem_id="video")
            with gr.Row(equal_height=True):
                c["model"] = choices.Dropdown(offered or [default], value=default, label="Model",
                                         elem_id="model", scale=3)
                c["explain_button"] = gr.Button("Explain", variant="primary", elem_id="explain",
                                                scale=1, min_width=100)
                c["explain_stop"] = gr.Button("Stop", variant="stop", elem_id="stop", scale=0, min_width=60,
                                              visible=False)  # shown while something runs
            c["explain_cost"] = gr.Markdown("", elem_id="cost")  # occlusion/RISE: passes and time, before the run
            c["true_label"] = gr.Textbox("", label="True label (if you know it)", max_lines=1,
                                         placeholder="filled in for the sample clips", render=False)
            if samples:  # a compact grid of their labels; a click fills video and label
                gr.Examples([[str(s.path), s.label] for s in samples], inputs=[c["video"], c["true_label"]],
                            # held out from training; one line, so that all fit above the fold
                            label=f"{len(samples)} rendered actions the demo model knows: click one",
                            examples_per_page=len(samples), elem_id="samples",
                            visible_columns=[0], example_labels=[s.label for s in samples])
            else:
                gr.Markdown("*No sample clips on this machine (demo/samples/index.json).*")
            c["explain_model_note"] = gr.Markdown(models.note(default), elem_id="model-note")
            c["true_label"].render()
            with gr.Accordion("Load a model", open=False, elem_id="load-model"):
                gr.Markdown(models.how_to_add())
                with gr.Row(equal_height=True):
                    c["hub_id"] = gr.Textbox(label="Hugging Face Hub id", max_lines=1, scale=3,
                                             placeholder=REAL_MODEL, elem_id="hub-id")
                    c["explain_load"] = gr.Button("Load", scale=1, min_width=80, elem_id="load")
                if missing:
                    gr.Markdown(models_note(missing))
            c["opacity"] = gr.Slider(0, 1, value=OPACITY, step=0.05, label="Heatmap opacity")
            with gr.Accordion("Settings", open=False):
                c["method"] = choices.Radio(core.Method.choices(), value=spec.default_method, label="CAM method")
                c["explain_measured"] = gr.Markdown(  # what was measured for this architecture
                    measured_line(spec, spec.default_method, spec.default_layer, DOCS_BASE), elem_id="measured")
                c["pooling"] = choices.Radio(core.Pooling.choices(), value=core.Pooling.CLIP.value,
                                        label="Channel weights")
                # no value here: the API's default is then None, the chosen model's
                # own layer and sampling; the page sets the default model's on load
                c["layer"] = choices.Radio(list(spec.layers), value=None,
                                      label="Target layer (deeper: coarser, more semantic)")
                c["sampling"] = choices.Radio(sampling_choices(spec), value=None, label="Frames sampled")
                with gr.Row():  # occlusion and RISE (core.attribution.Perturbation)
                    c["masks"] = gr.Number(PERTURBATION.masks, precision=0, minimum=1, label="RISE masks")
                    c["window"] = gr.Textbox(" ".join(map(str, PERTURBATION.window)), max_lines=1,
                                             label="Window (frames height width)")
                    c["stride"] = gr.Textbox("", max_lines=1, label="Occlusion stride (blank: the window)")
                    c["baseline"] = choices.Radio([b.value for b in Baseline], value=PERTURBATION.baseline.value,
                                             label="Hidden parts become")
        with gr.Column(scale=3, min_width=420):
            with gr.Row(equal_height=True):
                c["explain_original"] = gr.Image(label="Original", type="filepath", interactive=False,
                                                 height=260, elem_id="original", buttons=["download"])
                c["explain_heatmap"] = gr.Image(label="Heatmap", type="filepath", interactive=False, height=260,
                                                elem_id="heatmap", buttons=["download", "fullscreen"])
            c["target"] = choices.Dropdown(list(spec.categories), value=None, elem_id="target", label="Explain class",
                                      info="Every class, most probable first. Red shows the "
                                           "evidence for the class you pick.")
            c["explain_info"] = gr.Markdown(label="Details", elem_id="info")
            with gr.Row():
                c["explain_top2"] = gr.Label(num_top_classes=2, label="Top-2 predictions", elem_id="scores")
                with gr.Column():
                    c["explain_truth"] = gr.Markdown(label="True label", elem_id="truth")
                    with gr.Accordion("All class scores", open=False):
                        c["explain_all_scores"] = gr.Label(label="All classes", show_label=False)
            gr.Markdown("**When is the evidence?** Each frame's share of the heatmap; "
                        "the dashed line is an even spread over the frames.")
            c["explain_plot"] = gr.Plot(label="Temporal importance", show_label=False, elem_id="plot")
            c["explain_files"] = gr.File(label="Downloads", file_count="multiple", interactive=False,
                                         elem_id="downloads")
    with gr.Accordion("Top-5 at a glance", open=True):
        c["explain_top5"] = gr.Gallery(label="The five most probable classes", show_label=False, columns=5,
                                       height=240, object_fit="contain", elem_id="top5")
    c.update(trust.panel())
    with gr.Accordion("Why A rather than B?", open=False):
        with gr.Row():  # a and b: the names /contrast's parameters have always had
            c["a"] = choices.Dropdown(list(spec.categories), value=None, label="Class A")
            c["b"] = choices.Dropdown(list(spec.categories), value=None, label="Class B")
            c["explain_contrast_button"] = gr.Button("Explain A rather than B")
        with gr.Row():
            c["explain_contrast"] = gr.Image(label="A rather than B", type="filepath", interactive=False,
                                             height=260, elem_id="contrast")
            c["explain_contrast_caption"] = gr.Markdown(label="Contrast caption")
    page.add(c)
    return PageSettings(method=spec.default_method, pooling=core.Pooling.CLIP.value, layer=None, opacity=OPACITY,
                        sampling=None, masks=PERTURBATION.masks, window=c["window"].value, stride="",
                        baseline=PERTURBATION.baseline.value)
