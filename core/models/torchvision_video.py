"""torchvision's video classifiers with their Kinetics-400 weights: R3D, MC3, R(2+1)D, S3D, MViT, Swin3D.

Each registers itself with :func:`~core.models.registry.register_model`; ``torchvision.models``
is imported only when one of them is first looked at (its spec, weights or architecture).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from .i3d import RESNET_LAYERS
from .registry import register_model
from .spec import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    KINETICS_MEAN,
    KINETICS_STD,
    Layout,
    ModelSpec,
    Sampling,
)

__all__: list[str] = []

_S3D_PATHS = {"mixed_3c": "features.6", "mixed_4f": "features.12", "mixed_5c": "features.15"}
_SWIN_PATHS = {"stage1": "features.0", "stage2": "features.2", "stage3": "features.4", "stage4": "features.6"}
# MViT classifies from its class token after the last block, so the last block's own tokens get
# no gradient: the default is the last block's input (the output of blocks.14 of 16), 8 time steps.
_MVIT_BLOCKS = tuple(f"blocks.{i}" for i in range(16))


def _weights(name: str):
    """torchvision's Kinetics-400 weights record of model ``name`` (imports torchvision.models)."""
    from torchvision.models import get_model_weights

    return get_model_weights(name).KINETICS400_V1


def _register(name: str, *, frames: int, crop: int, resize, layers, default_layer: str, head: str,
              paths=None, mean=KINETICS_MEAN, std=KINETICS_STD, **fields) -> None:
    """Register torchvision's ``name``; ``fields`` go to its spec."""

    def spec() -> ModelSpec:
        w = _weights(name)
        top1 = w.meta["_metrics"]["Kinetics-400"]["acc@1"]
        return ModelSpec(
            name=name, categories=tuple(w.meta["categories"]), num_frames=frames, input_size=(crop, crop),
            resize_size=resize, mean=mean, std=std, layers=layers, default_layer=default_layer,
            description=f"torchvision {name}, Kinetics-400 ({top1:.1f}% top-1)",
            weights_hint=f"torchvision weights file {Path(w.url).name}",
            layer_paths=paths or {}, head=head, **fields,
        )

    def build(*, num_classes: int) -> nn.Module:
        from torchvision.models import get_model

        return get_model(name, weights=None, num_classes=num_classes)

    build.__name__ = name
    register_model(name, spec=spec, weights_url=lambda: _weights(name).url)(build)


for _name in ("r3d_18", "mc3_18", "r2plus1d_18"):
    _register(_name, frames=16, crop=112, resize=(128, 171), layers=RESNET_LAYERS, default_layer="layer4",
              head="fc")
_register("s3d", frames=32, crop=224, resize=(256, 256), layers=tuple(_S3D_PATHS), default_layer="mixed_5c",
          paths=_S3D_PATHS, head="classifier")
# MViT: 16 frames at 7.5 fps (its evaluation protocol), (tokens, grid) blocks.
for _name in ("mvit_v1_b", "mvit_v2_s"):
    _register(_name, frames=16, crop=224, resize=256, layers=_MVIT_BLOCKS, default_layer="blocks.14",
              mean=(0.45,) * 3, std=(0.225,) * 3, layout=Layout.TOKENS, sampling=Sampling.FPS, sample_fps=7.5,
              head="head")
# Video Swin: 32 frames at 15 fps (its evaluation protocol), channels-last stages.
for _name in ("swin3d_t", "swin3d_s", "swin3d_b"):
    _register(_name, frames=32, crop=224, resize=256, layers=tuple(_SWIN_PATHS), default_layer="stage4",
              paths=_SWIN_PATHS, mean=IMAGENET_MEAN, std=IMAGENET_STD, layout=Layout.CHANNELS_LAST,
              sampling=Sampling.FPS, sample_fps=15.0, head="head")
