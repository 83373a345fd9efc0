"""The Whole video tab's scan and drawing: a class timeline over a long video, kept as a
:class:`Scan` in the visitor's session, and its heatmap video drawn again for any class.

*Scan whole video* runs :func:`core.timeline` (the model's own clip slid over the whole
video, one streamed decode) and shows the top classes' probabilities over time, the heatmap over
the whole video (original | heatmap side by side, so the two play in sync; at each moment the
evidence for that moment's top class, named in the video's label bar) and the timeline files.
*Heatmap of* draws that video again for one class (:func:`redraw`) from what the scan kept: its
scores in the visitor's session, its maps and the frames it spooled in files in the scan's
request folder (tens of MB and ~0.5 GB for a 10-minute video: on disk, not in every session's
memory), so nothing is decoded again; the folder is swept with the others (CACHE_CLEANUP), after
which a redraw asks for a new scan. A marker on the plot follows the video
as it plays, and the *Moment* slider (which also seeks the video). *Explain this moment* explains
the window at that moment exactly as the Explain tab explains a short clip
(events.explain_moment), and shows it there.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr
import numpy as np

import core
from core import timeline
from core.cam.methods import CAM_FUNCTIONS
from core.longvideo.output import FrameSpool, heatmap_video, timeline_plot, write_timeline
from core.video import Limits

from .. import lifetime
from ..config import (
    DECODE_SECONDS,
    MAX_FILE_SIZE_MB,
    TIMELINE_MAX_SECONDS,
    TIMELINE_SECONDS_PER_MINUTE,
)

__all__ = ["MOMENT", "MOMENT_LIMITS", "SCANNED", "SYNC_JS", "Scan", "forget", "heatmap_choices", "intro",
           "plot_html", "redraw", "scan", "window_start"]

# The moment's window is read like any clip, from a video up to TIMELINE_MAX_SECONDS long.
MOMENT_LIMITS = Limits(max_bytes=MAX_FILE_SIZE_MB * 2**20, max_duration=TIMELINE_MAX_SECONDS + 1,
                       time_budget=max(DECODE_SECONDS, 10.0))
SCANNED = ("tl_scan", "tl_plot", "tl_video", "heatmap_of", "tl_moment_slider", "tl_files", "tl_info")
MOMENT = "Each moment's top class"  # the *Heatmap of* choice that follows the top class
_FRAMES, _MAPS = "frames.rgb", "maps.npy"  # the scan's spooled frames and its maps, in its request folder



@dataclass(frozen=True)
class Scan:
    """What a scan keeps in the visitor's session for the tab's later requests."""

    video: str  # the upload it read (a moment must come from the same one)
    model: str  # the model it ran (a moment must be explained with the same one)
    starts: tuple[float, ...]  # each window's start and end (s)
    ends: tuple[float, ...]
    result: core.TimelineResult  # the scores, without the maps: those are in ``maps``
    maps: str  # the kept classes' maps (classes, windows, T, h, w), float16, in the request folder
    kept: tuple[int, ...]  # the classes whose maps are in ``maps``, in that order
    frames: str  # the spooled frames (core.longvideo.output.FrameSpool), in the request folder
    frame_shape: tuple[int, ...]
    frame_count: int


# Runs once on page load: the plot's marker follows the heatmap video's time and the slider;
# moving the slider also seeks the video. (timeupdate does not bubble: listen in the capture phase.)
SYNC_JS = """
() => {
  const place = (t) => {
    const box = document.querySelector('#timeline-plot .vc-timeline');
    if (!box || !isFinite(t)) return;
    const d = parseFloat(box.dataset.duration), x0 = parseFloat(box.dataset.left),
          w = parseFloat(box.dataset.width);
    const marker = box.querySelector('.vc-marker');
    marker.style.left = (100 * (x0 + w * Math.min(1, Math.max(0, t / d)))) + '%';
    marker.dataset.time = t.toFixed(2);
  };
  document.addEventListener('timeupdate', (e) => {
    if (e.target.closest && e.target.closest('#timeline-video')) place(e.target.currentTime);
  }, true);
  document.addEventListener('input', (e) => {
    if (!(e.target.closest && e.target.closest('#moment'))) return;
    const t = parseFloat(e.target.value);
    place(t);
    const v = document.querySelector('#timeline-video video');
    if (v && isFinite(t)) v.currentTime = t;
  }, true);
}
"""


def intro() -> str:
    return (
        "**Where and when does the model see each action?** The model's own clip "
        "slides over the whole video; the plot shows the top classes' probabilities over time and "
        "the video shows where the evidence for each moment's top class is (or, under *Heatmap of*, "
        "for one class). Pick a moment "
        "(the slider, or play the video) and press **Explain this moment** for the full "
        "explanation of that window on the Explain tab (classes, trust checks, downloads).  \n"
        f"*Limits: videos up to {TIMELINE_MAX_SECONDS / 60:g} minutes and {MAX_FILE_SIZE_MB} MB; "
        f"decoding may take up to {TIMELINE_SECONDS_PER_MINUTE:g} s per minute of video.*"
    )


def plot_html(result, top: int = 5) -> str:
    """The timeline plot as an inline PNG with a marker the page's script moves (SYNC_JS)."""
    fig = timeline_plot(result, top=top)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    pos = fig.axes[0].get_position()  # after the constrained layout ran in savefig
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<div class="vc-timeline" style="position:relative" data-duration="{result.duration:.4f}" '
            f'data-left="{pos.x0:.5f}" data-width="{pos.width:.5f}">'
            f'<img src="data:image/png;base64,{png}" style="width:100%;display:block" '
            f'alt="{html.escape(_alt(result, top))}">'
            f'<div class="vc-marker" data-time="0" style="position:absolute;top:4%;bottom:14%;width:2px;'
            f'background:#111;left:{100 * pos.x0:.3f}%;pointer-events:none"></div></div>')


