"""How far a clip lies from a model's training data: a warning that an answer means little.

A model trained on 13 rendered actions still gives a confident class for a street scene; nothing
in its scores says the clip is unlike anything it saw. A shipped checkpoint therefore carries,
in its JSON (``feature_stats``, written by ``python -m lab.familiarity fit``, which ``lab.train
--export`` also runs), statistics of its features over its training clips: for each of its
offered layers (``spec.layers``, pooled over time and space) and for the input of its classifier
head, each class's mean and one shared covariance.

Every explanation measures the clip's **Mahalanobis distance** to the nearest class mean at each
layer (Lee et al., NeurIPS 2018, "A simple unified framework for detecting out-of-distribution
samples and adversarial attacks", who also found the early layers' statistics to catch what the
last layer misses), combines the layers (:class:`FeatureStats`), and turns the result into a
**percentile of held-out clips' distances** (the validation split the checkpoint was calibrated
on: 50 means half of the model's own held-out clips lie farther). Above ``warn_percentile`` (99
by default) the clip is *unfamiliar*: the page, the CLI, ``result.json`` and the API say "this
clip is unlike anything the model was trained on: its answer and heatmap mean little". How often
it warns on the test split, on unfamiliar renders and on real footage is measured in
``docs/familiarity.md``.

The features come from the forward pass the explanation runs anyway (hooks that pool each
layer's output, removed in ``finally``); a model without ``feature_stats`` (Hub and torchvision
models) gets no verdict rather than a guess.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .errors import SettingsError

__all__ = ["UNFAMILIAR_MESSAGE", "Familiarity", "FeatureStats", "capture_features", "encode_array"]

UNFAMILIAR_MESSAGE = "this clip is unlike anything the model was trained on: its answer and heatmap mean little"


def encode_array(a: np.ndarray) -> str:
    """float32 little-endian bytes of ``a``, base64: how ``feature_stats`` keeps its matrices."""
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _decode(text: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(shape).astype(np.float64)


@dataclass(frozen=True)
class Familiarity:
    """Where one clip lies against the training data's features."""

    distance: float  # the largest layer's squared distance over its scale (1: the held-out clips' 99th percentile)
    percentile: float  # share (0-100) of the held-out calibration clips that lie nearer
    unfamiliar: bool  # percentile above the checkpoint's warn_percentile
    warn_percentile: float
    nearest_class: str
    layer: str = ""  # the layer where the clip is farthest out of line

    @property
    def message(self) -> str:
        """A line for people: the warning, or how typical the clip is."""
        if self.unfamiliar:
            return (f"Warning: {UNFAMILIAR_MESSAGE} (its features at {self.layer} lie farther from the training data "
                    f"than those of {self.percentile:.1f}% of the model's own held-out clips).")
        return (f"Familiar: the clip lies nearer the training data than {100 - self.percentile:.0f}% of the "
                "model's held-out clips.")

    def to_dict(self) -> dict:
        return {"distance": round(self.distance, 3), "percentile": round(self.percentile, 2),
                "unfamiliar": self.unfamiliar, "warn_percentile": self.warn_percentile,
                "nearest_class": self.nearest_class, "layer": self.layer, "message": self.message}


