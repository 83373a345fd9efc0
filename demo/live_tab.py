"""The "Live" tab: the visitor's webcam, explained as it streams.

Each frame the browser sends goes to the visitor's :class:`core.live.LiveSession` (made on the
first frame, with the page's *Model*); the handler never waits for the model: it returns the
frame with the newest heatmap over it at once, and the smoothed top-3 and the plot only when a
new explanation is ready. The session's worker explains the newest clip every stride and drops
stale clips. At most ``LIVE_MAX_STREAMS`` streams run at once; a stream ends after
``LIVE_TIME_LIMIT_S`` seconds, and one whose frames stop for ``LIVE_IDLE_S`` (the camera's stop
button, a closed tab) is closed and its buffers freed by the next frame or status request of
any visitor, or by the tab's unload.
"""

from __future__ import annotations

import base64
import io
import threading
import time
import warnings
from dataclasses import dataclass

import gradio as gr
import numpy as np
import pandas as pd
import PIL.Image

import core
from core.errors import UserError
from core.live import LiveSession, live_view
from core.transforms import fit_frames

from . import choices
from .config import (
    LIVE_IDLE_S,
    LIVE_MAX_PIXELS,
    LIVE_MAX_SIDE,
    LIVE_MAX_STREAMS,
    LIVE_STREAM_EVERY,
    LIVE_TIME_LIMIT_S,
    OPACITY,
)
from .models import get_explainer

__all__ = ["OUTPUTS", "TOP1", "close_stream", "layout", "on_frame", "pin_choices", "streams_status", "wire"]

TOP1 = "the top-1 class of each clip"
OUTPUTS = ("live_view", "live_top", "live_plot", "live_status")


@dataclass
class _Stream:
    session: LiveSession
    model: str
    started: float
    last: float
    shown: int = 0  # the last update sent to the page


_STREAMS: dict[str, _Stream] = {}
_LOCK = threading.Lock()


def layout(page, categories) -> None:
    """Lay out the tab inside the current Blocks context (``categories``: the default model's) and
    add its components to ``page``."""
    gr.Markdown(
        "**Explain your camera as it happens.** Press the camera's record button: once the model's clip "
        "is full (a few seconds), the newest frame is shown with the newest heatmap over it, the three "
        "most likely classes (smoothed over about a second) and their last 30 s. An explanation runs "
        "every quarter clip on the newest frames; when the model is slower than that, old clips are "
        "skipped, never queued, so the heatmap stays close behind the camera (the status line says how "
        f"close). Up to {LIVE_MAX_STREAMS} streams at once, {LIVE_TIME_LIMIT_S} s each. Uses the *Model* "
        "of the Explain tab; frames are not stored.")
    with gr.Row():
        with gr.Column(scale=2, min_width=320):
            camera = _camera(sources=["webcam"], streaming=True, type="numpy", label="Camera",
                             webcam_options=gr.WebcamOptions(mirror=False), elem_id="live-camera")
            pin = choices.Dropdown([TOP1, *categories], value=TOP1, label="Explain", elem_id="live-pin",
                              info="pin a class to see its evidence whatever the model says")
            refresh = gr.Button("Streams now", size="sm", elem_id="live-refresh")
            streams = gr.Markdown(elem_id="live-streams")
        with gr.Column(scale=3, min_width=420):
            view = gr.Image(label="Newest frame, newest heatmap", type="numpy", interactive=False,
                            height=360, elem_id="live-view")
            status = gr.Markdown(elem_id="live-status")
            top = gr.Label(num_top_classes=3, label="Top-3, smoothed", elem_id="live-top")
            plot = gr.LinePlot(x="seconds", y="probability", color="class", y_lim=[0, 1], height=220,
                               label="The last 30 s", elem_id="live-plot")
    page.add({"live_camera": camera, "live_pin": pin, "live_refresh": refresh, "live_streams": streams,
              "live_view": view, "live_status": status, "live_top": top, "live_plot": plot})


