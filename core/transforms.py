"""Frames <-> model input: the one place where tensor layouts change.

``preprocess`` crops, resizes and normalises sampled frames per a :class:`ModelSpec`;
``maps_to_frames`` puts model-input-sized heatmaps back onto the frames, using the same crop box,
so every heatmap pixel lines up with the frame pixel it explains.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .models.spec import ModelSpec

__all__ = ["crop_box_for", "maps_to_frames", "preprocess"]


def crop_box_for(frame_size: tuple[int, int], spec: ModelSpec) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the region of a frame that the model sees."""
    H, W = frame_size
    ch, cw = spec.input_size
    rs = spec.resize_size
    if rs is None:
        return (0, 0, H, W)
    if isinstance(rs, int):  # short side -> rs, then centre crop
        scale = rs / min(H, W)
        sy = sx = scale
    else:  # exact (h, w), then centre crop
        sy, sx = rs[0] / H, rs[1] / W
    h = min(H, round(ch / sy))
    w = min(W, round(cw / sx))
    return ((H - h) // 2, (W - w) // 2, h, w)


def preprocess(
    frames: torch.Tensor, spec: ModelSpec, *, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """(T, H, W, 3) uint8 frames -> ((1, 3, T, h, w) float input, crop box in frame pixels).

    Cropping first and resizing only the crop gives the same pixels as torchvision's
    resize-then-centre-crop, for less work on large frames.
    """
    if not isinstance(frames, torch.Tensor) or frames.dtype != torch.uint8 or frames.dim() != 4:
        raise TypeError("frames must be a (T, H, W, 3) uint8 tensor, e.g. Clip.frames")
    if frames.shape[-1] != 3:
        raise ValueError(f"frames have {frames.shape[-1]} channels; need 3 (RGB)")
    top, left, h, w = crop_box_for(tuple(frames.shape[1:3]), spec)
    x = frames[:, top : top + h, left : left + w].to(device)
    # (T, H, W, C) => (T, C, H, W)
    x = x.permute(0, 3, 1, 2).float().div_(255)
    x = F.interpolate(x, size=spec.input_size, mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(spec.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=x.device).view(1, 3, 1, 1)
    x = (x - mean) / std
    # (T, C, H, W) => (1, C, T, H, W)
    return x.permute(1, 0, 2, 3).unsqueeze(0).contiguous(), (top, left, h, w)


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
