"""Turn a Session + Explanation into what the page shows and what the user downloads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import core

from .config import GIF_FPS
from .state import Session


def scores(ranked) -> dict[str, float]:
    """{label: probability} for gr.Label (it sorts and trims to num_top_classes itself)."""
    return {label: round(p, 6) for label, p in ranked}


def class_choices(ranked) -> list[tuple[str, str]]:
    """Dropdown choices: every class, most probable first, showing its score."""
    return [(f"{label}  ·  {p:.2f}", label) for label, p in ranked]


def heat(session: Session, exp: core.Explanation, opacity: float, k: int = 0) -> np.ndarray:
    """(T, h, w, 3) heatmap overlay of target ``k`` on the GIF-size frames."""
    maps = exp.maps_on_frames(frame_size=session.display.shape[1:3])[k]
    return core.overlay(session.display, maps, alpha=float(opacity))


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


def downloads(session: Session, exp: core.Explanation, heatmap: np.ndarray, opacity: float,
              out: Path) -> list[str]:
    """combined.gif (original | heatmap, as in the 2017 post), combined.mp4, cam.npy, result.json."""
    name = exp.targets[0].name
    both = core.combined_frames(session.display, heatmap, labels=frame_labels(session, name))
    cams = exp.maps_on_frames(frame_size=session.display.shape[1:3])
    files = {
        "combined.gif": gif(both, out / "combined.gif"),
        "combined.mp4": str(core.save_mp4(both, out / "combined.mp4", fps=GIF_FPS)),
        "cam.npy": str(core.save_npy(cams, out / "cam.npy")),
    }
    clip = session.clip
    result = {
        "video": session.video_name,
        "true_label": session.true_label,
        **exp.to_dict(top_k=5),
        "opacity": opacity,
        "source_size": list(clip.source_size),
        "source_fps": clip.source_fps,
        "duration_s": clip.duration,
        "sampling": clip.sampling,
        "cam_npy": {"shape": list(cams.shape), "axes": "targets, frames, height, width",
                    "at": "the GIF frames", "frame_size": list(session.display.shape[1:3])},
        "files": sorted([*files, "result.json"]),
    }
    path = out / "result.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return [*files.values(), str(path)]
