"""Hugging Face video classifiers (VideoMAE, TimeSformer, ViViT) as models like any other.

``load_hf("MCG-NJU/videomae-base-finetuned-ssv2")`` or ``load_hf("path/to/save_pretrained_dir")``
returns an ``nn.Module`` that takes the project's ``(N, C, T, H, W)`` clips, returns logits, and
carries a :class:`ModelSpec` built from the model's own files: classes from ``config.id2label``,
frames and sizes from the config, resizing, crop and normalisation from
``preprocessor_config.json`` when it is there (else the family's defaults below), and the token
layout of its encoder blocks, so Grad-CAM maps land on the right frames and patches.

Safety: weights are read from ``*.safetensors`` only; a model with only ``pytorch_model.bin`` (a
pickle, which can run code when loaded) is refused. Remote code is never trusted. Nothing is
downloaded unless the caller asks (``download=True``, as ``python -m core download`` does).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from ..errors import SettingsError, UnknownModelError, WeightsError
from .hf_heads import class_token_head
from .measured import apply_measured
from .registry import ModelSource, register_source
from .spec import IMAGENET_MEAN, IMAGENET_STD, Layout, ModelSpec

__all__ = ["HFVideoClassifier", "hf_spec", "is_hf_source", "load_hf", "resolve_hf"]

# What the Hub download fetches: configs and safetensors, never a pickle.
_ALLOW = ["config.json", "preprocessor_config.json", "*.safetensors", "*.safetensors.index.json"]


@dataclass(frozen=True)
class _Family:
    """How one architecture lays out its tokens, and its preprocessing when the files don't say."""

    encoder: tuple[str, ...]  # module paths the list of encoder blocks has had across versions
    layout: Layout
    last_block_ok: bool  # False: the head reads a class token after the last block, whose own
    # patch tokens then get no gradient; the default layer is the last block's input instead
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: int  # short side before the centre crop


_FAMILIES = {
    # VideoMAE: tubelets of (tubelet_size, patch, patch), tokens in (t, h, w) order, no class
    # token; the head mean-pools every token (use_mean_pooling), so the last block works.
    "videomae": _Family(("videomae.encoder.layer", "videomae.layers"), Layout.TOKENS, True, IMAGENET_MEAN, IMAGENET_STD, 224),
    # TimeSformer: a class token, then patch tokens in (h, w, t) order; the head reads the class
    # token after the last block.
    "timesformer": _Family(("timesformer.encoder.layer", "timesformer.layers"), Layout.TOKENS_HWT, False, (0.45,) * 3, (0.225,) * 3, 224),
    # ViViT: tubelets, a class token, then (t, h, w); the head reads the class token.
    "vivit": _Family(("vivit.encoder.layer", "vivit.layers"), Layout.TOKENS, False, (0.5,) * 3, (0.5,) * 3, 256),
}


def is_hf_source(name: str) -> bool:
    """A directory in the ``save_pretrained`` layout, or something shaped like a Hub id."""
    if os.path.isdir(name):
        return True
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/"))


def resolve_hf(source: str, *, download: bool = False) -> Path:
    """The local folder holding ``source``'s files: the directory itself, or the Hub id's snapshot
    in the Hugging Face cache (fetched first when ``download`` and it is not cached)."""
    if os.path.isdir(source):
        path = Path(source)
        if not (path / "config.json").is_file():
            raise UnknownModelError(f"{source} is a directory without config.json; give a folder "
                                    "written by save_pretrained, a registered model or a Hub id")
        return path
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        return Path(snapshot_download(source, allow_patterns=_ALLOW,
                                      local_files_only=offline or not download))
    except LocalEntryNotFoundError:
        raise WeightsError(f"{source} is not in the local Hugging Face cache and {_not_fetched(source, offline, download)}") from None
    except HfHubHTTPError as e:
        raise WeightsError(f"{source}: the Hugging Face Hub says {e}; check the id") from None
    except HFValidationError:  # too long, odd characters: what the Hub itself would refuse
        raise UnknownModelError(f"{source[:60]!r}{'...' if len(source) > 60 else ''} is not a Hugging Face Hub id "
                                "(letters, digits, '-', '_' and '.', 96 characters at most, as owner/name)") from None


