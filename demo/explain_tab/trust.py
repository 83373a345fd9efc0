"""The Explain tab's "Can I trust this?" panel: core.trust's checks for the clip and class on screen.

Three questions, computed on request and kept in the user's session (per clip, model, class,
method, pooling and layer), so pressing the button again is instant:

1. Faithfulness: remove (or add back) frames and regions in the heatmap's order; the class
   probability should fall (rise) faster than in a random order.
2. Counterfactuals: the clip reversed, shuffled, frozen on its middle frame, its top frames
   blurred; which of them change the model's answer.
3. Sanity: the heatmap after randomising the model's top layers should no longer look like it.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
from PIL import Image

import core
from core.notebook import curves_figure, sanity_picture
from core.trust import TrustReport, trust_check, verdicts

from ..config import STATE_TTL_S
from ..space import gpu, trust_cost
from ..state import Session, request_dir
from . import outputs

__all__ = ["CLEARED", "HEADERS", "OUTPUTS", "SANITY_RUNS", "clear", "panel", "show"]

_KEEP = 4  # reports kept per session
_PANEL_SIDE = 200  # longest side of each sanity-check GIF panel
_MARKS = {verdicts.BETTER: "✓", verdicts.TIE: "≈", verdicts.WORSE: "✗"}  # the map's order vs random
_FAITHFULNESS = {
    verdicts.FAITHFUL: "the heatmap points at what the model uses",
    verdicts.PARTLY_FAITHFUL: "the heatmap is only partly faithful",
    verdicts.NOT_FAITHFUL: "the heatmap is no better guide than a random order here",
}
OUTPUTS = ("trust_cache", "trust_heading", "trust_curves", "trust_faithfulness", "trust_table",
           "trust_counterfactual", "trust_sanity", "trust_sanity_reading")  # what show() returns, by name
CLEARED = OUTPUTS[1:]  # what clear() empties: the session's reports stay
HEADERS = ["clip", "top-1", "P(top-1)", "P(class)", "flipped"]
VARIANTS = {
    "original": "as is",
    "reversed": "reversed in time",
    "shuffled": "frames shuffled",
    "frozen_middle": "middle frame frozen",
    "top_frames_blurred": "top-heatmap frames blurred",
}
_WHEN = {"shuffled": "the frames are shuffled", "frozen_middle": "the middle frame is frozen",
         "top_frames_blurred": "the frames the heatmap ranks highest are blurred"}

INTRO = (
    "A heatmap is an explanation of the model, and it can be wrong. Three checks test it on this "
    "clip and the class under *Explain class*: about 47 forward passes of altered clips and three "
    "explanations by randomised copies of the model: 5 to 10 s with the demonstration model on a "
    "2-core CPU, longer for bigger models or a busy server. The result is kept for this session."
)
HELP_CURVES = (
    "**1. Does the heatmap point at what the model uses?** *Deletion* (left) blanks the most "
    "heatmapped frames, or spatio-temporal regions, first: the class probability should drop "
    "faster than when the same amount is blanked at random (solid below dashed, smaller area). "
    "*Insertion* (right) starts from a blank clip and adds them back: the solid line should rise "
    "faster (larger area). Blanked pixels take the clip's average over time, so still background "
    "stays and motion goes."
)
HELP_COUNTERFACTUALS = (
    "**2. Does the model use time?** The model's answer for altered copies of the clip. For "
    "actions that differ only in direction (left to right vs right to left, covering vs "
    "uncovering), reversing time should flip the answer; a model that still answers the same "
    "with one frozen frame is judging appearance, not motion. *Motion or appearance?* weighs the "
    "frozen clip against one with appearance removed and motion kept (what never changes made "
    "flat): which loss costs the class at least half its probability (docs/trust.md)."
)
HELP_SANITY = (
    "**3. Does the heatmap depend on what the model learned?** The same heatmap after the "
    "model's top layers are replaced by random weights, from left to right more of them. A "
    "heatmap that explains the model must change with it; one that still looks the same shows "
    "the clip's edges, not the model's evidence. *rank corr.*: the Spearman rank correlation "
    "with the trained model's map over the whole clip (1: the same ranking of pixels, 0: "
    "unrelated). Each picture shows the frame where the trained model's evidence peaks, each map "
    "scaled to its own maximum there."
)


@dataclass
class _CachedReport:
    report: TrustReport
    seconds: float
    png: str = ""  # the curves, drawn once (that takes ~1 s on a busy CPU)
    pictures: dict[float, str] = field(default_factory=dict)  # opacity -> sanity picture (PNG)


# -- the model work ---------------------------------------------------------------------------

SANITY_RUNS = 3  # the sanity check's randomised copies, each explained again (clip.trust caps them)


@gpu(seconds=trust_cost)
def _check(explainer: core.Explainer, clip: core.Clip, exp: core.Explanation, progress) -> TrustReport:
    """The checks through the model's shared Explainer: its lock keeps the checks' forward passes
    and the explanations of other requests apart, so one copy of each model serves both."""
    return trust_check(explainer, clip, exp, progress=progress, sanity_depth=SANITY_RUNS)


def _key(session: Session, exp: core.Explanation) -> tuple:
    clip = hashlib.blake2b(session.clip.frames.numpy().tobytes(), digest_size=16).hexdigest()
    return clip, session.model, exp.targets[0].name, exp.settings


def show(session: Session, explainer: core.Explainer, exp: core.Explanation, cache, opacity: float,
         out_root, progress=None) -> dict:
    """The panel for ``exp.targets[0]`` (made by ``explainer``, the session's model), by output
    name (see :data:`OUTPUTS`). ``cache`` is the session's dict of earlier reports; the report is
    computed only when it is not there."""
    cache = OrderedDict(cache or {})
    key = _key(session, exp)
    entry = cache.pop(key, None)
    hit = entry is not None
    if entry is None:
        t0 = time.perf_counter()
        report = _check(explainer, session.clip, exp, progress)
        entry = _CachedReport(report, time.perf_counter() - t0)
    cache[key] = entry
    while len(cache) > _KEEP:
        cache.popitem(last=False)
    # Files go to Gradio's cache, whose cleanup may have removed them since: then draw again.
    out = None
    if not Path(entry.png).is_file():
        out = request_dir(out_root)
        curves_figure(entry.report).savefig(out / "trust_curves.png", format="png")
        entry.png = str(out / "trust_curves.png")
    opacity = round(float(opacity), 2)
    picture = entry.pictures.get(opacity)
    if picture is None or not Path(picture).is_file():
        out = out or request_dir(out_root)
        picture = sanity_picture(entry.report, exp, session.display, alpha=opacity, panel_side=_PANEL_SIDE)
        Image.fromarray(picture).save(out / "sanity.png")
        picture = entry.pictures[opacity] = str(out / "sanity.png")
    r = entry.report
    how = "from this session's cache" if hit else f"computed in {entry.seconds:.1f} s"
    heading = f"Checks for **{r.target}** · {outputs.how_explained(exp)} · {how}"
    if exp.method == core.Method.ROLLOUT:
        heading += f"  \n{outputs.CLASS_AGNOSTIC} The sanity check below shows it."
    return {"trust_cache": cache, "trust_heading": heading, "trust_curves": entry.png,
            "trust_faithfulness": faithfulness_reading(r), "trust_table": counterfactual_rows(r),
            "trust_counterfactual": counterfactual_reading(r), "trust_sanity": picture,
            "trust_sanity_reading": sanity_reading(r)}


def clear() -> dict:
    """An empty panel (a new clip is being explained; the session's cache stays)."""
    return {"trust_heading": "", "trust_curves": None, "trust_faithfulness": "", "trust_table": None,
            "trust_counterfactual": "", "trust_sanity": None, "trust_sanity_reading": ""}


# -- words ------------------------------------------------------------------------------------

def faithfulness_reading(report: TrustReport) -> str:
    """Whether the heatmap's order beats a random one (core.trust.verdicts decides), in words."""
    v = report.verdicts
    marks = []
    for test, mark in v.tests.items():  # "frames_deletion" -> "deletion by frame ✓"
        unit, mode = test.split("_")
        marks.append(f"{mode} by {unit[:-1]} {_MARKS[mark]}")
    return (f"**Reading:** the heatmap's order beats a random one in {v.passed} of {len(v.tests)} "
            f"tests ({', '.join(marks)}; ≈: within {verdicts.AUC_TIE:.0%}): "
            f"{_FAITHFULNESS[v.faithfulness]}.")


def counterfactual_rows(report: TrustReport) -> list[list]:
    cf = report.counterfactuals
    return [[VARIANTS.get(k, k), v["top1"], round(v["top1_prob"], 3), round(v["target_prob"], 3),
             "✓" if v["flipped"] else "✗"] for k, v in cf.items()]


def counterfactual_reading(report: TrustReport) -> str:
    cf, flips = report.counterfactuals, report.verdicts.flips
    top0, rev = cf["original"]["top1"], cf["reversed"]
    if "reversed" in flips:
        first = f"Reversing time flips the prediction to *{rev['top1']}*"
    else:
        first = f"Reversing time keeps *{top0}* on top"
    others = [_WHEN[k] for k in _WHEN if k in flips]
    rest = (f"; it also changes when {' and when '.join(others)}." if others
            else "; nothing else changes the top-1.")
    p0, p1 = cf["original"]["target_prob"], rev["target_prob"]
    return (f"**Reading:** {first}{rest} P({report.target}) goes from {p0:.2f} to {p1:.2f} when reversed."
            + motion_reading(report))


def motion_reading(report: TrustReport) -> str:
    """Motion or appearance? (core.trust.motion) in a sentence; empty for a report without it."""
    m = report.motion
    if m is None:
        return ""
    share = "" if m.share is None else (f"; {m.share:.0%} of its evidence is on what moves "
                                        f"({m.area:.0%} of the clip moves)")
    return (f"  \n**Motion or appearance?** **{m.verdict}**: P({m.target}) goes to {m.prob_frozen:.2f} with "
            f"motion removed and to {m.prob_still_removed:.2f} with appearance removed{share}."
            + (" The model gives this class little probability: read it with care." if m.weak else ""))


def sanity_reading(report: TrustReport) -> str:
    verdict = report.verdicts.sanity
    if verdict is None:
        return "**Reading:** this model has no layers to randomise."
    last = report.sanity[-1]
    rho, names = last["spearman"], ", ".join(last["randomized"])
    if verdict == verdicts.DEPENDS:
        return (f"**Reading:** the correlation falls from 1 to {rho:.2f} once {names} are random: "
                "the map depends on the trained weights ✓")
    return (f"**Reading:** the correlation is still {rho:.2f} with {names} random: the map hardly "
            "depends on what the model learned, so read it with care ✗")


# -- layout -----------------------------------------------------------------------------------

def panel() -> dict:
    """Build the accordion; returns its components by name: ``trust_button``, the session's
    report ``trust_cache`` and the outputs of :func:`show` (the progress bar goes on
    ``trust_curves``)."""
    with gr.Accordion("Can I trust this heatmap?", open=False, elem_id="trust"):
        cache = gr.State(None, time_to_live=STATE_TTL_S)
        gr.Markdown(INTRO)
        button = gr.Button("Check this heatmap", elem_id="trust-check")
        heading = gr.Markdown(elem_id="trust-heading")
        gr.Markdown(HELP_CURVES)
        curves = gr.Image(type="filepath", interactive=False, show_label=False,
                          elem_id="trust-curves", buttons=["download", "fullscreen"])
        faithfulness = gr.Markdown()
        gr.Markdown(HELP_COUNTERFACTUALS)
        table = gr.Dataframe(headers=HEADERS, interactive=False, show_label=False,
                             elem_id="trust-table", column_widths=["22%", "42%", "12%", "12%", "12%"])
        counterfactual = gr.Markdown()
        gr.Markdown(HELP_SANITY)
        sanity = gr.Image(type="filepath", interactive=False, show_label=False, height=260,
                          elem_id="trust-sanity", buttons=["download", "fullscreen"])
        sanity_reading = gr.Markdown()
    return {"trust_button": button, "trust_cache": cache, "trust_heading": heading, "trust_curves": curves,
            "trust_faithfulness": faithfulness, "trust_table": table, "trust_counterfactual": counterfactual,
            "trust_sanity": sanity, "trust_sanity_reading": sanity_reading}