def _alt(result, top: int) -> str:
    names = ", ".join(f"{result.categories[c]} ({p:.2f})" for c, p in result.top_classes(top))
    return f"Class probabilities over {result.duration:.1f} s; top classes by mean: {names}"


def window_start(scanned: Scan, moment: float) -> float:
    """Start (s) of the timeline window whose centre is nearest ``moment`` (a moment outside the
    video is refused with a message that says where it ends: the handler's input is a number
    without bounds, which the *Moment* slider sets, so that Gradio's own range check does not
    answer an API client with its raw error and a logged traceback)."""
    starts, ends = scanned.starts, scanned.ends
    if moment is None or not 0 <= float(moment) <= ends[-1] + 1e-6:
        raise gr.Error(f"The moment {moment} s is not in the video, which lasts {ends[-1]:.2f} s: pick a "
                       f"moment from 0 to {ends[-1]:.2f} s.", print_exception=False)
    k = min(range(len(starts)), key=lambda i: abs((starts[i] + ends[i]) / 2 - float(moment)))
    return float(starts[k])


def scan(video: str, model: str, explainer, settings: core.Settings, out: Path, progress) -> dict:
    """Run the timeline for ``video`` with the page's model and settings; outputs by name."""
    name = os.path.basename(video)
    note = ""
    if settings.method not in CAM_FUNCTIONS:  # rollout, relevance, occlusion, rise: one clip at a time
        note = (f" · the timeline runs the Grad-CAM family, so Grad-CAM here ({settings.method.label} "
                "explains one clip: use it on a moment)")
        settings = replace(settings, method=core.Method.GRADCAM, perturbation=None)
    # the frames stay in the request folder (swept with it) for redraw(); a failed scan removes them
    with FrameSpool(path=out / _FRAMES) as spool:
        try:
            # each batch of windows runs under the Explainer's lock: other visitors wait for a batch
            # every class's maps in every window when there are few classes, so that *Heatmap of*
            # can pin any of them without decoding again (about 15% more than each moment's top
            # class alone: docs/benchmarks.md); the CLI keeps only the moment classes by default
            result = timeline(explainer, video, settings=settings, max_duration=TIMELINE_MAX_SECONDS,
                              targets=pinnable(explainer.spec),
                              seconds_per_minute=TIMELINE_SECONDS_PER_MINUTE, on_frame=spool,
                              progress=lambda done, total: lifetime.check() or progress(
                                  0.05 + 0.85 * done / total, desc=f"Window {done} of {total}"))
            progress(0.92, desc="Drawing the heatmap video")
            written = write_timeline(result, out, spool=spool, heatmap_classes=[None], extra={"video": name})
        except BaseException:
            spool.close()
            spool.path.unlink(missing_ok=True)
            raise
    kept = sorted(result.maps)
    np.save(out / _MAPS, np.stack([result.maps[c] for c in kept]))  # (classes, windows, T, h, w) float16
    top = result.top_classes(3)
    best = int(result.probs[:, top[0][0]].argmax())
    start, end = result.plan.bounds(best)
    bounds = [result.plan.bounds(k) for k in range(result.num_windows)]
    state = Scan(video=video, model=model, starts=tuple(b[0] for b in bounds), ends=tuple(b[1] for b in bounds),
                 # for redraw(): the scores, and where the maps and the frames are
                 result=replace(result, maps={}), maps=str(out / _MAPS), kept=tuple(kept),
                 frames=str(spool.path), frame_shape=tuple(spool.shape), frame_count=spool.count)
    info = (f"**{name}**: {result.duration:.1f} s, {result.num_windows} windows of "
            f"{result.plan.window_s:.2f} s every {result.plan.stride_s:.2f} s "
            f"({result.plan.num_frames} frames at {result.plan.rate:.3g} per second, as {result.model} "
            f"was made for) · top classes by mean probability: "
            + "; ".join(f"{result.categories[c]} {p:.2f}" for c, p in top)
            + f" · scanned in {result.timings['total_s']:.1f} s" + note)
    return {
        "tl_scan": state,
        "tl_plot": plot_html(result),
        "tl_video": str(written["heatmap_full.mp4"]),
        "heatmap_of": gr.Dropdown(choices=heatmap_choices(result), value=MOMENT, interactive=True),
        "tl_moment_slider": gr.Slider(minimum=0, maximum=round(result.duration, 2),
                                      value=round((start + end) / 2, 2), step=0.05, interactive=True),
        "tl_files": [str(written[f]) for f in ("timeline.json", "timeline.csv", "timeline.png", "heatmap_full.mp4")],
        "tl_info": info,
    }