def _not_fetched(source: str, offline: bool, download: bool) -> str:
    """Why ``source`` was not fetched, and what to do that is not what was just done."""
    elsewhere = ("or, on a machine that has it, save it with transformers' save_pretrained(folder) "
                 "and give that folder here instead of the id")
    if offline:
        return (f"HF_HUB_OFFLINE is set, so nothing is downloaded: fetch it with `HF_HUB_OFFLINE=0 python -m core "
                f"download {source}` (needs internet), {elsewhere}")
    if download:
        from huggingface_hub.constants import ENDPOINT

        return (f"could not be downloaded: no network ({ENDPOINT} could not be reached). Try again with "
                f"a connection, {elsewhere}")
    return (f"nothing is downloaded unless you ask: fetch it with `python -m core download {source}` "
            f"(needs internet), {elsewhere}")


def _safetensors_only(path: Path, source: str) -> None:
    if any(path.glob("*.safetensors")):
        return
    pickle = [p.name for p in path.glob("*.bin")] or ["no weights file at all"]
    raise WeightsError(
        f"{source} has no .safetensors weights ({', '.join(pickle)}). videocam reads safetensors "
        "only: a pytorch_model.bin is a pickle, which can run code when it is loaded. Use a "
        "version of the model that ships model.safetensors, or convert it once where you trust "
        "the file: load it with transformers and call save_pretrained(folder) (it writes "
        "safetensors), then pass that folder.")


def _family(config, source: str) -> _Family:
    family = _FAMILIES.get(config.model_type)
    if family is None:
        raise UnknownModelError(
            f"{source} is a {config.model_type!r} model; videocam explains the Hugging Face video "
            f"classifiers {', '.join(sorted(_FAMILIES))} (their tokens form a (t, h, w) grid)")
    return family


def _grid(config) -> tuple[int, int, int]:
    """(t, h, w) of the patch tokens at the model's own input size."""
    size = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    if config.model_type == "vivit":
        kt, kh, kw = config.tubelet_size
        return config.num_frames // kt, size // kh, size // kw
    kt = getattr(config, "tubelet_size", 1)
    return config.num_frames // kt, size // config.patch_size, size // config.patch_size


def _preprocessing(path: Path, family: _Family, crop: int) -> dict:
    """resize_size, input_size, mean and std from preprocessor_config.json, else the family's."""
    fields = {"resize_size": family.resize, "input_size": (crop, crop), "mean": family.mean,
              "std": family.std}
    file = path / "preprocessor_config.json"
    if not file.is_file():
        return fields
    pp = json.loads(file.read_text())
    size = pp.get("size") or {}
    if "shortest_edge" in size:
        fields["resize_size"] = int(size["shortest_edge"])
    elif "height" in size and "width" in size:
        fields["resize_size"] = (int(size["height"]), int(size["width"]))
    cs = pp.get("crop_size") or {}
    if pp.get("do_center_crop", True) and "height" in cs:
        fields["input_size"] = (int(cs["height"]), int(cs["width"]))
    # HF: r = x * rescale_factor - offset, then (r - m) / s, for x in 0..255; the engine feeds
    # p = x / 255 and computes (p - mean) / std, so mean = (offset + m) / k, std = s / k, k = 255 * rf.
    rf = float(pp.get("rescale_factor", 1 / 255)) if pp.get("do_rescale", True) else 1 / 255
    offset = 1.0 if pp.get("offset") else 0.0
    k = 255 * rf
    m = pp.get("image_mean", family.mean) if pp.get("do_normalize", True) else (0.0,) * 3
    s = pp.get("image_std", family.std) if pp.get("do_normalize", True) else (1.0,) * 3
    fields["mean"] = tuple((offset + float(v)) / k for v in m)
    fields["std"] = tuple(float(v) / k for v in s)
    return fields


