"""The Explain tab's handlers for one clip: explain it, then another class, the top-5, A rather
than B, the downloads, and everything again after a change of settings.

Each takes the session (the clip the last Explain read), what it is asked for (a class, two
classes), the page's :class:`~demo.settings.PageSettings` and the session's Stop, and returns a
dict of outputs by component name. The settings become one validated :class:`core.Settings` at
the top of each; each request looks its model up once (``get_explainer``) and passes that
Explainer down; the engine alone checks the layer against the model. What the request will cost
is checked against the page's caps (:func:`within_caps`, ``demo/config.py``) before any model
work, and before any GPU is booked on ZeroGPU.
"""

from __future__ import annotations

import os
from dataclasses import replace

import gradio as gr
from gradio.utils import get_upload_folder  # Gradio's cache: what delete_cache cleans

import core
from core.cam.registry import method_names
from core.transforms import fit_frames

from .. import lifetime, space
from ..config import GIF_MAX_SIDE, MAX_SECONDS, REQUEST_MAX_PASSES, REQUEST_MAX_SECONDS, TOP_K
from ..models import get_explainer
from ..page import LIMITS, user_errors
from ..settings import PageSettings
from ..space import gpu
from ..state import Session, Stop, request_dir
from . import outputs
from . import trust as panel

__all__ = ["CLI_HINT", "EXPLAINED", "REFRESHED", "contrast", "explain_clip", "export", "first_page", "need",
           "need_clip", "refresh", "retarget", "stop_run", "stop_shown", "top5", "trust",
           "within_caps"]

EXPLAINED = ("session", "explain_original", "explain_heatmap", "explain_top2", "explain_all_scores",
             "explain_truth", "target", "a", "b", "explain_plot", "explain_files", "explain_info")
REFRESHED = ("explain_heatmap", "explain_info", "explain_plot", "explain_files", "explain_top5")


def need(session: Session | None) -> Session:
    """The session's clip, or the page's note that there is none yet."""
    if session is None:
        raise gr.Error("Explain a clip first: upload a video or pick a sample, then press Explain.",
                       print_exception=False)
    return session


# -- what one request may cost ------------------------------------------------------------

CLI_HINT = ("for a bigger job, run videocam's command line on your own machine "
            "(`python -m core explain`, no limit there; see the README)")


def within_caps(explainer: core.Explainer, clip, settings: core.Settings, *, times: int = 1,
                why: str = "by this request") -> None:
    """Refuse (:class:`core.SettingsError`) ``settings`` on ``clip`` when its forward passes
    (``times`` runs of them, ``why`` in the message) exceed this page's caps per request, in passes or in seconds at
    ``explainer``'s measured speed; the message names the cap and the way to a bigger job. On a
    ZeroGPU Space only the passes are capped here: this process's models are on the CPU, whose
    speed says nothing of the GPU's, and the GPU booking (``demo/booking.py``) caps the time at
    the speed the worker measured, before any GPU is asked for."""
    from core.attribution import Perturbation

    passes = explainer.forward_passes(clip, settings) * times  # as the method registered its count
    if passes <= times:  # one pass an explanation (the Grad-CAM family, attention): nothing to cap
        return
    fewer = "Use fewer masks" if settings.method == core.Method.RISE else "Use a larger window or stride"
    label = settings.method.label + (f", run {times} times {why}," if times > 1 else "")
    if passes > REQUEST_MAX_PASSES:
        raise core.SettingsError(
            f"{label} with these settings runs {passes:,} forward passes; this page runs at most "
            f"{REQUEST_MAX_PASSES:,} per request. {fewer}; " + CLI_HINT)
    if space.ON_ZERO_GPU:
        return
    each = explainer.clip_seconds((settings.perturbation or Perturbation()).batch_size)
    if passes * each > REQUEST_MAX_SECONDS:
        raise core.SettingsError(
            f"{label} with these settings runs {passes:,} forward passes, about "
            f"{passes * each:.0f} s with {explainer.spec.name} here ({each * 1e3:.0f} ms a clip, measured); this "
            f"page allows {REQUEST_MAX_SECONDS:.0f} s of model work per request. {fewer}; " + CLI_HINT)


# -- the model work ---------------------------------------------------------------------------

@gpu(seconds=space.explain_cost, kept=space.Kept(extra=TOP_K))
def _run(explainer: core.Explainer, clip: core.Clip, settings: core.Settings, stop: Stop | None = None,
         progress=None, **targets) -> core.Explanation:
    """The model work (forward pass if not cached, gradients, CAM, or the forward passes of an
    attribution method, stopped by the page's Stop button); on a GPU where there is one. Its
    callers have checked the page's caps (``within_caps``) before it, so a refusal comes before
    any GPU is booked."""
    pressed = stop.start() if stop is not None else None

    def cancel() -> bool:  # the Stop flag, or the request's end (cancelled, page closed: lifetime.py)
        lifetime.check()
        return pressed is not None and pressed()

    def passes(done: int, total: int) -> None:
        if progress is not None:
            progress(done / total, desc=f"{settings.method.label}: {done} of {total} forward passes")

    return explainer.explain(clip, settings=settings, progress=passes, cancel=cancel, **targets)


