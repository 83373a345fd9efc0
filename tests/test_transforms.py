"""Frames -> model input is exactly torchvision's Resize then CenterCrop (then normalise)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF

import core
from core.transforms import crop_box_for, fit_frames, preprocess, resize_frames

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def frames() -> torch.Tensor:
    first = json.loads((ROOT / "demo" / "samples" / "index.json").read_text())[0]
    clip = core.read_clip(ROOT / "demo" / "samples" / first["file"], num_frames=4)
    # a wide, odd-sized frame so both the resize and the crop are non-trivial
    return torch.cat([clip.frames, clip.frames.flip(2)], dim=2)[:, :, :-3].contiguous()


@pytest.mark.parametrize("resize", [128, (128, 171), 140])
def test_preprocess_is_torchvisions_resize_then_centre_crop(frames, resize):
    spec = replace(core.get_spec("r3d_18"), resize_size=resize, input_size=(112, 112))
    x, box = preprocess(frames, spec)
    ref = frames.permute(0, 3, 1, 2).float() / 255  # (T, H, W, C) => (T, C, H, W)
    ref = TF.center_crop(TF.resize(ref, resize, antialias=True), [112, 112])
    ref = TF.normalize(ref, spec.mean, spec.std).permute(1, 0, 2, 3)[None]  # => (1, C, T, H, W)
    torch.testing.assert_close(x, ref, atol=1e-5, rtol=0)
    # the crop box is where the model's pixels lie on the frame (to a pixel)
    H, W = frames.shape[1:3]
    top, left, h, w = box
    assert top >= 0 and left >= 0 and top + h <= H and left + w <= W
    assert box == crop_box_for((H, W), spec)


def test_no_resize_size_maps_the_whole_frame(frames):
    spec = core.get_spec(core.DEFAULT_MODEL)  # resize_size None: the whole frame, no crop
    x, box = preprocess(frames, spec)
    assert x.shape == (1, 3, 4, *spec.input_size) and box == (0, 0, *frames.shape[1:3])


def test_resize_and_fit_keep_kind_dtype_and_aspect(frames):
    small = resize_frames(frames.numpy(), (30, 50))
    assert isinstance(small, np.ndarray) and small.dtype == np.uint8 and small.shape == (4, 30, 50, 3)
    as_float = resize_frames(frames.float(), (30, 50))
    assert as_float.dtype == torch.float32
    assert np.abs(as_float.numpy() - small).max() <= 0.5 + 1e-4  # uint8 is the rounded float
    fitted = fit_frames(frames, max_side=100)
    H, W = frames.shape[1:3]
    assert max(fitted.shape[1:3]) == 100 and abs(fitted.shape[1] / fitted.shape[2] - H / W) < 0.02
    assert fit_frames(frames, max_side=10_000) is frames  # never enlarged
    assert min(fit_frames(frames, short_side=64).shape[1:3]) == 64
