"""What a live view shows: the newest frame with the newest heatmap over it, and a status line."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..render import overlay
from .session import Update

__all__ = ["live_view", "status_line"]


def live_view(frame: np.ndarray, update: Update | None, *, alpha: float = 0.5) -> np.ndarray:
    """(H, W, 3) uint8: ``frame`` with ``update``'s heatmap stretched over it (the heatmap is on
    the session's smaller copy of the frames, with the same aspect ratio); the frame as it is
    before the first update."""
    if update is None:
        return frame
    h, w = frame.shape[:2]
    heat = torch.from_numpy(update.heatmap)[None, None]
    if tuple(heat.shape[-2:]) != (h, w):
        heat = F.interpolate(heat, size=(h, w), mode="bilinear", align_corners=False).clamp_(0, 1)
    return overlay(frame[None], heat[0].numpy(), alpha=alpha)[0]


def status_line(update: Update, now: float) -> str:
    """``update 12 · 182 ms behind · Dropping [something] 81% | Holding [something] 10% | ...``"""
    classes = " | ".join(f"{label} {p:.0%}" for label, p in update.top)
    pin = f" · pinned: {update.target}" if update.pinned else ""
    return f"update {update.index} · {1000 * (now - update.clip_end):.0f} ms behind{pin} · {classes}"
