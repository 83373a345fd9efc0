"""``python -m core live SOURCE``: explain a camera, a stream or a file played at its own speed.

One line per update (the smoothed top classes, and how far behind the camera the heatmap is);
with ``--out``, ``heatmap.mp4`` (each frame drawn, with the newest heatmap over it) and
``live.json`` (every update, and the latency and rate measured over the run).
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import threading
from pathlib import Path

from ..cam.registry import method_names
from ..errors import SettingsError, UserError

__all__ = ["add_arguments", "run", "summary"]


def add_arguments(p: argparse.ArgumentParser, add_model_arguments) -> None:
    p.add_argument("source", help="a camera (0 or /dev/video0), a stream URL (rtsp://..., http://...) "
                   "or a video file, played at its own speed")
    add_model_arguments(p, default=None)
    p.add_argument("--stride", type=float, default=None, metavar="SECONDS",
                   help="seconds between explanations (default: a quarter of the model's clip), "
                   "rounded to the model's frames, at least one")
    p.add_argument("--pin", metavar="CLASS", help="explain this class instead of each clip's top-1")
    p.add_argument("--out", help="folder for heatmap.mp4 and live.json (created if missing)")
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds of stream")
    p.add_argument("--stall", type=float, default=5.0,
                   help="end the stream when no frame comes for this many seconds (default %(default)g)")
    p.add_argument("--method", default=None, choices=method_names(lambda e: e.needs_layer),
                   help="a Grad-CAM method (default: the model's)")
    p.add_argument("--layer", default=None, help="target layer (default: the model's)")
    p.add_argument("--loop", action="store_true", help="play a file again from its start when it ends")
    p.add_argument("--no-mp4", action="store_true", help="with --out, write live.json only")
    p.add_argument("--max-side", type=int, default=640, help="shrink frames to at most this many pixels on "
                   "their longer side as they are read (default %(default)d)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


def stride_frames(seconds: float | None, spec) -> int | None:
    """``--stride`` seconds as whole frames of the model's clip (None: the session's default)."""
    if seconds is None:
        return None
    if not seconds > 0:
        raise SettingsError(f"--stride {seconds!r}: give a positive number of seconds")
    return max(1, round(seconds * spec.clip_rate))


def summary(records: list[dict], started: float, stopped: float, session, frames) -> dict:
    """Latency (capture of the clip's newest frame to the heatmap shown) and rate of a run."""
    ages = sorted(r["age_ms"] for r in records)
    span = stopped - started
    return {
        "updates": len(records), "seconds": round(span, 3),
        "updates_per_s": round(len(records) / span, 3) if span > 0 else None,
        "age_ms_median": round(statistics.median(ages), 1) if ages else None,
        "age_ms_p95": round(ages[min(len(ages) - 1, int(0.95 * len(ages)))], 1) if ages else None,
        "explain_ms_median": round(statistics.median(r["explain_ms"] for r in records), 1) if records else None,
        "frames": session.frames, "grid_frames": session.ring.kept, "dropped_clips": session.dropped,
        "skipped_frames": frames.skipped, "ended": frames.ended,
    }


class _Mp4:
    """heatmap.mp4 encoded in a thread as frames come (a bounded queue: a slow disk slows the
    loop, which then skips frames at the source, rather than growing memory)."""

    def __init__(self, path: Path, fps: float):
        from ..render import write_mp4

        self.q: queue.Queue = queue.Queue(maxsize=32)
        self.error: BaseException | None = None
        ended = threading.Event()  # the end mark was taken (the encoder may still fail after it)

        def frames():
            while (f := self.q.get()) is not None:
                yield f
            ended.set()

        def work():
            try:
                write_mp4(frames(), path, fps=fps)
            except BaseException as e:  # reported by close()
                self.error = e
                while not ended.is_set() and self.q.get() is not None:  # let put() go on to the end mark
                    pass

        self.thread = threading.Thread(target=work, name="videocam-live-mp4", daemon=True)
        self.thread.start()

    def put(self, frame) -> None:
        self.q.put(frame)

    def close(self) -> None:
        self.q.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error


def play(session, frames, state, *, seconds: float | None = None, draw=None, on_update=None) -> dict:
    """Feed ``frames`` (from :func:`~core.live.sources.live_frames`) to ``session`` until the
    source ends, ``seconds`` of stream have passed, or Ctrl-C. Each update is recorded the first
    time a frame is drawn after it (its age: capture of the clip's newest frame to then);
    ``draw(frame, update)`` gets every frame, ``on_update(update, now, started)`` each new
    update. Returns :func:`summary` with the records under ``"records"``; a stream that broke
    (a stall, garbage, a failed explanation) ends the same way, its message under ``"error"``
    (and in ``state.ended``)."""
    records, shown, started, error = [], 0, None, None
    clock = session.clock
    try:
        for frame, t in frames:
            started = t if started is None else started
            session.push(frame, t)
            if session.error:
                raise UserError(session.error)
            update, now = session.latest, clock()
            if update is not None and update.index > shown:
                shown = update.index
                records.append({
                    "index": update.index, "t": round(update.clip_end - started, 3),
                    "age_ms": round(1000 * (now - update.clip_end), 1),
                    "explain_ms": round(1000 * (update.finished - update.started), 1),
                    "target": update.target, "pinned": update.pinned,
                    "top": [[c, round(p, 4)] for c, p in update.top],
                    "clip_top": [[c, round(p, 4)] for c, p in update.clip_top],
                    "peak": [round(v, 4) for v in update.peak]})
                if on_update is not None:
                    on_update(update, now, started)
            if draw is not None:
                draw(frame, update)
            if seconds is not None and t - started >= seconds:
                state.ended = f"stopped after {seconds:g} s"
                break
    except KeyboardInterrupt:
        state.ended = "stopped (Ctrl-C)"
    except UserError as e:
        error = str(e)
        state.ended = error
    finally:
        state.close()
    stopped = clock()
    result = summary(records, started if started is not None else stopped, stopped, session, state)
    return result | {"error": error, "records": records}


def run(a: argparse.Namespace) -> int:
    from ..cam import Explainer, Settings, resolve_device
    from ..models import DEFAULT_MODEL, load_model
    from .draw import live_view, status_line
    from .session import LiveSession
    from .sources import live_frames

    for name, value in (("--stall", a.stall), ("--seconds", a.seconds), ("--max-side", a.max_side)):
        if value is not None and not value > 0:
            raise SettingsError(f"{name} {value!r}: give a positive number")
    model = load_model(a.model or DEFAULT_MODEL, weights=a.weights, device=resolve_device(a.device))
    settings = None
    if a.method or a.layer:
        settings = Settings(method=a.method or model.spec.default_method, layer=a.layer)
    session = LiveSession(Explainer(model, cache_size=1), stride=stride_frames(a.stride, model.spec),
                          pin=a.pin, settings=settings)
    state, frames = live_frames(a.source, stall=a.stall, max_side=a.max_side, loop=a.loop)
    out = Path(a.out) if a.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    spec = model.spec
    print(f"live: {a.source} ({state.kind}) with {spec.name}; an explanation every {session.stride} of the "
          f"model's frames ({session.stride / spec.clip_rate:.2f} s) once its {spec.num_frames}-frame clip "
          f"({spec.clip_duration:g} s) is full", flush=True)
    mp4 = None

    def draw(frame, update):
        nonlocal mp4
        if mp4 is None:
            mp4 = _Mp4(out / "heatmap.mp4", state.fps or 25.0)
        mp4.put(live_view(frame, update))

    def show(update, now, started):
        print(f"[{update.clip_end - started:7.2f} s] {status_line(update, now)}", flush=True)

    try:
        result = play(session, frames, state, seconds=a.seconds, on_update=show,
                      draw=draw if out is not None and not a.no_mp4 else None)
    finally:
        session.close()
        if mp4 is not None:
            mp4.close()
    records, error = result.pop("records"), result.pop("error")
    if out is not None:
        (out / "live.json").write_text(json.dumps({
            "source": a.source, "kind": state.kind, "model": spec.name,
            "stride_frames": session.stride, "stride_s": round(session.stride / spec.clip_rate, 4),
            "clip_frames": spec.num_frames, "clip_seconds": spec.clip_duration,
            "summary": result, "updates": records}, indent=1))
    print(f"live: {state.ended}; {result['updates']} updates in {result['seconds']:.1f} s, heatmap "
          f"{result['age_ms_median']} ms behind the camera (median), {result['dropped_clips']} stale clips dropped",
          flush=True)
    if error is not None:
        raise UserError(error)
    return 0
