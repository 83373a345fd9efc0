"""Event handlers: explain a clip, re-render for another class, top-5, contrast, downloads.

Each handler's parameters are named like the page's components (ui.py wires inputs by those
names) and it returns a dict of outputs by name (ui.py puts them in the order Gradio wants).
Settings from the page become one validated :class:`core.Settings` at the top of each handler,
and each request looks its model up once (``get_explainer``) and passes that Explainer down; the
engine alone checks the layer against the model (``core.cam.resolve_layer``).
What the user can fix (a :class:`core.UserError`) is shown as it is; anything else is a bug:
logged with its traceback and shown as a short internal-error note.
"""

from __future__ import annotations

import functools
import logging
import os
import re

import gradio as gr
import torch
from gradio.utils import get_upload_folder  # Gradio's cache: what delete_cache cleans

import core
from core._sampling import Sampling
from core.attribution import estimate
from core.attribution.maps import resolve
from core.cam.settings import ATTENTION_METHODS, PERTURBATION_METHODS, methods_for
from core.models.measured import measured_line
from core.video import DEFAULT_FPS, Limits

from . import lifetime, models, outputs, space, timeline_view, trust_panel
from .config import (
    ALLOW_DOWNLOADS,
    DECODE_SECONDS,
    MAX_FILE_SIZE_MB,
    MAX_SECONDS,
    OPACITY,
    REAL_MODEL,
    TABLE_URL,
    TOP_K,
)
from .lifetime import within_caps
from .models import get_explainer
from .space import gpu
from .state import Session, Stop, display_frames, request_dir, working_clip

log = logging.getLogger(__name__)

# The decoder's own bounds, plus ours. max_duration truncates (it bounds the work); clips longer
# than MAX_SECONDS are refused below with a message. Reading may take DECODE_SECONDS of wall time,
# so that a hostile file is answered within ~5 s (issue 6), model work included.
LIMITS = Limits(max_bytes=MAX_FILE_SIZE_MB * 2**20, max_duration=2 * MAX_SECONDS, time_budget=DECODE_SECONDS)
INTERNAL_ERROR = "Something went wrong on the server (it is logged). Try again, or try another clip."


def user_errors(fn):
    """Show what the user can fix as it is; log anything else and show a short note instead."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except core.UserError as e:
            log.info("%s: %s", fn.__name__, e)
            raise gr.Error(str(e), print_exception=False) from None
        except Exception:
            log.exception("%s failed", fn.__name__)
            raise gr.Error(INTERNAL_ERROR, print_exception=False) from None

    return wrapper


def _need(session: Session | None) -> Session:
    if session is None:
        raise gr.Error("Explain a clip first: upload a video or pick a sample, then press Explain.",
                       print_exception=False)
    return session


def _given(value, missing: str) -> None:
    """Nothing when ``value`` is there; else the page's note ``missing``."""
    if not value:
        raise gr.Error(missing, print_exception=False)


def _load(model: str, progress) -> core.Explainer:
    """The request's one look-up of model ``model``: its shared Explainer, passed down from here."""
    progress(0.0, desc="Loading the model")
    return get_explainer(model)


def _triple(text, what: str):
    """ "4 28 28" (frames height width) -> (4, 28, 28); blank -> None; the record checks the rest."""
    parts = str(text or "").replace(",", " ").split()
    if not parts:
        return None
    try:
        return tuple(int(v) for v in parts)
    except ValueError:
        raise core.SettingsError(f"{what}={text!r}; give three whole numbers: frames height width, "
                                 "e.g. 4 28 28") from None


def _settings(method, pooling, layer, masks=None, window=None, stride=None, baseline=None,
              opacity=OPACITY) -> core.Settings:
    """The page's method, pooling, layer and perturbation (occlusion's window and stride, RISE's
    masks, the baseline) as one validated record. No layer (an API client that did not give one)
    is the model's default; the engine checks a layer against the model. ``opacity`` is checked
    here too, before the model runs (raw JSON passes the slider's bounds: NaN, 7)."""
    if isinstance(opacity, bool) or not isinstance(opacity, int | float) or not 0 <= opacity <= 1:
        raise core.SettingsError(f"opacity={opacity!r}; give a number from 0 to 1")
    given = {"masks": None if masks in (None, "") else int(masks), "window": _triple(window, "window"),
             "stride": _triple(stride, "stride"), "baseline": baseline or None}
    return core.Settings(method=method, pooling=pooling, layer=layer or None,
                         perturbation={k: v for k, v in given.items() if v is not None})


