"""Turn a Session + Explanation into what the page shows and what the user downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import core
from core.export import write_result
from core.video import Sampling

from ..config import GIF_FPS
from ..state import Session


def scores(ranked) -> dict[str, float]:
    """{label: probability} for gr.Label (it sorts and trims to num_top_classes itself)."""
    return {label: round(p, 6) for label, p in ranked}


def class_choices(ranked) -> list[tuple[str, str]]:
    """Dropdown choices: every class, most probable first, showing its score."""
    return [(f"{label}  ·  {p:.2f}", label) for label, p in ranked]


def heatmap_gif(session: Session, exp: core.Explanation, opacity: float, path: Path, k: int = 0) -> str:
    """The heatmap GIF of target ``k`` over the session's GIF-size frames, written to ``path``."""
    maps = exp.maps_on_frames(frame_size=session.display.shape[1:3])[k]
    files = core.render_explanation(session.display, maps, path.parent, files={"heatmap.gif": path.name},
                                    alpha=float(opacity), fps=GIF_FPS)
    return str(files["heatmap.gif"])


def gif(frames: np.ndarray, path: Path) -> str:
    return str(core.save_gif(frames, path, fps=GIF_FPS))


def frame_labels(session: Session, name: str) -> list[str]:
    return [f"t={s:.2f}s  {name}" for s in session.clip.timestamps]  # time first: never cut off


def plot(exp: core.Explanation):
    """Per-frame share of CAM mass, one line per target, against the frames' times."""
    fig = core.temporal_plot(exp.temporal_importance, timestamps=list(exp.timestamps) or None,
                             labels=[t.name for t in exp.targets])
    fig.axes[0].axhline(1 / exp.temporal_importance.shape[-1], color="0.5", linestyle="--", linewidth=0.8)
    return fig


def downloads(session: Session, exp: core.Explanation, opacity: float, out: Path) -> list[str]:
    """combined.gif (original | heatmap, as in the 2017 post), combined.mp4, cam.npy, result.json."""
    cams = exp.maps_on_frames(frame_size=session.display.shape[1:3])
    files = core.render_explanation(session.display, cams[0], out, files=("combined.gif", "combined.mp4"),
                                    alpha=float(opacity), fps=GIF_FPS,
                                    labels=frame_labels(session, exp.targets[0].name))
    files["cam.npy"] = core.save_npy(cams, out / "cam.npy")
    result = write_result(
        out, exp, session.clip, video=session.video_name, cams_shape=cams.shape,
        cams_at={"at": "the GIF frames", "frame_size": list(session.display.shape[1:3])},
        files=[p.name for p in files.values()], true_label=session.true_label, opacity=opacity)
    return [*map(str, files.values()), str(result)]


def info(session: Session, exp: core.Explanation) -> str:
    c = session.clip
    how = "spread over the clip" if c.sampling == Sampling.UNIFORM else f"{c.sample_fps:.3g} per second"
    t = exp.timings
    return (f"{c.num_frames} frames {how}, from {c.duration:.1f} s of {c.source_size[1]}×"
            f"{c.source_size[0]} video at {c.source_fps:.0f} fps · {exp.model}, {how_explained(exp)} · "
            + ("cached forward pass" if exp.cached_forward else f"forward {t['forward']:.0f} ms"))


def truth(session: Session) -> str:
    if not session.true_label:
        return "**True label:** not known for an uploaded clip."
    top1 = session.ranked[0][0]
    verdict = "the top-1 prediction ✓" if top1 == session.true_label else f"top-1 is *{top1}* ✗"
    return f"**True label:** {session.true_label} — {verdict}"


def familiarity(exp: core.Explanation) -> str:
    """The warning for a clip unlike the model's training data (core.familiarity), or nothing."""
    f = exp.familiarity
    if f is None or not f.unfamiliar:
        return ""
    return (f"\n\n⚠️ **This clip is unlike anything the model was trained on: its answer and heatmap mean "
            f"little.** (Its features lie farther from the training data than {f.percentile:.1f}% of the model's own "
            "held-out clips.)")


CLASS_AGNOSTIC = ("Rollout is class-agnostic: it follows the attention, not a class, so every class "
                  "gets the same map, and it does not change when the head is randomised.")


def how_explained(exp: core.Explanation) -> str:
    """``layer `layer4`, Grad-CAM, one weight per channel ...``, or ``Occlusion, 66 forward passes``."""
    if exp.layer is not None:
        return f"layer `{exp.layer}`, {exp.method.label}, {exp.pooling.label}"
    n = exp.method_info.get("forward_passes", 1)
    return f"{exp.method.label}, {n} forward pass{'' if n == 1 else 'es'}"