def _camera(**kwargs) -> gr.Image:
    """The camera: a ``gr.Image`` that reads a frame's size from its header (PIL's lazy open)
    and refuses one over ``LIVE_MAX_PIXELS``, or one that is not an image, with a message,
    before Gradio decodes it whole (an 8000x8000 PNG of 200 KB took 1.2 GB to decode). Its
    preprocess is wrapped, not overridden: a subclass of a Gradio component makes Gradio write a
    .pyi file beside this module."""
    camera = gr.Image(**kwargs)
    decode = camera.preprocess

    def preprocess(payload):
        if payload is not None:
            _check_frame(payload)
        return decode(payload)

    camera.preprocess = preprocess
    return camera


def _check_frame(payload) -> None:
    source = payload.path
    if payload.url and payload.url.startswith("data:"):
        try:
            source = io.BytesIO(base64.b64decode(payload.url.split(",", 1)[-1], validate=False))
        except ValueError:
            source = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
            with PIL.Image.open(source) as im:  # reads the header only
                w, h = im.size
    except (OSError, ValueError, TypeError, AttributeError, PIL.Image.DecompressionBombError):  # AttributeError: no source
        raise gr.Error("The frame is not an image the server can read; the Live tab takes webcam frames "
                       "(PNG, JPEG or WebP).", print_exception=False) from None
    if w * h > LIVE_MAX_PIXELS:
        raise gr.Error(f"The frame is {w}x{h} pixels; the Live tab takes frames of at most "
                       f"{LIVE_MAX_PIXELS / 1e6:.1f} million pixels (a webcam's are far smaller).",
                       print_exception=False)


def pin_choices(model: str) -> dict:
    """The pin dropdown for ``model``'s classes."""
    try:
        cats = list(core.get_spec(model).categories)
    except UserError:
        cats = []
    return {"live_pin": gr.Dropdown(choices=[TOP1, *cats], value=TOP1)}


def _reap(now: float) -> None:
    """Close streams whose frames stopped (caller holds _LOCK)."""
    for key in [k for k, s in _STREAMS.items() if now - s.last > LIVE_IDLE_S]:
        _STREAMS.pop(key).session.close(timeout=0)


def close_stream(request: gr.Request) -> None:
    """The visitor's stream ends (the page unloads): its worker stops, its buffers are freed."""
    key = getattr(request, "session_hash", None)
    with _LOCK:
        stream = _STREAMS.pop(key, None)
    if stream is not None:
        stream.session.close(timeout=0)


def streams_status(request: gr.Request) -> str:
    """How many streams run now and what they hold (idle ones are closed first)."""
    now = time.monotonic()
    with _LOCK:
        _reap(now)
        held = sum(s.session.ring.nbytes for s in _STREAMS.values())
        mine = _STREAMS.get(getattr(request, "session_hash", None))
    yours = "yours is running" if mine is not None else "none of them is yours"
    return (f"Live streams now: {len(_STREAMS)} of {LIVE_MAX_STREAMS} ({yours}); their clips hold "
            f"{held / 1e6:.1f} MB of frames.")


def _stream_for(key: str, model: str, pin, now: float) -> _Stream:
    with _LOCK:
        stream = _STREAMS.get(key)
    # the model is loaded (or found loaded) outside the lock: other visitors' frames go on
    explainer = get_explainer(model) if stream is None or stream.model != model else None
    with _LOCK:
        _reap(now)
        stream = _STREAMS.get(key)
        if stream is not None and stream.model != model:
            _STREAMS.pop(key).session.close(timeout=0)
            stream = None
        if stream is None:
            if len(_STREAMS) >= LIVE_MAX_STREAMS:
                raise UserError(f"all {LIVE_MAX_STREAMS} live streams are in use; keep your camera on: "
                                "yours starts as soon as one is free")
            stream = _Stream(LiveSession(explainer or get_explainer(model), pin=pin), model, now, now)
            _STREAMS[key] = stream
        stream.last = now
        return stream