def _again(session: Session | None, settings: core.Settings, stop: Stop | None = None, *, times: int = 1,
           why: str = "by this request", **targets) -> tuple[Session, core.Explainer, core.Explanation]:
    """The session's clip explained for other targets or settings (its forward pass is cached),
    with the session model's Explainer that made it. ``times``: how many runs of the method the
    request makes in all (the trust checks run it again on randomised copies), ``why`` in words:
    the caps count them."""
    session = need(session)
    explainer = get_explainer(session.model)
    within_caps(explainer, session.clip, settings, times=times, why=why)  # what one request may cost (demo/config.py)
    return session, explainer, _run(explainer, session.clip, settings, stop, **targets)


def _read(video: str, spec: core.ModelSpec, sampling) -> core.Clip:
    """The upload as the model ``spec`` takes it; ``sampling`` None: the model's own policy."""
    clip = core.read_clip(video, spec, sampling=sampling or None, limits=LIMITS)
    if clip.duration > MAX_SECONDS:
        raise gr.Error(f"{os.path.basename(video)}: the clip is longer than {MAX_SECONDS:.0f} s; "
                       "trim it to the part with the action and upload that.", print_exception=False)
    return clip


def _working_clip(clip: core.Clip, spec: core.ModelSpec) -> core.Clip:
    """``clip`` with frames no larger than the model needs (a 1080p clip held per session would
    cost ~100 MB). The model resizes to ``spec.input_size`` anyway; this keeps twice that."""
    rs = spec.resize_size
    need = rs if isinstance(rs, int) else max(rs) if rs else max(spec.input_size)
    return replace(clip, frames=fit_frames(clip.frames, short_side=max(2 * need, GIF_MAX_SIDE)))


