"""One registry of models: builders, specs, and where each one's weights come from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torchvision.models import video as tv_video

from ..errors import SettingsError, UnknownModelError
from . import hf
from .i3d import i3d_resnet50, i3d_tiny, i3d_tiny14, inflate_state_dict
from .spec import IMAGENET_MEAN, IMAGENET_STD, KINETICS_MEAN, KINETICS_STD, ModelSpec
from .weights import (
    CHECKPOINT_DIR,
    WeightsError,
    hub_file,
    load_checkpoint,
    load_hub_state_dict,
    read_torch_file,
)

__all__ = [
    "DEFAULT_MODEL", "UnknownModelError", "add_model_arguments", "get_spec", "list_models", "load_model",
    "weights_status",
]

DEFAULT_MODEL = "i3d_tiny14"
RESNET_LAYERS = ("stem", "layer1", "layer2", "layer3", "layer4")


@dataclass(frozen=True)
class _Entry:
    spec: ModelSpec
    build: Callable[[int], nn.Module]
    weights_url: str | None = None  # torchvision / torch hub file for weights="default"
    checkpoint: str | None = None  # project checkpoint stem in checkpoints/


def _kinetics(name: str, weights_enum, *, frames: int, crop: int, resize, layers, default_layer, paths=None,
              mean=KINETICS_MEAN, std=KINETICS_STD, **fields):
    """A torchvision video classifier with Kinetics-400 weights; ``fields`` go to its spec."""
    w = weights_enum.KINETICS400_V1
    builder = getattr(tv_video, name)
    return _Entry(
        spec=ModelSpec(
            name=name,
            categories=tuple(w.meta["categories"]),
            num_frames=frames,
            input_size=(crop, crop),
            resize_size=resize,
            mean=mean,
            std=std,
            layers=layers,
            default_layer=default_layer,
            description=f"torchvision {name}, Kinetics-400 ({w.meta['_metrics']['Kinetics-400']['acc@1']:.1f}% top-1)",
            weights_hint=f"torchvision weights file {Path(w.url).name}",
            meta={"layer_paths": paths or {}},
            **fields,
        ),
        build=lambda n, b=builder: b(weights=None, num_classes=n),
        weights_url=w.url,
    )


def _i3d_spec(name: str, **fields) -> ModelSpec:
    """The spec of an I3D ResNet (16 frames, ImageNet normalisation, CAMs at ``layer4``)."""
    return ModelSpec(name=name, categories=(), num_frames=16, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                     layers=RESNET_LAYERS, default_layer="layer4", **fields)


def _imagenet_categories() -> tuple[str, ...]:
    from torchvision.models import ResNet50_Weights

    return tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def _action_categories() -> tuple[str, ...]:
    from core.data.classes import CLASSES

    return tuple(CLASSES)


_S3D_PATHS = {"mixed_3c": "features.6", "mixed_4f": "features.12", "mixed_5c": "features.15"}
_SWIN_PATHS = {"stage1": "features.0", "stage2": "features.2", "stage3": "features.4", "stage4": "features.6"}
# MViT classifies from its class token after the last block, so the last block's own tokens get
# no gradient: the default is the last block's input (the output of blocks.14 of 16), 8 time steps.
_MVIT_BLOCKS = tuple(f"blocks.{i}" for i in range(16))


def _mvit(name: str, weights_enum) -> _Entry:
    """torchvision's MViT: 16 frames at 7.5 fps (its evaluation protocol), (tokens, grid) blocks."""
    return _kinetics(name, weights_enum, frames=16, crop=224, resize=256, layers=_MVIT_BLOCKS,
                     default_layer="blocks.14", mean=(0.45,) * 3, std=(0.225,) * 3, layout="tokens",
                     sampling="fps", sample_fps=7.5)


def _swin3d(name: str, weights_enum) -> _Entry:
    """torchvision's Video Swin: 32 frames at 15 fps (its evaluation protocol), channels-last stages."""
    return _kinetics(name, weights_enum, frames=32, crop=224, resize=256, layers=tuple(_SWIN_PATHS),
                     default_layer="stage4", paths=_SWIN_PATHS, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                     layout="channels_last", sampling="fps", sample_fps=15.0)

def _project_model(name: str, build, description: str, how: str) -> _Entry:
    """A model this project trains on its 13 rendered actions (112x112 frames, whole frame, no crop),
    shipped as ``checkpoints/NAME.safetensors``; categories come from the checkpoint's metadata."""
    spec = _i3d_spec(name, input_size=(112, 112), resize_size=None, description=description,
                     weights_hint=f"checkpoints/{name}.safetensors ({how})")
    return _Entry(spec=spec, build=lambda n: build(num_classes=n), checkpoint=name)