def hf_spec(path: Path, source: str, config=None) -> ModelSpec:
    """The :class:`ModelSpec` of the Hugging Face model in ``path`` (named ``source``)."""
    if config is None:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    family = _family(config, source)
    n = config.num_hidden_layers
    layers = tuple(f"layer.{i}" for i in range(n))
    default = layers[-1] if family.last_block_ok or n < 2 else layers[-2]
    crop = config.image_size if isinstance(config.image_size, int) else config.image_size[0]
    id2label = getattr(config, "id2label", None) or {}
    categories = tuple(id2label.get(i, id2label.get(str(i), f"class {i}")) for i in range(config.num_labels))
    return apply_measured(ModelSpec(
        name=source, categories=categories, num_frames=config.num_frames,
        layers=layers, default_layer=default, layout=family.layout,
        description=f"Hugging Face {config.model_type} ({len(categories)} classes)",
        weights_hint=f"`python -m core download {source}` puts it in the Hugging Face cache",
        layer_paths=_layer_paths(family.encoder[0], n), token_grid=_grid(config), head="model.classifier",
        **_preprocessing(path, family, crop),
    ), config.model_type)


def _layer_paths(encoder: str, n: int) -> dict[str, str]:
    """The offered layer names (``layer.0`` ...) -> module paths inside :class:`HFVideoClassifier`."""
    return {f"layer.{i}": f"model.{encoder}.{i}" for i in range(n)}


class HFVideoClassifier(nn.Module):
    """A Hugging Face video classifier behind the project's interface: (N, C, T, H, W) in, logits out."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, C, T, H, W) => (N, T, C, H, W): what Hugging Face video models take as pixel_values
        return self.model(pixel_values=x.transpose(1, 2)).logits

    def logits_from_layer(self, layer: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
        """The logits as a function of ``layer``'s output, computing only what they depend on, or
        None. Offered for the default layer of TimeSformer and ViViT (the last block's input): see
        :mod:`core.models.hf_heads`. The CAM engine then stops the forward pass at the layer."""
        return class_token_head(self.model, layer)


def load_hf(source: str, *, device: str | torch.device = "cpu", download: bool = False,
            pretrained: bool = True) -> nn.Module:
    """Load a Hugging Face video classifier by Hub id or ``save_pretrained`` directory; see the
    module docstring. Returns the model in eval mode with ``.spec``. ``pretrained=False`` builds
    it from its config with random weights (tests, benchmarks)."""
    path = resolve_hf(source, download=download)
    from transformers import AutoConfig, AutoModelForVideoClassification

    config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    spec = hf_spec(path, source, config)
    if pretrained:
        _safetensors_only(path, source)
        model = AutoModelForVideoClassification.from_pretrained(path, use_safetensors=True,
                                                                trust_remote_code=False)
    else:
        model = AutoModelForVideoClassification.from_config(config, trust_remote_code=False)
    wrapped = HFVideoClassifier(model)
    family = _family(config, source)
    names = dict(model.named_modules())
    encoder = next((e for e in family.encoder if e in names), None)
    if encoder is None:
        raise UnknownModelError(f"{source}: no encoder blocks at {' or '.join(family.encoder)}; this "
                                "transformers version lays the model out differently")
    wrapped.spec = replace(spec, layer_paths=_layer_paths(encoder, len(spec.layers)))
    return wrapped.eval().to(device)


def _load(source: str, *, weights="default", device="cpu", download: bool = True) -> nn.Module:
    if weights not in ("default", None):
        raise SettingsError(f"weights={weights!r}: a Hugging Face model brings its own weights "
                            "('default'), or None for random ones")
    return load_hf(source, device=device, download=download, pretrained=weights is not None)


def _status(source: str) -> tuple[bool, str]:
    try:
        return True, str(resolve_hf(source))
    except WeightsError as e:
        return False, str(e)


register_source(ModelSource(
    describe="a Hugging Face Hub id (org/name) or a folder written by save_pretrained",
    claims=is_hf_source, spec=lambda source: hf_spec(resolve_hf(source), source), load=_load, status=_status))