@dataclass(frozen=True)
class _Layer:
    name: str  # a layer of spec.layers (its pooled output), "head" (the classifier's input) or "logits"
    means: np.ndarray  # (K, D)
    precision: np.ndarray  # (D, D): the inverse of the shared covariance
    scale: float  # the held-out clips' 99th percentile of this layer's squared distance per dimension

    def squared(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(squared Mahalanobis distance per dimension to the nearest class mean (N,), that class (N,))."""
        diff = f[:, None, :] - self.means[None]  # (N, K, D)
        d2 = np.einsum("nkd,de,nke->nk", diff, self.precision, diff) / f.shape[1]
        return d2.min(1), d2.argmin(1)


@dataclass(frozen=True)
class FeatureStats:
    """The training data's features, from a checkpoint's ``feature_stats`` record: for each layer
    (the pooled outputs of ``spec.layers``, the head's input, and the logits), each class's mean and
    a shared covariance. At each layer a clip's squared Mahalanobis distance to the nearest class
    mean, per dimension, is divided by the layer's ``scale`` (where the held-out clips' 99th
    percentile lies); the clip's ``distance`` is the largest of these, so that one layer far out of
    line is enough: the early layers see colour and texture, the head what the classes differ in,
    the logits how peaked the answer is (a flat answer is what a clip of none of the classes gets)."""

    layers: tuple[_Layer, ...]
    categories: tuple[str, ...]
    quantiles: np.ndarray  # (Q,) distances of the held-out clips at evenly spaced percentiles 0..100
    warn_percentile: float

    @classmethod
    def from_record(cls, record: Mapping, categories) -> FeatureStats:
        k = int(record["classes"])
        layers = tuple(_Layer(str(r["name"]), _decode(r["means"], (k, int(r["dim"]))),
                              _decode(r["precision"], (int(r["dim"]), int(r["dim"]))), float(r.get("scale", 1.0)))
                       for r in record["layers"])
        return cls(layers, tuple(categories), np.asarray(record["calibration_quantiles"], dtype=np.float64),
                   float(record.get("warn_percentile", 99.0)))

    @classmethod
    def of(cls, spec) -> FeatureStats | None:
        """The statistics a model's spec carries in its checkpoint record, or None."""
        record = (getattr(spec, "checkpoint", None) or {}).get("feature_stats") if spec is not None else None
        return cls.from_record(record, spec.categories) if record else None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(layer.name for layer in self.layers)

    def distances(self, features: Mapping[str, torch.Tensor | np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(distance (N,), the nearest class at the head (N,)) for each layer's features (N, D)."""
        rows, nearest = self.per_layer(features)
        return rows.max(0), nearest

    def per_layer(self, features: Mapping[str, torch.Tensor | np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(each layer's squared distance per dimension over its scale (L, N), the nearest class
        at the head, or at the last layer without one (N,))."""
        rows, nearest = [], None
        for layer in self.layers:
            f = features[layer.name]
            f = np.asarray(f.detach().double().cpu() if torch.is_tensor(f) else f, dtype=np.float64)
            d2, near = layer.squared(f)
            rows.append(d2 / layer.scale)
            if nearest is None or layer.name == "head":
                nearest = near
        return np.stack(rows), nearest

    def percentile(self, distance: float) -> float:
        """Share (0-100) of the calibration clips whose distance is below ``distance``."""
        q = self.quantiles
        return float(np.interp(distance, q, np.linspace(0, 100, len(q)), left=0.0, right=100.0))

    def judge(self, features: Mapping[str, torch.Tensor]) -> Familiarity | None:
        """The verdict for one clip's features (each (1, D)); None if a layer's are missing."""
        if any(name not in features or features[name].numel() != layer.means.shape[1]
               for name, layer in zip(self.names, self.layers, strict=True)):
            return None  # a layer missing, or not the network the statistics were taken of
        rows, nearest = self.per_layer({k: v.reshape(1, -1) for k, v in features.items()})
        dist = rows.max(0)
        p = self.percentile(float(dist[0]))
        # beyond the farthest held-out clip the percentile is 100: unfamiliar however it is rounded
        unfamiliar = p > self.warn_percentile or float(dist[0]) > float(self.quantiles[-1])
        name = self.categories[int(nearest[0])] if int(nearest[0]) < len(self.categories) else str(int(nearest[0]))
        return Familiarity(float(dist[0]), p, unfamiliar, self.warn_percentile, name, self.names[int(rows[:, 0].argmax())])


def _pooled(output, spec, name: str) -> torch.Tensor | None:
    """A layer's output averaged over time and space: (B, C), or None if it is not a video layer's."""
    from .cam.hooks import split_output
    from .cam.layouts import to_cthw

    tensor, _, grid = split_output(output)
    if not torch.is_tensor(tensor):
        return None
    try:
        cthw = to_cthw(tensor.detach(), spec.layout, name, grid or spec.token_grid)
    except (SettingsError, ValueError, RuntimeError):  # not a video layer's map: no statistics from it
        return None
    return cthw.float().mean(dim=(2, 3, 4)).cpu()


@contextmanager
def capture_features(model: nn.Module, spec, names: tuple[str, ...] | None = None) -> Iterator[dict]:
    """Within the block, each named layer's pooled output (B, C), the classifier head's input (B, D)
    as ``"head"`` and its output as ``"logits"`` land in the yielded dict, detached, on the CPU.
    ``names``: which (default: all of them); an empty tuple captures nothing. Every hook is removed in
    ``finally``."""
    store: dict = {}
    names = (*spec.layers, "head", "logits") if names is None and spec is not None else (names or ())
    handles = []
    try:
        for name in names:
            path = spec.head if name in ("head", "logits") else spec.layer_paths.get(name, name)
            try:
                module = model.get_submodule(path) if path else None
            except AttributeError:
                module = None
            if module is None:
                continue
            if name == "head":
                def pre(_mod, args, _name=name):
                    if args and torch.is_tensor(args[0]):
                        store[_name] = args[0].detach().float().flatten(1).cpu()
                handles.append(module.register_forward_pre_hook(pre))
            elif name == "logits":
                def out(_mod, _args, output, _name=name):
                    if torch.is_tensor(output):
                        store[_name] = output.detach().float().flatten(1).cpu()
                handles.append(module.register_forward_hook(out))
            else:
                def post(_mod, _args, output, _name=name):
                    pooled = _pooled(output, spec, _name)
                    if pooled is not None:
                        store[_name] = pooled
                handles.append(module.register_forward_hook(post))
        yield store
    finally:
        for h in handles:
            h.remove()