_REGISTRY: dict[str, _Entry] = {
    "i3d_tiny14": _project_model(
        "i3d_tiny14", i3d_tiny14,
        "the shipped default: a small I3D ResNet trained on the project's 13 Something-Something-style "
        "actions, layer3's stride replaced by dilation (DeepLab), so 16x112x112 in, 16x14x14 CAMs; "
        "fine-tuned from i3d_tiny with a loss that puts its class maps on the acting object "
        "(core.train --cam-loss), on standard and varied renders",
        "train it: see docs/evaluation.md",
    ),
    "i3d_tiny": _project_model(
        "i3d_tiny", i3d_tiny,
        "the earlier default and i3d_tiny14's starting point: the same small I3D ResNet with a strided "
        "layer3 (16x112x112 in, 16x7x7 CAMs), trained on standard renders only",
        "train it: see README",
    ),
    "i3d_resnet50": _Entry(
        spec=_i3d_spec(
            "i3d_resnet50",  # categories: ImageNet's when inflated from ImageNet, else a checkpoint's
            input_size=(224, 224),
            resize_size=256,
            sampling="fps",
            sample_fps=4.0,
            description="the 2017 post's architecture: ResNet-50 inflated in time "
            "(16x3x224x224 in, 16x2048x7x7 at layer4); weights='imagenet' inflates torchvision's "
            "ImageNet ResNet-50",
            weights_hint="torchvision resnet50-11ad3fa6.pth (ImageNet, inflated) or a .safetensors checkpoint",
        ),
        build=lambda n: i3d_resnet50(num_classes=n),
        weights_url="https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
    ),
    "r3d_18": _kinetics("r3d_18", tv_video.R3D_18_Weights, frames=16, crop=112, resize=(128, 171),
                        layers=RESNET_LAYERS, default_layer="layer4"),
    "mc3_18": _kinetics("mc3_18", tv_video.MC3_18_Weights, frames=16, crop=112, resize=(128, 171),
                        layers=RESNET_LAYERS, default_layer="layer4"),
    "r2plus1d_18": _kinetics("r2plus1d_18", tv_video.R2Plus1D_18_Weights, frames=16, crop=112,
                             resize=(128, 171), layers=RESNET_LAYERS, default_layer="layer4"),
    "s3d": _kinetics("s3d", tv_video.S3D_Weights, frames=32, crop=224, resize=(256, 256),
                     layers=tuple(_S3D_PATHS), default_layer="mixed_5c", paths=_S3D_PATHS),
    "mvit_v1_b": _mvit("mvit_v1_b", tv_video.MViT_V1_B_Weights),
    "mvit_v2_s": _mvit("mvit_v2_s", tv_video.MViT_V2_S_Weights),
    "swin3d_t": _swin3d("swin3d_t", tv_video.Swin3D_T_Weights),
    "swin3d_s": _swin3d("swin3d_s", tv_video.Swin3D_S_Weights),
    "swin3d_b": _swin3d("swin3d_b", tv_video.Swin3D_B_Weights),
}


def list_models() -> list[str]:
    """Registered model names, the shipped default first."""
    return [DEFAULT_MODEL, *sorted(n for n in _REGISTRY if n != DEFAULT_MODEL)]


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise UnknownModelError(
            f"unknown model {name!r}; choose one of {', '.join(list_models())}, or give a Hugging "
            "Face Hub id (org/name) or a folder written by save_pretrained")
    return _REGISTRY[name]


def _is_hf(name: str) -> bool:
    return name not in _REGISTRY and hf.is_hf_source(name)


def get_spec(name: str = DEFAULT_MODEL) -> ModelSpec:
    """The spec of a registered model (for the shipped model, from its checkpoint when present),
    or of a Hugging Face model that is on this machine (a folder, or a Hub id in the cache)."""
    if _is_hf(name):
        return hf.hf_spec(hf.resolve_hf(name), name)
    entry = _entry(name)
    spec = entry.spec
    if entry.checkpoint:
        meta_path = CHECKPOINT_DIR / f"{entry.checkpoint}.json"
        if meta_path.is_file():
            import json

            spec = _spec_from_meta(spec, json.loads(meta_path.read_text()))
        elif not spec.categories:
            spec = replace(spec, categories=_action_categories())
    elif name == "i3d_resnet50" and not spec.categories:
        spec = replace(spec, categories=_imagenet_categories())
    return spec


def weights_status(name: str) -> tuple[bool, str]:
    """(available offline, where or how to get them) for ``weights='default'``."""
    if _is_hf(name):
        try:
            return True, str(hf.resolve_hf(name))
        except WeightsError as e:
            return False, str(e)
    entry = _entry(name)
    if entry.checkpoint:
        path = CHECKPOINT_DIR / f"{entry.checkpoint}.safetensors"
        return path.is_file(), str(path) if path.is_file() else f"missing: {entry.spec.weights_hint}"
    path = hub_file(entry.weights_url)
    if path.is_file():
        return True, str(path)
    return False, f"not downloaded: `python -m core download {name}` (needs internet) puts them in {path}"


