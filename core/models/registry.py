"""The registry of models: families register their builders here, callers look them up by name.

A family registers itself where it is defined, as torchvision's ``@register_model`` does
(:mod:`core.models.i3d`, :mod:`core.models.torchvision_video`, :mod:`core.models.hf`), so adding
a family is adding one file (see ``docs/extending.md``)::

    @register_model(spec=ModelSpec(name="tiny_conv", ...))
    def tiny_conv(*, num_classes: int) -> nn.Module: ...

The registry itself imports no family: a spec or a weights URL may be a zero-argument function,
called once on first use, so a family whose classes live in a heavy package registers without
importing it. Names that are not registered (a Hugging Face Hub id, a folder) go to a
:class:`ModelSource` that claims them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import torch
from torch import nn

from ..errors import SettingsError, UnknownModelError
from .measured import apply_measured
from .spec import ModelSpec
from .weights import (
    CHECKPOINT_DIR,
    WeightsError,
    hub_file,
    load_checkpoint,
    load_hub_state_dict,
    read_torch_file,
)

__all__ = [
    "DEFAULT_MODEL", "ModelEntry", "ModelSource", "UnknownModelError", "add_model_arguments", "get_spec",
    "list_models", "load_model", "register_model", "register_source", "weights_status",
]

DEFAULT_MODEL = "i3d_tiny14"


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: how to build it, its spec, and where its default weights come from."""

    name: str
    build: Callable[..., nn.Module]  # build(num_classes=n): the architecture, random weights
    make_spec: Callable[[], ModelSpec]  # called once, on first use
    weights_url: Callable[[], str | None]  # a torch hub file for weights="default", or None
    checkpoint: str | None = None  # a project checkpoint stem in checkpoints/ for weights="default"
    convert: Callable[[dict, nn.Module], dict] | None = None  # the hub file's state dict -> this model's
    weights_alias: str | None = None  # another name for weights="default" (i3d_resnet50: "imagenet")

    @property
    def spec(self) -> ModelSpec:
        return self.make_spec()


@dataclass(frozen=True)
class ModelSource:
    """Models named by something other than a registered name (a Hub id, a folder)."""

    describe: str  # for messages: "a Hugging Face Hub id (org/name) or a save_pretrained folder"
    claims: Callable[[str], bool]
    spec: Callable[[str], ModelSpec]
    load: Callable[..., nn.Module]  # load(name, *, weights, device, download)
    status: Callable[[str], tuple[bool, str]]


_MODELS: dict[str, ModelEntry] = {}
_SOURCES: list[ModelSource] = []


def _once(value):
    return cache(value) if callable(value) else (lambda: value)


