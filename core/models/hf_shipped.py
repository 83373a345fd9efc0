"""Video transformers of a Hugging Face family that this project trains and ships in ``checkpoints/``.

``videomae_tiny`` is a VideoMAE (``transformers``' own ``VideoMAEForVideoClassification``, no
remote code) sized for 2 CPU cores and trained from scratch on the 13 rendered actions, so that
the methods can be measured on a transformer against ground truth (``docs/evaluation.md``). Its
architecture is the config below; its classes and training record come from the checkpoint's JSON.
``transformers`` is imported only when the model is built.
"""

from __future__ import annotations

from torch import nn

from .hf import _layer_paths
from .registry import register_model
from .spec import IMAGENET_MEAN, IMAGENET_STD, Layout, ModelSpec

__all__ = ["VIDEOMAE_TINY"]

# 16x3x112x112 in; tubelets of 2x16x16 pixels: an (8, 7, 7) grid of 392 tokens of 128 channels,
# 4 blocks: sized so that 2 CPU cores train it at about 0.8 s per batch of 16.
VIDEOMAE_TINY = {
    "image_size": 112, "patch_size": 16, "num_frames": 16, "tubelet_size": 2, "hidden_size": 128,
    "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512, "use_mean_pooling": True,
}
_ENCODER = "videomae.encoder.layer"  # inside HFVideoClassifier's ``model``


def _videomae_tiny_spec() -> ModelSpec:
    c = VIDEOMAE_TINY
    layers = tuple(f"layer.{i}" for i in range(c["num_hidden_layers"]))
    grid = (c["num_frames"] // c["tubelet_size"], c["image_size"] // c["patch_size"], c["image_size"] // c["patch_size"])
    how = "train it: see README, 'The shipped models and how to reproduce them'"
    return ModelSpec(
        name="videomae_tiny", categories=(), num_frames=c["num_frames"], input_size=(c["image_size"],) * 2,
        resize_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD, layers=layers, default_layer=layers[-1],
        layout=Layout.TOKENS, layer_paths=_layer_paths(_ENCODER, len(layers)),
        token_grid=grid, head="model.classifier",
        description="a small VideoMAE (Hugging Face transformers; 4 blocks, 8x7x7 tokens) trained from "
        "scratch on the project's 13 rendered actions, without the localisation loss",
        weights_hint=f"checkpoints/videomae_tiny.safetensors ({how})")


@register_model(spec=_videomae_tiny_spec, checkpoint="videomae_tiny")
def videomae_tiny(*, num_classes: int = 13) -> nn.Module:
    """A VideoMAE classifier of :data:`VIDEOMAE_TINY`'s size, random weights, behind the project's
    (N, C, T, H, W) interface."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    from .hf import HFVideoClassifier

    config = VideoMAEConfig(**VIDEOMAE_TINY, num_labels=num_classes)
    return HFVideoClassifier(VideoMAEForVideoClassification(config))