@gpu(seconds=space.explain_cost, kept=space.Kept(extra=TOP_K))
def _run(explainer: core.Explainer, clip: core.Clip, settings: core.Settings, stop: Stop | None = None,
         progress=None, **targets) -> core.Explanation:
    """The model work (forward pass if not cached, gradients, CAM, or the forward passes of an
    attribution method, stopped by the page's Stop button); on a GPU where there is one."""
    within_caps(explainer, clip, settings)  # what one request may cost (demo/config.py)
    pressed = stop.start() if stop is not None else None

    def cancel() -> bool:  # the Stop flag, or the request's end (cancelled, page closed: lifetime.py)
        lifetime.check()
        return pressed is not None and pressed()

    def passes(done: int, total: int) -> None:
        if progress is not None:
            progress(done / total, desc=f"{settings.method.label}: {done} of {total} forward passes")

    return explainer.explain(clip, settings=settings, progress=passes, cancel=cancel, **targets)


def _again(session: Session | None, settings: core.Settings, stop: Stop | None = None,
           **targets) -> tuple[Session, core.Explainer, core.Explanation]:
    """The session's clip explained for other targets or settings (its forward pass is cached),
    with the session model's Explainer that made it."""
    session = _need(session)
    explainer = get_explainer(session.model)
    return session, explainer, _run(explainer, session.clip, settings, stop, **targets)


def _read(video: str, spec: core.ModelSpec, sampling) -> core.Clip:
    """The upload as the model ``spec`` takes it; ``sampling`` None: the model's own policy."""
    clip = core.read_clip(video, spec, sampling=sampling or None, limits=LIMITS)
    if clip.duration > MAX_SECONDS:
        raise gr.Error(f"{os.path.basename(video)}: the clip is longer than {MAX_SECONDS:.0f} s; "
                       "trim it to the part with the action and upload that.", print_exception=False)
    return working_clip(clip, spec)


def sample_rate(spec: core.ModelSpec) -> float:
    """Frames per second of the ``fps`` sampling policy for this model."""
    return spec.sample_fps or DEFAULT_FPS


def _info(session: Session, exp: core.Explanation) -> str:
    c = session.clip
    how = "spread over the clip" if c.sampling == Sampling.UNIFORM else f"{c.sample_fps:.3g} per second"
    t = exp.timings
    return (f"{c.num_frames} frames {how}, from {c.duration:.1f} s of {c.source_size[1]}×"
            f"{c.source_size[0]} video at {c.source_fps:.0f} fps · {exp.model}, {outputs.how_explained(exp)} · "
            + ("cached forward pass" if exp.cached_forward else f"forward {t['forward']:.0f} ms"))


def _truth(session: Session) -> str:
    if not session.true_label:
        return "**True label:** not known for an uploaded clip."
    top1 = session.ranked[0][0]
    verdict = "the top-1 prediction ✓" if top1 == session.true_label else f"top-1 is *{top1}* ✗"
    return f"**True label:** {session.true_label} — {verdict}"


def _familiarity(exp: core.Explanation) -> str:
    """The warning for a clip unlike the model's training data (core.familiarity), or nothing."""
    f = exp.familiarity
    if f is None or not f.unfamiliar:
        return ""
    return (f"\n\n⚠️ **This clip is unlike anything the model was trained on: its answer and heatmap mean "
            f"little.** (Its features lie farther from the training data than {f.percentile:.1f}% of the model's own "
            "held-out clips.)")