def on_frame(live_camera, live_pin, model, request: gr.Request):
    """One webcam frame in; the view (always), and the top-3, the plot and the status line when
    an explanation is new."""
    skip = {name: gr.skip() for name in OUTPUTS}
    if live_camera is None:
        return skip
    now = time.monotonic()
    key = getattr(request, "session_hash", None) or "api"
    frame = np.ascontiguousarray(live_camera[..., :3], dtype=np.uint8)
    if max(frame.shape[:2]) > LIVE_MAX_SIDE:
        frame = fit_frames(frame[None], max_side=LIVE_MAX_SIDE)[0]
    pin = None if live_pin in (None, "", TOP1) else live_pin
    try:
        stream = _stream_for(key, model, pin, now)
        if now - stream.started > LIVE_TIME_LIMIT_S:
            close_stream(request)
            raise UserError(f"this stream reached its {LIVE_TIME_LIMIT_S} s limit; stop the camera and "
                            "start it again")
        stream.session.pin = pin
        stream.session.push(frame, now)
    except (UserError, RuntimeError) as e:
        return {**skip, "live_view": frame, "live_status": f"**{e}**"}
    update = stream.session.latest
    out = {**skip, "live_view": live_view(frame, update, alpha=OPACITY)}
    if update is None:
        filling = stream.session.stats()["filling"] or "waiting for the first explanation"
        out["live_status"] = f"Filling the model's clip: {filling} frames"
    elif update.index != stream.shown:
        stream.shown = update.index
        out["live_top"] = dict(update.top)
        out["live_plot"] = _plot(stream.session, now)
        pinned = f" · pinned: {update.target}" if update.pinned else f" · heatmap of {update.target}"
        label, p = update.top[0]
        out["live_status"] = (f"Update {update.index} · {1000 * (now - update.clip_end):.0f} ms behind the "
                              f"camera · top: {label} {p:.0%}{pinned} · peak at x {update.peak[0]:.2f}, "
                              f"y {update.peak[1]:.2f} · {stream.session.dropped} stale clips skipped")
    return out


def _plot(session: LiveSession, now: float) -> pd.DataFrame:
    """The smoothed probability of the classes that were ever in the top 3, over the last 30 s."""
    rows = session.history()
    keep = {c for _, probs in rows for c, _ in sorted(probs.items(), key=lambda kv: -kv[1])[:3]}
    return pd.DataFrame([{"seconds": round(t - now, 2), "probability": p, "class": c}
                         for t, probs in rows for c, p in probs.items() if c in keep])


def _streams(request: gr.Request) -> dict:
    return {"live_streams": streams_status(request)}


def wire(page) -> None:
    """The tab's events; a frame is answered at once (no watcher of its request: lifetime=False)."""
    page.on(page["live_camera"].stream, on_frame, OUTPUTS, lifetime=False,
            # No Gradio limit on streams at once: Gradio holds a stream's slot until its time limit even
            # when its client vanished (two dropped streams locked everyone out for 5 minutes) and
            # queues the visitors past it. _stream_for caps the streams that hold a model clip instead:
            # one whose frames stop is freed after LIVE_IDLE_S, and a visitor past the cap is told at
            # once, on each frame, and gets in on the first frame after a stream is freed.
            stream_every=LIVE_STREAM_EVERY, time_limit=LIVE_TIME_LIMIT_S, concurrency_limit=None,
            concurrency_id="live", show_progress="hidden", api_name="live_frame")
    page.on(page["live_refresh"].click, _streams, ("live_streams",), lifetime=False, queue=False,
            api_name="live_streams")
    page.on(page["model"].change, pin_choices, ("live_pin",), lifetime=False, queue=False, api_visibility="private")
    page.blocks.unload(close_stream)