def _spec_from_meta(spec: ModelSpec, meta: dict) -> ModelSpec:
    fields = {
        "categories": tuple(meta["categories"]),
        "num_frames": int(meta.get("num_frames", spec.num_frames)),
        "input_size": tuple(meta.get("input_size", spec.input_size)),
        "mean": tuple(meta.get("mean", spec.mean)),
        "std": tuple(meta.get("std", spec.std)),
        "sampling": meta.get("sampling", spec.sampling),
        "sample_fps": meta.get("sample_fps", spec.sample_fps),
        "resize_size": meta.get("resize_size", spec.resize_size),
    }
    if isinstance(fields["resize_size"], list):
        fields["resize_size"] = tuple(fields["resize_size"])
    return replace(spec, **fields, meta={**spec.meta, "checkpoint": meta})


def load_model(
    name: str = DEFAULT_MODEL,
    *,
    weights: str | Path | None = "default",
    num_classes: int | None = None,
    device: str | torch.device = "cpu",
    download: bool = True,
) -> nn.Module:
    """Build a registered model in eval mode, with its :class:`ModelSpec` as ``model.spec``.

    ``weights``: ``"default"`` (the shipped checkpoint, or torchvision's Kinetics-400 file from the
    hub cache, downloaded only if missing and ``download``), ``"imagenet"`` (``i3d_resnet50``
    only: inflate torchvision's ImageNet ResNet-50), a path to a ``.safetensors`` checkpoint (with
    its ``.json``) or a torchvision ``.pth``, or ``None`` for random weights (tests).

    ``name`` may also be a Hugging Face video classifier: a Hub id (fetched into the Hugging Face
    cache only if missing and ``download``) or a ``save_pretrained`` folder; see
    :mod:`core.models.hf`. Its weights are read from safetensors only.
    """
    if _is_hf(name):
        if weights not in ("default", None):
            raise SettingsError(f"weights={weights!r}: a Hugging Face model brings its own weights "
                                "('default'), or None for random ones")
        return hf.load_hf(name, device=device, download=download, pretrained=weights is not None)
    entry = _entry(name)
    spec = get_spec(name)
    if weights is None:
        n = num_classes or len(spec.categories) or 400
        if len(spec.categories) != n:
            spec = replace(spec, categories=tuple(f"class {i}" for i in range(n)))
        model = entry.build(n)
    elif isinstance(weights, (str, Path)) and str(weights).endswith((".safetensors", ".json")):
        state, meta = load_checkpoint(weights)
        spec = _spec_from_meta(spec, meta)
        model = entry.build(len(spec.categories))
        _load_state(model, state, weights)
    elif weights == "default" and entry.checkpoint:
        path = CHECKPOINT_DIR / f"{entry.checkpoint}.safetensors"
        if not path.is_file():
            raise WeightsError(
                f"the shipped checkpoint {path} is missing. Restore it with `git checkout -- checkpoints/` "
                f"or retrain it (see README, 'Training'). {entry.spec.weights_hint}"
            )
        return load_model(name, weights=path, device=device)
    elif weights == "imagenet" or (weights == "default" and name == "i3d_resnet50"):
        if name != "i3d_resnet50":
            raise SettingsError(f"weights='imagenet' is for i3d_resnet50, not {name}")
        spec = replace(spec, categories=_imagenet_categories())
        model = entry.build(1000)
        state2d = load_hub_state_dict(entry.weights_url, name=name, download=download)
        model.load_state_dict(inflate_state_dict(state2d, model))
    elif weights == "default":
        model = entry.build(len(spec.categories))
        _load_state(model, load_hub_state_dict(entry.weights_url, name=name, download=download), name)
    elif isinstance(weights, (str, Path)) and Path(weights).is_file():
        model = entry.build(len(spec.categories))
        _load_state(model, read_torch_file(weights), weights)
    else:
        raise WeightsError(
            f"weights={weights!r} is neither 'default', 'imagenet', None, nor an existing file"
        )
    model.spec = spec
    return model.eval().to(device)


def _load_state(model: nn.Module, state: dict, source) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise WeightsError(f"weights from {source} do not fit this architecture: {e}") from e


def add_model_arguments(parser, *, default: str | None = DEFAULT_MODEL) -> None:
    """``--model NAME`` and ``--weights WHICH`` for a command line (the CLI, evaluate, samples)."""
    parser.add_argument("--model", default=default, metavar="NAME",
                        help=f"a registered model ({', '.join(list_models())}), a Hugging Face Hub id "
                             "(org/name) or a save_pretrained folder (default: "
                             f"{default or DEFAULT_MODEL})")
    parser.add_argument("--weights", default="default",
                        help="'default', 'imagenet' (i3d_resnet50), or a checkpoint path")
