"""Ground-truth supervision for ``lab.train --cam-loss``: the rendered masks and action intervals,
cached like the frames, and a loss that puts the true class's activation map on the acting object
(where) and inside the action's frames (when).

For a network that ends in a global average pool and one linear layer (every ``I3DResNet``), the
class activation map at the last layer is ``fc`` applied at each position (Zhou et al., 2016), and
Grad-CAM there is that map through a ReLU: the logit *is* the map's mean. The loss moves the
evidence the logit is made of onto the object and into the action, the way attention supervision
does (GAIN, Li et al., 2018; "right for the right reasons", Ross et al., 2017):

- where: per frame that shows the object, the cross-entropy between the map's spatial softmax and
  the mask's share of each grid cell; not for the camera classes (the whole frame moves), nor for
  the classes the caller names in ``skip`` (``--cam-skip``: e.g. covering and uncovering, whose
  mask is the object being hidden while the cover is what moves);
- when: per clip, ``-log`` of the share of the map's positive mass that lies in the action's
  frames (every class).

Clips without ground truth add nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from core.transforms import resize_frames
from core.video import uniform_indices

from .data.classes import CAMERA_CLASSES, normalize_template
from .data.ssv2 import SSv2Dataset

__all__ = ["GroundTruthCache", "cam_localisation_loss", "load_cached_ground_truth"]


class GroundTruthCache(NamedTuple):
    """Per clip of a split: masks (N, T, S, S) uint8, the object's share of each pixel (0-255);
    use (N,) bool, whether the masks count (ground truth, and neither a camera class nor skipped);
    inside (N, T) bool, whether each sampled frame lies in the action's interval (all False
    without ground truth)."""

    masks: torch.Tensor
    use: torch.Tensor
    inside: torch.Tensor


def load_cached_ground_truth(root: Path, split: str, categories: list[str], num_frames: int, size: int,
                             rank: int = 0, skip: Sequence[str] = ()) -> GroundTruthCache:
    """The split's masks and intervals at the frames uniform sampling picks, each frame squashed to
    S x S, aligned with ``load_cached_split``'s frames; decoded once and cached on disk."""
    ds = SSv2Dataset(root, split, classes=categories)
    known = {normalize_template(k) for k in categories}
    unknown = [c for c in skip if normalize_template(c) not in known]
    if unknown:
        raise ValueError(f"--cam-skip: {unknown[0]!r} is not a class of {root}; use a template such as {categories[0]!r}")
    ignored = {normalize_template(c) for c in (*CAMERA_CLASSES, *skip)}
    supervised = torch.tensor([normalize_template(categories[s.target]) not in ignored for s in ds.samples],
                              dtype=torch.bool)
    cache = Path(root) / f".cache_{split}_truth_{num_frames}x{size}.npz"
    if cache.is_file():
        z = np.load(cache)
        masks, truth, inside = (torch.from_numpy(z[k]) for k in ("masks", "truth", "inside"))
        return GroundTruthCache(masks, truth & supervised, inside)
    masks = torch.zeros(len(ds), num_frames, size, size, dtype=torch.uint8)
    truth = torch.zeros(len(ds), dtype=torch.bool)
    inside = torch.zeros(len(ds), num_frames, dtype=torch.bool)
    for i in range(len(ds)):
        gt = ds.ground_truth(i)
        if gt is None:
            continue
        idx = np.asarray(uniform_indices(len(gt.masks), num_frames))
        inside[i] = torch.from_numpy((idx >= gt.interval[0]) & (idx <= gt.interval[1]))
        picked = gt.masks[idx].astype(np.float32)[..., None] * 255
        masks[i] = torch.from_numpy(resize_frames(picked, (size, size))[..., 0]).round_().to(torch.uint8)
        truth[i] = True
    if rank == 0:
        np.savez(cache, masks=masks.numpy(), truth=truth.numpy(), inside=inside.numpy())
    return GroundTruthCache(masks, truth & supervised, inside)


def cam_localisation_loss(features: torch.Tensor, fc_weight: torch.Tensor, labels: torch.Tensor,
                          masks: torch.Tensor, use: torch.Tensor,
                          inside: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(where, when) for the labels' class activation maps; see the module's docstring.

    features (B, C, T', h, w), the last layer's output; fc_weight (classes, C); labels (B,);
    masks (B, T, H, W) in [0, 1] at the input's size; use (B,) bool; inside (B, T) bool. Each is
    zero (with a graph) when no frame or clip counts.
    """
    t, h, w = features.shape[2:]
    cam = torch.einsum("bcthw,bc->bthw", features, fc_weight[labels]).flatten(2)  # (B, T', h*w)
    share = F.adaptive_avg_pool3d(masks[:, None].float(), (t, h, w))[:, 0].flatten(2)  # (B, T', h*w)
    total = share.sum(-1)
    valid = (total > 1e-6) & use[:, None]
    where = cam.sum() * 0
    if bool(valid.any()):
        target = share[valid] / total[valid, None]
        where = where - (target * F.log_softmax(cam[valid], -1)).sum(-1).mean()
    in_action = F.adaptive_avg_pool1d(inside[:, None].float(), t)[:, 0]  # (B, T'): share of each frame
    mass = F.relu(cam).sum(-1)  # (B, T')
    clip_mass = mass.sum(-1)
    counts = inside.any(-1) & (clip_mass > 1e-6)
    when = cam.sum() * 0
    if bool(counts.any()):
        frac = (mass * in_action).sum(-1)[counts] / clip_mass[counts]
        when = when - frac.clamp_min(1e-6).log().mean()
    return where, when