@user_errors
def explain_clip(video, true_label, model, settings: PageSettings, stop=None,
                 progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """Decode, classify and explain the clip for its top-1 class; the first page of results.
    ``settings.layer`` and ``settings.sampling`` None: that model's own."""
    if not video:
        raise gr.Error("Upload a video or pick a sample clip first.", print_exception=False)
    progress(0.0, desc="Loading the model")
    explainer = get_explainer(model)  # the request's one look-up of the model, passed down from here
    checked = settings.validated()
    progress(0.2, desc="Decoding frames")
    clip = _read(video, explainer.spec, settings.sampling)
    return first_page(explainer, clip, os.path.basename(video), (true_label or "").strip() or None,
                      model, checked, settings.opacity, progress, stop)


def first_page(explainer, clip, video_name, true_label, model, settings, opacity, progress, stop=None) -> dict:
    """Explain ``clip`` (as decoded) for its top-1 class with ``explainer`` (model ``model``'s):
    every name in :data:`EXPLAINED`. The session keeps it at the size the model needs."""
    clip = _working_clip(clip, explainer.spec)
    within_caps(explainer, clip, settings)  # what one request may cost (demo/config.py)
    progress(0.4, desc=f"Running the model and {settings.method.label}")
    exp = _run(explainer, clip, settings, stop, progress)
    ranked = tuple(exp.topk(len(exp.categories)))
    display = fit_frames(clip.frames, max_side=GIF_MAX_SIDE).numpy()  # frames at GIF size
    session = Session(model, video_name, true_label, clip, display, ranked)
    progress(0.7, desc="Rendering GIFs")
    out = request_dir(get_upload_folder())
    top1, top2 = ranked[0][0], ranked[min(1, len(ranked) - 1)][0]
    choices = outputs.class_choices(ranked)
    return {
        "session": session,
        "explain_original": outputs.gif(session.display, out / "original.gif"),
        "explain_heatmap": outputs.heatmap_gif(session, exp, opacity, out / "heatmap.gif"),
        "explain_top2": outputs.scores(ranked),
        "explain_all_scores": outputs.scores(ranked),
        "explain_truth": outputs.truth(session) + outputs.familiarity(exp),
        "target": gr.Dropdown(choices=choices, value=top1),
        "a": gr.Dropdown(choices=choices, value=top1),
        "b": gr.Dropdown(choices=choices, value=top2),
        "explain_plot": outputs.plot(exp),
        "explain_files": outputs.downloads(session, exp, opacity, out),
        "explain_info": outputs.info(session, exp),
    }


@user_errors
def retarget(session, target, settings: PageSettings, stop=None) -> dict:
    """The heatmap for another class (or method, pooling, opacity) from the cached forward pass
    (or a new one, when it was evicted: so it is queued with the other model work)."""
    session, _, exp = _again(session, settings.validated(), stop, targets=target)
    return _heatmap(session, exp, settings.opacity)


@user_errors
def export(session, target, settings: PageSettings, stop=None) -> dict:
    """The temporal plot and the downloads for the class now shown (runs beside retarget)."""
    session, _, exp = _again(session, settings.validated(), stop, targets=target)
    return _downloads(session, exp, settings.opacity)


@user_errors
def top5(session, settings: PageSettings, stop=None) -> dict:
    """Heatmap GIFs of the five most probable classes, best first."""
    session, _, exp = _again(session, settings.validated(), stop, top_k=TOP_K)
    return _top5(session, exp, settings.opacity)


@user_errors
def contrast(session, a, b, settings: PageSettings, stop=None) -> dict:
    """Why A rather than B: the CAM of the logit difference A - B."""
    if need(session) and (not a or not b or a == b):
        raise gr.Error("Pick two different classes A and B.", print_exception=False)
    session, _, exp = _again(session, settings.validated(), stop, contrast=(a, b))
    out = request_dir(get_upload_folder())
    caption = (f"Red: where the evidence for **{a}** outweighs the evidence for **{b}**; "
               "blue: where it does not.")
    return {"explain_contrast": outputs.heatmap_gif(session, exp, settings.opacity, out / "contrast.gif"),
            "explain_contrast_caption": caption}


@user_errors
def refresh(session, target, settings: PageSettings, stop=None) -> dict:
    """After a change of method, pooling, layer or opacity: everything that shows a heatmap (what
    retarget, export and top5 show, with one look-up of the model). Before the first Explain
    there is nothing to redraw, so nothing happens."""
    if session is None:
        return dict.fromkeys(REFRESHED, gr.skip())
    # two runs: the class shown and the top five (one for the Grad-CAM family, whose forward pass is
    # cached; occlusion and RISE run their passes again), both counted by the caps
    session, explainer, exp = _again(session, settings.validated(), stop, times=2,
                                     why="for the heatmap and the top five", targets=target)
    top = _run(explainer, session.clip, exp.settings, stop, top_k=TOP_K)  # Stop ends this run too
    opacity = settings.opacity
    return {**_heatmap(session, exp, opacity), **_downloads(session, exp, opacity), **_top5(session, top, opacity)}


@user_errors
def trust(session, trust_cache, target, settings: PageSettings, stop=None,
          progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """Can I trust this heatmap? Faithfulness curves, counterfactuals and the sanity check for
    the class shown (the top-1 if none); kept in ``trust_cache`` (the session's) per clip and
    settings."""
    session = need(session)
    target = target or session.ranked[0][0]
    # the sanity check runs the method again on each of its randomised copies of the model: capped
    # with them, before any GPU call (on ZeroGPU, _run may be answered from what an earlier call kept)
    session, explainer, exp = _again(session, settings.validated(), stop, times=1 + panel.SANITY_RUNS,
                                     why="by the trust checks", targets=target)
    return panel.show(session, explainer, exp, trust_cache, settings.opacity, get_upload_folder(),
                      progress=lambda fraction, what: lifetime.check() or progress(fraction, desc=what))


def _heatmap(session: Session, exp: core.Explanation, opacity) -> dict:
    out = request_dir(get_upload_folder())
    return {"explain_heatmap": outputs.heatmap_gif(session, exp, opacity, out / "heatmap.gif"),
            "explain_info": outputs.info(session, exp)}


def _downloads(session: Session, exp: core.Explanation, opacity) -> dict:
    return {"explain_plot": outputs.plot(exp),
            "explain_files": outputs.downloads(session, exp, opacity, request_dir(get_upload_folder()))}


def _top5(session: Session, exp: core.Explanation, opacity) -> dict:
    out = request_dir(get_upload_folder())
    probs = dict(session.ranked)
    return {"explain_top5": [
        (outputs.heatmap_gif(session, exp, opacity, out / f"top{k + 1}.gif", k),
         f"{k + 1}. {t.label} · {probs[t.label]:.2f}")
        for k, t in enumerate(exp.targets)
    ]}


def need_clip(video) -> None:
    """Before Explain: without a clip, a warning (not an error on every panel) and nothing runs."""
    if not video:
        gr.Warning("Upload a video or pick a sample clip first.", title="No clip yet")
        raise gr.Error("no clip", visible=False, print_exception=False)  # stops the chain, says nothing more


def stop_shown(settings: PageSettings) -> dict:
    """Stop on screen for a refresh only when it runs a method that Stop can end (occlusion, RISE:
    those whose registry entry ``perturbs``)."""
    return {"explain_stop": gr.Button(visible=settings.method in method_names(lambda e: e.perturbs))}


def stop_run(stop: Stop | None) -> None:
    """The Stop button: the running occlusion or RISE of this session stops before its next batch."""
    if stop is not None:
        stop.requested = True
