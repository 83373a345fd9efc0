"""Frames <-> model input, and frame resizing: the one place where frame layouts change.

``preprocess`` resizes, crops and normalises sampled frames per a :class:`ModelSpec`;
``maps_to_frames`` puts model-input-sized heatmaps back onto the frames, using the same crop box,
so every heatmap pixel lines up with the frame pixel it explains. ``resize_frames`` and
``fit_frames`` resize (T, H, W, 3) frames for display, training and benchmarks alike.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .models.spec import ModelSpec

__all__ = ["crop_box_for", "fit_frames", "maps_to_frames", "preprocess", "resize_frames", "resized_size"]


def resized_size(frame_size: tuple[int, int], spec: ModelSpec) -> tuple[int, int]:
    """(h, w) that a frame of ``frame_size`` is resized to before the centre crop, by
    torchvision's rule (an ``int`` sets the short side and the long side is truncated)."""
    H, W = frame_size
    rs = spec.resize_size
    if rs is None:
        return tuple(spec.input_size)
    if isinstance(rs, int):
        if H <= W:
            return rs, int(rs * W / H)
        return int(rs * H / W), rs
    return int(rs[0]), int(rs[1])


def _crop_anchor(resized: tuple[int, int], crop: tuple[int, int]) -> tuple[int, int, int, int]:
    """(top, left, h, w) of torchvision's centre crop in the resized frame (clamped to it)."""
    (rh, rw), (ch, cw) = resized, crop
    h, w = min(ch, rh), min(cw, rw)
    return round((rh - h) / 2.0), round((rw - w) / 2.0), h, w


def crop_box_for(frame_size: tuple[int, int], spec: ModelSpec) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the region of a frame that the model sees, in frame pixels
    (rounded to whole pixels: where a heatmap over the model input lands on the frame)."""
    H, W = frame_size
    rh, rw = resized_size(frame_size, spec)
    top, left, h, w = _crop_anchor((rh, rw), spec.input_size)
    sy, sx = H / rh, W / rw
    return (round(top * sy), round(left * sx), max(1, round(h * sy)), max(1, round(w * sx)))


def resize_frames(frames, size: tuple[int, int]):
    """Bilinear (antialiased when shrinking) resize of (T, H, W, C) frames to (T, *size, C).

    Takes and returns the same kind: a numpy array or a torch tensor, uint8 (rounded) or float.
    """
    as_numpy = isinstance(frames, np.ndarray)
    x = torch.from_numpy(np.ascontiguousarray(frames)) if as_numpy else frames
    size = (int(size[0]), int(size[1]))
    if tuple(x.shape[1:3]) == size:
        return frames
    y = x.permute(0, 3, 1, 2).float()  # (T, H, W, C) => (T, C, H, W)
    y = F.interpolate(y, size=size, mode="bilinear", align_corners=False, antialias=True)
    y = y.permute(0, 2, 3, 1)  # (T, C, H, W) => (T, H, W, C)
    y = y.round_().clamp_(0, 255).to(torch.uint8) if x.dtype == torch.uint8 else y.to(x.dtype)
    y = y.contiguous()
    return y.numpy() if as_numpy else y


def fit_frames(frames, *, max_side: int | None = None, short_side: int | None = None):
    """Shrink (T, H, W, C) frames, keeping the aspect ratio, so that the longer side is at most
    ``max_side`` (or the shorter side at most ``short_side``); smaller frames come back as they are."""
    if (max_side is None) == (short_side is None):
        raise ValueError("give exactly one of max_side and short_side")
    h, w = frames.shape[1:3]
    scale = max_side / max(h, w) if max_side is not None else short_side / min(h, w)
    if scale >= 1:
        return frames
    return resize_frames(frames, (max(1, round(h * scale)), max(1, round(w * scale))))


def preprocess(
    frames: torch.Tensor, spec: ModelSpec, *, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """(T, H, W, 3) uint8 frames -> ((1, 3, T, h, w) float input, crop box in frame pixels).

    Exactly torchvision's ``Resize(spec.resize_size, antialias=True)`` then
    ``CenterCrop(spec.input_size)`` on the frames scaled to [0, 1], then the normalisation
    (``tests/test_transforms.py`` checks it against torchvision on a shipped sample).
    """
    if not isinstance(frames, torch.Tensor) or frames.dtype != torch.uint8 or frames.dim() != 4:
        raise TypeError("frames must be a (T, H, W, 3) uint8 tensor, e.g. Clip.frames")
    if frames.shape[-1] != 3:
        raise ValueError(f"frames have {frames.shape[-1]} channels; need 3 (RGB)")
    size = resized_size(tuple(frames.shape[1:3]), spec)
    top, left, h, w = _crop_anchor(size, spec.input_size)
    # (T, H, W, C) => (T, C, H, W)
    x = frames.to(device).permute(0, 3, 1, 2).float().div_(255)
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    x = x[..., top : top + h, left : left + w]
    if (h, w) != tuple(spec.input_size):  # frames smaller than the crop: stretch what there is
        x = F.interpolate(x, size=spec.input_size, mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(spec.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=x.device).view(1, 3, 1, 1)
    x = (x - mean) / std
    # (T, C, H, W) => (1, C, T, H, W)
    return x.permute(1, 0, 2, 3).unsqueeze(0).contiguous(), crop_box_for(tuple(frames.shape[1:3]), spec)


def maps_to_frames(
    maps: torch.Tensor, crop_box: tuple[int, int, int, int], frame_size: tuple[int, int]
) -> torch.Tensor:
    """(K, T, h, w) maps over the model input -> (K, T, H, W) maps over the frames.

    The maps are resized onto the crop box; pixels the model never saw (outside the crop) are 0.
    """
    top, left, h, w = crop_box
    K, T = maps.shape[:2]
    up = F.interpolate(maps.reshape(K * T, 1, *maps.shape[2:]).float(), size=(h, w), mode="bilinear",
                       align_corners=False).clamp_(0, 1)
    out = maps.new_zeros((K * T, 1, *frame_size), dtype=torch.float32)
    out[:, :, top : top + h, left : left + w] = up
    return out.view(K, T, *frame_size)