PINNABLE_CLASSES = 64  # a model with at most this many classes keeps every class's maps in a page scan


def pinnable(spec) -> list[int] | None:
    """The classes a page scan keeps in every window: all of them, unless the model has more than
    :data:`PINNABLE_CLASSES` (then each moment's top class, where it is on top)."""
    n = len(spec.categories)
    return list(range(n)) if n <= PINNABLE_CLASSES else None


def heatmap_choices(result) -> list[str]:
    """*Heatmap of*: each moment's top class, then every class whose maps the scan kept in every
    window (all of them; for a model with more than :data:`PINNABLE_CLASSES` classes, those on top
    throughout, since the scan then keeps each moment's top class only where it is on top)."""
    return [MOMENT, *(result.categories[c] for c in result.classes_with_maps())]


def redraw(scanned: Scan, choice: str, out: Path) -> str:
    """The whole-video heatmap video for ``choice`` (a class, or MOMENT) drawn again from the scan's
    maps and spooled frames, without decoding; returns its path in ``out``."""
    result, kept = scanned.result, scanned.kept
    cls = None if choice == MOMENT else result.categories.index(choice) if choice in result.categories else -1
    try:
        stack = np.load(scanned.maps, mmap_mode="r")  # read as the frames are drawn, not held
        spool = FrameSpool.reopen(scanned.frames, scanned.frame_shape, scanned.frame_count)
    except FileNotFoundError:
        raise gr.Error("The scan's frames were cleaned up (a scan is kept for an hour); scan the video "
                       "again.", print_exception=False) from None
    result = replace(result, maps={c: stack[i] for i, c in enumerate(kept)})
    if cls is not None and cls not in result.classes_with_maps():
        spool.close()
        raise gr.Error(f"The scan kept each moment's top class where it is on top, so it can draw the whole "
                       f"video for a class that is on top throughout, and {choice!r} is not one. Pick "
                       f"{MOMENT!r}, or explain {choice!r} on one moment in the Explain tab.", print_exception=False)
    with spool:
        return str(out / heatmap_video(result, spool, out / "heatmap_full.mp4", cls)["file"])


def forget(scanned: Scan | None) -> None:
    """Delete the spooled frames and the maps of ``scanned`` (a new scan replaced it, or its
    session ended); the sweeper deletes what this misses."""
    if scanned is not None:
        for path in (scanned.frames, scanned.maps):
            Path(path).unlink(missing_ok=True)