@user_errors
def explain(video, true_label, model, method, pooling, layer=None, opacity=OPACITY, sampling=None,
            masks=None, window=None, stride=None, baseline=None, stop=None, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """Decode, classify and explain the clip for its top-1 class; the first page of results.
    ``layer`` and ``sampling`` None (an API client that gave only ``model``): that model's own."""
    _given(video, "Upload a video or pick a sample clip first.")
    explainer = _load(model, progress)
    settings = _settings(method, pooling, layer, masks, window, stride, baseline, opacity)
    progress(0.2, desc="Decoding frames")
    clip = _read(video, explainer.spec, sampling)
    return _first_page(explainer, clip, os.path.basename(video), (true_label or "").strip() or None,
                       model, settings, opacity, progress, stop)


EXPLAINED = ("session", "original", "heatmap", "top2", "all", "truth", "target", "a", "b", "plot",
             "files", "info")


def _first_page(explainer, clip, video_name, true_label, model, settings, opacity, progress, stop=None) -> dict:
    """Explain ``clip`` for its top-1 class with ``explainer`` (model ``model``'s): every name in
    :data:`EXPLAINED`."""
    progress(0.4, desc=f"Running the model and {settings.method.label}")
    exp = _run(explainer, clip, settings, stop, progress)
    ranked = tuple(exp.topk(len(exp.categories)))
    session = Session(model, video_name, true_label, clip, display_frames(clip.frames), ranked)
    progress(0.7, desc="Rendering GIFs")
    out = request_dir(get_upload_folder())
    top1, top2 = ranked[0][0], ranked[min(1, len(ranked) - 1)][0]
    choices = outputs.class_choices(ranked)
    return {
        "session": session,
        "original": outputs.gif(session.display, out / "original.gif"),
        "heatmap": outputs.heatmap_gif(session, exp, opacity, out / "heatmap.gif"),
        "top2": outputs.scores(ranked),
        "all": outputs.scores(ranked),
        "truth": _truth(session) + _familiarity(exp),
        "target": gr.Dropdown(choices=choices, value=top1),
        "a": gr.Dropdown(choices=choices, value=top1),
        "b": gr.Dropdown(choices=choices, value=top2),
        "plot": outputs.plot(exp),
        "files": outputs.downloads(session, exp, opacity, out),
        "info": _info(session, exp),
    }


@user_errors
def scan(long_video, timeline, model, method, pooling, layer=None,
         progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """The "Whole video" tab: the class timeline and the heatmap of each moment's top class."""
    _given(long_video, "Upload a video first.")
    timeline_view.forget(timeline)  # the last scan's spooled frames: this one replaces it
    explainer = _load(model, progress)
    return _scan(long_video, model, explainer, _settings(method, pooling, layer),
                 request_dir(get_upload_folder()), progress)


_scan = gpu(timeline_view.scan, seconds=space.scan_cost)  # the model work on a GPU where there is one, as _run


@user_errors
def redraw(timeline, heatmap_of, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """The whole-video heatmap of another class (or each moment's top class again), drawn from the
    scan's maps and frames: nothing is decoded again."""
    if not timeline or "result" not in timeline:
        raise gr.Error("Scan the whole video first.", print_exception=False)
    progress(0.1, desc="Drawing the heatmap video")
    return {"tl_video": timeline_view.redraw(timeline, heatmap_of, request_dir(get_upload_folder()))}


@user_errors
def explain_moment(long_video, timeline, moment, model, method, pooling, layer=None, opacity=OPACITY,
                   masks=None, window=None, stride=None, baseline=None, stop=None, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """The timeline window at ``moment`` explained as the Explain tab explains a clip, shown there."""
    if not timeline or timeline["video"] != long_video:
        raise gr.Error("Scan the whole video first, then pick a moment.", print_exception=False)
    if timeline["model"] != model:
        raise gr.Error(f"The timeline was made with {timeline['model']}; scan the video again with "
                       f"{model}, or pick {timeline['model']} again.", print_exception=False)
    explainer = _load(model, progress)
    spec, settings = explainer.spec, _settings(method, pooling, layer, masks, window, stride, baseline, opacity)
    start = timeline_view.window_start(timeline, moment)
    progress(0.2, desc=f"Decoding the window at {start:.1f} s")
    clip = core.read_clip(long_video, spec, sampling=Sampling.FPS, fps=spec.clip_rate, start=start,
                          limits=timeline_view.MOMENT_LIMITS)
    name = f"{os.path.basename(long_video)} @ {start:.2f}-{clip.timestamps[-1]:.2f} s"
    page = _first_page(explainer, working_clip(clip, spec), name, None, model, settings, opacity, progress, stop)
    return {**page, "tabs": gr.Tabs(selected="explain")}


@user_errors
def retarget(session, target, method, pooling, layer=None, opacity=OPACITY,
                              masks=None, window=None, stride=None, baseline=None, stop=None):
    """The heatmap for another class (or method, pooling, opacity) from the cached forward pass
    (or a new one, when it was evicted: so it is queued with the other model work)."""
    session, _, exp = _again(session, _settings(method, pooling, layer, masks, window, stride, baseline, opacity), stop, targets=target)
    return _heatmap(session, exp, opacity)


@user_errors
def export(session, target, method, pooling, layer=None, opacity=OPACITY,
                            masks=None, window=None, stride=None, baseline=None, stop=None):
    """The temporal plot and the downloads for the class now shown (runs beside retarget)."""
    session, _, exp = _again(session, _settings(method, pooling, layer, masks, window, stride, baseline, opacity), stop, targets=target)
    return _downloads(session, exp, opacity)


@user_errors
def top5(session, method, pooling, layer=None, opacity=OPACITY,
                  masks=None, window=None, stride=None, baseline=None, stop=None):
    """Heatmap GIFs of the five most probable classes, best first."""
    session, _, exp = _again(session, _settings(method, pooling, layer, masks, window, stride, baseline, opacity), stop, top_k=TOP_K)
    return _top5(session, exp, opacity)


def _heatmap(session: Session, exp: core.Explanation, opacity) -> dict:
    out = request_dir(get_upload_folder())
    return {"heatmap": outputs.heatmap_gif(session, exp, opacity, out / "heatmap.gif"),
            "info": _info(session, exp)}


def _downloads(session: Session, exp: core.Explanation, opacity) -> dict:
    return {"plot": outputs.plot(exp),
            "files": outputs.downloads(session, exp, opacity, request_dir(get_upload_folder()))}


def _top5(session: Session, exp: core.Explanation, opacity) -> dict:
    out = request_dir(get_upload_folder())
    probs = dict(session.ranked)
    return {"top5": [
        (outputs.heatmap_gif(session, exp, opacity, out / f"top{k + 1}.gif", k),
         f"{k + 1}. {t.label} · {probs[t.label]:.2f}")
        for k, t in enumerate(exp.targets)
    ]}


@user_errors
def contrast(session, a, b, method, pooling, layer=None, opacity=OPACITY,
                            masks=None, window=None, stride=None, baseline=None, stop=None):
    """Why A rather than B: the CAM of the logit difference A - B."""
    if _need(session) and (not a or not b or a == b):
        raise gr.Error("Pick two different classes A and B.", print_exception=False)
    session, _, exp = _again(session, _settings(method, pooling, layer, masks, window, stride, baseline, opacity), stop, contrast=(a, b))
    out = request_dir(get_upload_folder())
    caption = (f"Red: where the evidence for **{a}** outweighs the evidence for **{b}**; "
               "blue: where it does not.")
    return {"contrast": outputs.heatmap_gif(session, exp, opacity, out / "contrast.gif"),
            "caption": caption}


@user_errors
def trust(session, cache, target, method, pooling, layer=None, opacity=OPACITY,
          masks=None, window=None, stride=None, baseline=None, stop=None, progress=gr.Progress()):  # noqa: B008 (how Gradio asks for a progress bar)
    """Can I trust this heatmap? Faithfulness curves, counterfactuals and the sanity check for
    the class shown (the top-1 if none); kept in ``cache`` (the session's) per clip and settings."""
    session = _need(session)
    settings = _settings(method, pooling, layer, masks, window, stride, baseline, opacity)
    explainer = get_explainer(session.model)
    # the sanity check runs the method again on each of its randomised copies of the model
    within_caps(explainer, session.clip, settings, times=1 + trust_panel.SANITY_RUNS)
    exp = _run(explainer, session.clip, settings, stop, targets=target or session.ranked[0][0])
    return trust_panel.show(session, explainer, exp, cache, opacity, get_upload_folder(),
                            progress=lambda fraction, what: lifetime.check() or progress(fraction, desc=what))


REFRESHED = ("heatmap", "info", "plot", "files", "top5")


@user_errors
def refresh(session, target, method, pooling, layer, opacity, masks=None, window=None, stride=None, baseline=None, stop=None):
    """After a change of method, pooling, layer or opacity: everything that shows a heatmap (what
    retarget, export and top5 show, with one look-up of the model). Before the first Explain
    there is nothing to redraw, so nothing happens."""
    if session is None:
        return dict.fromkeys(REFRESHED, gr.skip())
    session, explainer, exp = _again(session, _settings(method, pooling, layer, masks, window, stride, baseline, opacity), stop, targets=target)
    top = _run(explainer, session.clip, exp.settings, stop, top_k=TOP_K)  # Stop ends this run too
    return {**_heatmap(session, exp, opacity), **_downloads(session, exp, opacity),
            **_top5(session, top, opacity)}


def switch_model(model: str) -> dict:
    """A new model was picked: its layers, sampling, classes and measured default method; the
    last clip's results and checks are dropped (they were the old model's, and the session must
    not pair its clip with the new model's layers). Returns every name in :data:`SWITCHED`."""
    try:
        spec = core.get_spec(model)
    except core.UserError as e:  # e.g. a Hub id that is not cached: Explain will say so again
        spec, problem = None, str(e)
    out = {
        "session": None,
        **dict.fromkeys(("heatmap", "original", "top2", "all", "plot", "files", "top5", "contrast")),
        **trust_panel.clear(),
    }
    if spec is None:
        return {**out, **dict.fromkeys(("method", "layer", "sampling", "target", "a", "b", "measured"), gr.skip()),
                "model_note": f"**{model}**: {problem}",
                "info": f"**{model}** cannot be used yet: {problem}"}
    classes = gr.Dropdown(choices=list(spec.categories), value=None)
    return {
        **out,
        "method": method_choice(spec),
        "measured": measured_line(spec, spec.default_method, spec.default_layer, TABLE_URL),
        "model_note": models.note(model, spec),  # the spec read above, not read again
        "layer": gr.Radio(choices=list(spec.layers), value=spec.default_layer),
        "sampling": gr.Radio(choices=sampling_choices(spec), value=spec.sampling),
        "target": classes, "a": classes, "b": classes,
        "info": f"Model changed to **{model}**: press **Explain** to explain the clip with it.",
    }


SWITCHED = ("session", "method", "measured", "layer", "sampling", "target", "a", "b", "heatmap", "original", "top2", "all",
            "plot", "files", "top5", "contrast", "info", "model_note", *trust_panel.clear())


def method_choice(spec: core.ModelSpec) -> gr.Radio:
    """The methods that apply to the model (the attention methods only for a Hugging Face video
    transformer), its measured default chosen."""
    allowed = methods_for(spec)
    value = spec.default_method if spec.default_method in allowed else core.Method.GRADCAM.value
    return gr.Radio(choices=[(m.label, m.value) for m in allowed], value=value)


def measured(model, method, layer=None) -> dict:
    """The line under the method choice: what was measured for this architecture with this method."""
    try:
        spec = core.get_spec(model)
    except core.UserError:
        return {"measured": ""}
    return {"measured": measured_line(spec, method, layer or spec.default_layer, TABLE_URL)}


def cost(model, method, masks=None, window=None, stride=None, baseline=None) -> dict:
    """What pressing Explain will cost, shown next to the button: the number of forward passes and,
    for occlusion and RISE, the time they take at this model's measured speed."""
    try:
        settings = _settings(method, "clip", None, masks, window, stride, baseline)
        if settings.method not in (*ATTENTION_METHODS, *PERTURBATION_METHODS):
            return {"cost": ""}
        explainer = get_explainer(model)
        spec = explainer.spec
        x = torch.zeros(1, 3, spec.num_frames, *spec.input_size)
        passes = explainer.forward_passes(x, settings)
        within_caps(explainer, x, settings)  # over this page's cap: say so before Explain is pressed
    except core.UserError as e:
        return {"cost": f"⚠ {e}"}
    if settings.method in ATTENTION_METHODS:  # one pass, which also classifies (core.attribution.CLASSIFYING)
        if settings.method == core.Method.ROLLOUT:
            return {"cost": f"**{passes} forward pass**, which also classifies. {outputs.CLASS_AGNOSTIC}"}
        return {"cost": f"**{passes} forward pass**, which also classifies, plus one backward pass per class."}
    # the method's own batches measured (masks, blending, scoring), not the forward passes alone
    est = estimate(explainer, resolve(explainer, settings), x.shape)
    return {"cost": f"**{passes} forward passes**, about {est.seconds:.0f} s here "
                    f"({est.per_pass * 1e3:.0f} ms per clip with its masking, measured). **Stop** ends it."}


def need_clip(video) -> None:
    """Before Explain: without a clip, a warning (not an error on every panel) and nothing runs."""
    if not video:
        gr.Warning("Upload a video or pick a sample clip first.", title="No clip yet")
        raise gr.Error("no clip", visible=False, print_exception=False)  # stops the chain, says nothing more


def stop_shown(method) -> gr.Button:
    """Stop on screen for a refresh only when it runs a method that Stop can end (occlusion, RISE)."""
    return gr.Button(visible=method in {m.value for m in PERTURBATION_METHODS})


def stop_run(stop: Stop | None) -> None:
    """The Stop button: the running occlusion or RISE of this session stops before its next batch."""
    if stop is not None:
        stop.requested = True


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


def sampling_choices(spec: core.ModelSpec) -> list[tuple[str, str]]:
    """The Frames-sampled choices (core's :class:`Sampling`) for ``spec``, with its real rate for
    the ``fps`` policy."""
    rate = f"{sample_rate(spec):g} per second, from the middle of the clip"
    return [(rate if m is Sampling.FPS else m.label, m.value) for m in Sampling]
