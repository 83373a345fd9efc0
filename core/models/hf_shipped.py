"""Video transformers of a Hugging Face family that this project trains and ships in ``checkpoints/``.

``videomae_tiny`` is a VideoMAE (``transformers``' own ``VideoMAEForVideoClassification``, no
remote code) sized for 2 CPU cores and trained from scratch on the 13 rendered actions, so that
the methods can be measured on a transformer against ground truth (``docs/evaluation.md``). Its
architecture is the config below plus a convolutional stem in place of the linear tubelet
embedding (:class:`ConvStem`; "early convolutions help transformers see better", Xiao et al.
2021): the same (4, 7, 7) grid of tokens, the same encoder blocks and attention the methods read.
Its classes and training record come from the checkpoint's JSON. ``transformers`` is imported only
when the model is built.
"""

from __future__ import annotations

from torch import nn

from .hf import _layer_paths
from .registry import register_model
from .spec import IMAGENET_MEAN, IMAGENET_STD, Layout, ModelSpec

__all__ = ["VIDEOMAE_TINY", "ConvStem"]

# 8x3x112x112 in; tubelets of 2x16x16 pixels: a (4, 7, 7) grid of 196 tokens of 128 channels,
# 4 blocks, mean-pooled: sized so that 2 CPU cores train it at about 0.35 s per batch of 16.
VIDEOMAE_TINY = {
    "image_size": 112, "patch_size": 16, "num_frames": 8, "tubelet_size": 2, "hidden_size": 128,
    "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512, "use_mean_pooling": True,
}
_ENCODER = "videomae.encoder.layer"  # inside HFVideoClassifier's ``model``


class ConvStem(nn.Module):
    """(N, 3, T, H, W) -> (N, hidden, T / tubelet, H / 16, W / 16): three 3x3 convolutions of stride 2
    in space (batch norm, ReLU), then one (tubelet, 2, 2) convolution of the same stride: the
    tubelet grid of VideoMAE's linear embedding, from features instead of raw pixels."""

    def __init__(self, hidden: int, tubelet: int, widths: tuple[int, ...] = (16, 32, 64)):
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for w in widths:
            layers += [nn.Conv3d(c, w, (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False), nn.BatchNorm3d(w),
                       nn.ReLU(inplace=True)]
            c = w
        layers.append(nn.Conv3d(c, hidden, (tubelet, 2, 2), (tubelet, 2, 2)))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def _videomae_tiny_spec() -> ModelSpec:
    c = VIDEOMAE_TINY
    layers = tuple(f"layer.{i}" for i in range(c["num_hidden_layers"]))
    grid = (c["num_frames"] // c["tubelet_size"], c["image_size"] // c["patch_size"], c["image_size"] // c["patch_size"])
    how = "train it: docs/training.md, 'A video transformer (not shipped yet)'"
    return ModelSpec(
        name="videomae_tiny", categories=(), num_frames=c["num_frames"], input_size=(c["image_size"],) * 2,
        resize_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD, layers=layers, default_layer=layers[-1],
        layout=Layout.TOKENS, layer_paths=_layer_paths(_ENCODER, len(layers)),
        token_grid=grid, head="model.classifier",
        description="a small VideoMAE (Hugging Face transformers; convolutional stem, 4 blocks, 4x7x7 "
        "tokens) trained from scratch on the project's 13 rendered actions, without the localisation loss",
        weights_hint=f"checkpoints/videomae_tiny.safetensors ({how})")


@register_model(spec=_videomae_tiny_spec, checkpoint="videomae_tiny")
def videomae_tiny(*, num_classes: int = 13) -> nn.Module:
    """A VideoMAE classifier of :data:`VIDEOMAE_TINY`'s size with a :class:`ConvStem`, random
    weights, behind the project's (N, C, T, H, W) interface."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    from .hf import HFVideoClassifier

    config = VideoMAEConfig(**VIDEOMAE_TINY, num_labels=num_classes)
    model = VideoMAEForVideoClassification(config)
    model.videomae.embeddings.patch_embeddings.projection = ConvStem(config.hidden_size, config.tubelet_size)
    return HFVideoClassifier(model)