def register_model(name: str | None = None, *, spec: ModelSpec | Callable[[], ModelSpec],
                   weights_url: str | Callable[[], str] | None = None, checkpoint: str | None = None,
                   convert: Callable[[dict, nn.Module], dict] | None = None,
                   weights_alias: str | None = None):
    """Decorator: register ``build(*, num_classes) -> nn.Module`` under ``name`` (default: the
    function's name), and return it unchanged.

    ``spec``: the model's :class:`ModelSpec`, or a function returning it (called once, on first
    use). Default weights (``load_model(name)``) come from ``checkpoint`` (``checkpoints/NAME.safetensors``
    with its JSON) or from the torch hub file ``weights_url`` (passed through ``convert``, if
    given); a model with neither loads with ``weights=None`` or a checkpoint path only.
    """

    def add(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or build.__name__
        if key in _MODELS:
            raise ValueError(f"a model named {key!r} is already registered")
        _MODELS[key] = ModelEntry(key, build, _once(spec), _once(weights_url), checkpoint, convert, weights_alias)
        return build

    return add


def register_source(source: ModelSource) -> ModelSource:
    """Register a :class:`ModelSource` for names no model is registered under."""
    _SOURCES.append(source)
    return source


def list_models() -> list[str]:
    """Registered model names, the shipped default first."""
    return [n for n in (DEFAULT_MODEL,) if n in _MODELS] + sorted(n for n in _MODELS if n != DEFAULT_MODEL)


def _source(name: str) -> ModelSource | None:
    if name in _MODELS:
        return None
    return next((s for s in _SOURCES if s.claims(name)), None)


def _find(name: str) -> ModelSource | ModelEntry:
    """The registered model called ``name``, else the source that claims it."""
    found = _MODELS.get(name) or _source(name)
    if found is None:
        others = "".join(f", or give {s.describe}" for s in _SOURCES)
        raise UnknownModelError(f"unknown model {name!r}; choose one of {', '.join(list_models())}{others}")
    return found


def get_spec(name: str = DEFAULT_MODEL) -> ModelSpec:
    """The spec of a registered model (for a model with a shipped checkpoint, from the
    checkpoint's JSON when present), or of a model a registered source claims (for Hugging Face:
    a folder, or a Hub id in the cache)."""
    entry = _find(name)
    if isinstance(entry, ModelSource):
        return entry.spec(name)
    spec = entry.spec
    if entry.checkpoint:
        meta_path = CHECKPOINT_DIR / f"{entry.checkpoint}.json"
        if meta_path.is_file():
            spec = _spec_from_meta(spec, json.loads(meta_path.read_text()))
    return apply_measured(spec)


def weights_status(name: str) -> tuple[bool, str]:
    """(available offline, where or how to get them) for ``weights='default'``."""
    entry = _find(name)
    if isinstance(entry, ModelSource):
        return entry.status(name)
    if entry.checkpoint:
        path = CHECKPOINT_DIR / f"{entry.checkpoint}.safetensors"
        return path.is_file(), str(path) if path.is_file() else f"missing: {entry.spec.weights_hint}"
    if entry.weights_url() is None:
        return False, f"{name} has no default weights: give a checkpoint path"
    path = hub_file(entry.weights_url())
    if path.is_file():
        return True, str(path)
    return False, f"not downloaded: `python -m core download {name}` (needs internet) puts them in {path}"


def _spec_from_meta(spec: ModelSpec, meta: dict) -> ModelSpec:
    """``spec`` with what a checkpoint's JSON says (its classes, input and sampling), and the record."""
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
    return replace(spec, **fields, checkpoint=meta)


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
    entry = _find(name)
    if isinstance(entry, ModelSource):
        return entry.load(name, weights=weights, device=device, download=download)
    spec = get_spec(name)
    if weights is not None and weights == entry.weights_alias:
        weights = "default"
    if weights is None:
        n = num_classes or len(spec.categories) or 400
        spec = replace(spec, checkpoint=None)  # random weights: the shipped checkpoint's record is not theirs
        if len(spec.categories) != n:
            spec = replace(spec, categories=tuple(f"class {i}" for i in range(n)))
        model = entry.build(num_classes=n)
    elif isinstance(weights, (str, Path)) and str(weights).endswith((".safetensors", ".json")):
        state, meta = load_checkpoint(weights)
        spec = _spec_from_meta(spec, meta)
        model = entry.build(num_classes=len(spec.categories))
        _load_state(model, state, weights)
    elif weights == "default" and entry.checkpoint:
        path = CHECKPOINT_DIR / f"{entry.checkpoint}.safetensors"
        if not path.is_file():
            raise WeightsError(
                f"the shipped checkpoint {path} is missing. Restore it with `git checkout -- checkpoints/` "
                "or retrain it (see docs/training.md, 'Reproduce the shipped models'). "
                f"{entry.spec.weights_hint}"
            )
        return load_model(name, weights=path, device=device)
    elif weights == "default" and entry.weights_url() is not None:
        model = entry.build(num_classes=len(spec.categories))
        state = load_hub_state_dict(entry.weights_url(), name=name, download=download)
        _load_state(model, entry.convert(state, model) if entry.convert else state, name)
    elif weights == "default":
        raise WeightsError(f"{name} has no default weights; give weights=None (random) or a checkpoint path")
    elif owners := [e.name for e in _MODELS.values() if e.weights_alias and e.weights_alias == weights]:
        raise SettingsError(f"weights={weights!r} is for {', '.join(owners)}, not {name}")
    elif isinstance(weights, (str, Path)) and Path(weights).is_file():
        spec = replace(spec, checkpoint=None)  # a torchvision file: no project record
        model = entry.build(num_classes=len(spec.categories))
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
    others = "".join(f", {s.describe}" for s in _SOURCES)
    parser.add_argument("--model", default=default, metavar="NAME",
                        help=f"a registered model ({', '.join(list_models())}){others} (default: "
                             f"{default or DEFAULT_MODEL})")
    parser.add_argument("--weights", default="default",
                        help="'default', 'imagenet' (i3d_resnet50), or a checkpoint path")
