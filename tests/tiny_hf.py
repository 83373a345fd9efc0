"""Tiny random Hugging Face video classifiers (VideoMAE, TimeSformer, ViViT), saved with
``save_pretrained`` into a folder: the loading path users take, never the network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

LABELS = {0: "waving", 1: "clapping", 2: "jumping"}
SMALL = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 37,
         "num_frames": 4, "image_size": 32, "num_labels": 3, "id2label": LABELS,
         "label2id": {v: k for k, v in LABELS.items()}}
FAMILIES = ("videomae", "timesformer", "vivit")


def config(family: str):
    """A two-block config of ``family`` with 16-pixel patches (2x2 per frame of 32x32)."""
    if family == "videomae":
        return transformers.VideoMAEConfig(patch_size=16, tubelet_size=2, use_mean_pooling=True, **SMALL)
    if family == "timesformer":
        return transformers.TimesformerConfig(patch_size=16, **SMALL)
    return transformers.VivitConfig(tubelet_size=[2, 16, 16], **SMALL)


def saved(folder: Path, family: str, seed: int = 0) -> Path:
    """``folder / family``: a random model of ``family`` (weights from ``seed``), saved there."""
    torch.manual_seed(seed)
    transformers.AutoModelForVideoClassification.from_config(config(family)).save_pretrained(folder / family)
    return folder / family
