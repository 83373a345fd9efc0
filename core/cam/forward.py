"""Forward to the layer, then maps for these rows: the one CAM path every caller goes through.

:func:`forward_to_layer` runs a batch of model inputs (B, C, T, H, W) up to the target layer and
returns a :class:`LayerForward`: the logits with the autograd graph *after* the layer, and that
layer's output captured as a leaf (:func:`core.cam.hooks.capture_activation`). A model may offer
``logits_from_layer(layer)`` (TimeSformer's and ViViT's class-token head,
:mod:`core.models.hf_heads`): then the forward pass stops at the layer and that function makes the
logits, so the graph kept is the head's, much smaller than the last block's. ``amp`` runs the
forward pass under bf16 autocast on CUDA.

:meth:`LayerForward.gradients` gives, for any rows ``(class, minus)`` (the logit of ``class``,
or ``class`` minus ``minus``), the gradients of every clip of the batch in one batched
vector-Jacobian product; :func:`cam_maps` turns activations and gradients into raw maps and maps
in [0, 1]. :class:`core.Explainer` (one clip, graph kept for more classes) and the whole-video
timeline (batches of windows, graph freed after its rows) both call these. A method that needs
no layer (:mod:`core.attribution`'s) has its maps put on the input by :func:`attribution_maps`,
scaled the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SettingsError
from .hooks import capture_activation, frozen
from .layouts import to_cthw
from .methods import cam_from_gradients
from .registry import method_entry
from .settings import Normalize, Settings

__all__ = ["LayerForward", "attribution_maps", "batched_vjp", "cam_maps", "forward_to_layer", "upsample_and_normalise"]

Row = tuple[int, int | None]  # (class, minus): the logit of class, or class minus another's


@dataclass
class LayerForward:
    """One forward pass of a batch up to a layer: what every map of that batch is computed from."""

    logits: torch.Tensor  # (B, num_classes), with the graph after the layer until dropped
    activation: torch.Tensor  # the layer's output as it returns it (a leaf), batch of B
    layer: str  # the layer's name, for error messages
    layout: str  # how to read it as (B, C, t, h, w): see core.cam.layouts
    grid: tuple[int, int, int] | None  # the (t, h, w) of a token layout, when known
    input_size: tuple[int, ...]  # (T, H, W) of the model input
    forward_ms: float

    def activation_cthw(self) -> torch.Tensor:
        """(B, C, t, h, w): the layer's output, detached."""
        return to_cthw(self.activation.detach(), self.layout, self.layer, self.grid)

    def gradients(self, rows: Sequence[Row], *, keep_graph: bool) -> torch.Tensor:
        """(K, B, C, t, h, w): the gradients of each of the K ``rows`` for every clip of the batch,
        in one batched vector-Jacobian product. ``keep_graph`` keeps the graph for more rows later
        (the Explainer); otherwise it is freed when this returns (the timeline)."""
        logits = self.logits
        onehot = torch.zeros(len(rows), *logits.shape, device=logits.device, dtype=logits.dtype)
        for r, (i, minus) in enumerate(rows):
            onehot[r, :, i] = 1
            if minus is not None:
                onehot[r, :, minus] -= 1
        g = batched_vjp(logits, self.activation, onehot, keep_graph=keep_graph)  # (K, B, *layer output)
        # (K, B, *layer output) => (K * B, C, t, h, w) => (K, B, C, t, h, w)
        return to_cthw(g.detach().flatten(0, 1), self.layout, self.layer, self.grid).unflatten(0, (len(rows), -1))

    def gradients_per_clip(self, classes: Sequence[Sequence[int | None]], *, keep_graph: bool) -> torch.Tensor:
        """(K, B, C, t, h, w): row ``j`` holds, for clip ``b``, the gradient of the logit of class
        ``classes[j][b]`` (zeros where it is None). A clip's logits depend on that clip alone, so a
        row can ask each clip for another class: K is the most classes one clip wants, not how many
        the batch wants in all (the timeline: each window its own top classes). One scalar
        backward pass a row."""
        logits, last = self.logits, len(classes) - 1
        grads = []
        for j, row in enumerate(classes):
            onehot = torch.zeros_like(logits)
            for b, c in enumerate(row):
                if c is not None:
                    onehot[b, c] = 1
            grads.append(_vjp(logits, self.activation, onehot, keep_graph=keep_graph or j < last))
        g = torch.stack(grads)  # (K, B, *layer output)
        return to_cthw(g.detach().flatten(0, 1), self.layout, self.layer, self.grid).unflatten(0, (len(classes), -1))


def forward_to_layer(model: nn.Module, x: torch.Tensor, layer: nn.Module, layer_name: str, *,
                     spec=None, amp: bool = False) -> LayerForward:
    """Run ``model`` on the batch ``x`` (B, C, T, H, W), capturing ``layer``'s output; see the
    module doc. ``spec`` (a :class:`core.ModelSpec`) says the layer's layout and token grid
    (default: channels first). Raises :class:`SettingsError` when the layer does not run or its
    output is not a video layer's."""
    t0 = time.perf_counter()
    autocast = torch.autocast(x.device.type, dtype=torch.bfloat16) if amp and x.device.type == "cuda" else nullcontext()
    head = _head(model, layer)
    with frozen(model), autocast:
        if head is None:  # autograd records the graph after the layer as the model runs
            with torch.enable_grad(), capture_activation(model, layer) as store:
                logits = model(x)
        else:  # the model runs up to the layer; the head computes the logits from there
            with torch.no_grad(), capture_activation(model, layer, stop=True) as store:
                model(x)
            if "activation" in store:
                with torch.enable_grad():
                    logits = head(store["activation"])
    act = store.get("activation")
    if act is None:
        raise SettingsError(f"layer {layer_name!r} did not run in the forward pass; pick another layer")
    layout = spec.layout if spec is not None else "channels_first"
    # the token grid: as the layer returned it (MViT), else as the model declares it (HF models)
    grid = store.get("grid") or (spec.token_grid if spec is not None else None)
    to_cthw(act.detach(), layout, layer_name, grid)  # checks the shape now, before any gradient
    if logits.dim() != 2 or logits.shape[0] != x.shape[0]:
        raise ValueError(f"model returned shape {tuple(logits.shape)}; expected ({x.shape[0]}, num_classes) logits")
    return LayerForward(logits, act, layer_name, layout, grid, tuple(x.shape[2:]), (time.perf_counter() - t0) * 1e3)


def _head(model: nn.Module, layer: nn.Module):
    """The model's ``logits_from_layer(layer)`` when it offers one: logits from the layer's output."""
    offer = getattr(model, "logits_from_layer", None)
    return offer(layer) if callable(offer) else None


def batched_vjp(outputs: torch.Tensor, inputs: torch.Tensor, rows: torch.Tensor, *, keep_graph: bool) -> torch.Tensor:
    """(K, *inputs.shape): the vector-Jacobian product of ``outputs`` for each of the K ``rows``
    (each shaped like ``outputs``), in one batched call, or one call per row where some op has no
    batching rule. ``keep_graph`` keeps the graph for more products later.

    The batched call always keeps the graph: it can fail half-way through the backward pass, and
    the rows must then run on a graph whose saved tensors are still there. The graph is freed
    when the caller drops ``outputs``, as it would be after ``retain_graph=False``.

    One row is the gradient of the scalar ``(row * outputs).sum()`` (the same product): torch's
    check of a given ``grad_outputs`` imports sympy on first use (about 1 s, most of a one-class
    ``python -m core explain``), and a scalar needs none."""
    if len(rows) == 1:
        return _vjp(outputs, inputs, rows[0], keep_graph=keep_graph).unsqueeze(0)
    try:
        (g,) = torch.autograd.grad(outputs, inputs, rows, retain_graph=True, is_grads_batched=True)
    except RuntimeError:  # some ops have no batching rule: one product per row
        last = len(rows) - 1
        g = torch.stack([_vjp(outputs, inputs, r, keep_graph=keep_graph or k < last) for k, r in enumerate(rows)])
    return g


def _vjp(outputs: torch.Tensor, inputs: torch.Tensor, row: torch.Tensor, *, keep_graph: bool) -> torch.Tensor:
    """One vector-Jacobian product, as the gradient of the scalar ``(row * outputs).sum()``."""
    scalar = (outputs * row.to(outputs.dtype)).sum()
    return torch.autograd.grad(scalar, inputs, retain_graph=keep_graph)[0]


def cam_maps(act: torch.Tensor, grads: torch.Tensor, settings: Settings, size: tuple[int, ...], *,
             normalize: Normalize | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, C, t, h, w) activations and (K, B, C, t, h, w) gradients -> (raw maps (B, K, t, h, w)
    after ReLU, maps (B, K, *size) in [0, 1], (B, K, size[0]) share of mass per frame), by
    ``settings``' method and pooling; ``normalize`` (default ``settings.normalize``) scales each
    map per clip or per frame."""
    raw = torch.stack([cam_from_gradients(act[b], grads[:, b], settings.method, settings.pooling)
                       for b in range(act.shape[0])])
    maps, importance = upsample_and_normalise(raw.flatten(0, 1), size, normalize or settings.normalize)
    return raw, maps.unflatten(0, raw.shape[:2]), importance.unflatten(0, raw.shape[:2])


def upsample_and_normalise(raw: torch.Tensor, size: tuple[int, ...], normalize: Normalize) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, t, h, w) raw maps -> ((K, T, H, W) maps in [0, 1], (K, T) share of mass per frame)."""
    if raw.shape[1] == size[0]:
        # The layer kept every time step (I3D): trilinear would weight each frame by exactly 1,
        # so per-frame bilinear gives the same numbers, 3-8x faster on CPU.
        up = F.interpolate(raw, size=size[1:], mode="bilinear", align_corners=False)
    else:  # trilinear: the time axis is interpolated too when the layer's t is shorter than T
        up = F.interpolate(raw.unsqueeze(1), size=size, mode="trilinear", align_corners=False)[:, 0]
    up = up.clamp_(min=0)
    mass = up.sum((-2, -1))
    importance = mass / mass.sum(-1, keepdim=True).clamp_min(1e-12)
    dims = (-3, -2, -1) if normalize == Normalize.CLIP else (-2, -1)
    lo = up.amin(dims, keepdim=True)
    hi = up.amax(dims, keepdim=True)
    flat = ~(hi > lo)  # constant (or NaN) maps become all zeros
    maps = up.sub_(lo).div_((hi - lo).clamp_min_(1e-12))  # in place: `up` is not needed any more
    if flat.any():
        maps.masked_fill_(flat, 0.0)
    return maps, importance


def attribution_maps(explainer, x: torch.Tensor, targets, settings: Settings, *, progress=None, cancel=None,
                     run=None, classified: bool = True):
    """The maps of a method that needs no layer (:mod:`core.attribution`'s): (raw maps (K, t, h, w)
    on the method's grid, maps (K, T, H, W) in [0, 1] on the model input, (K, T) share of mass per
    frame, info) for the K ``targets`` of the model input ``x`` (1, C, T, H, W), by a resolved
    ``settings`` (:func:`core.cam.registry.resolve`). ``run``: the method's ``classify`` pass,
    which predicted the classes; ``classified``: whether a forward pass predicted them for this
    call (False: the Explainer's cache had them)."""
    entry = method_entry(settings.method)
    params = settings.perturbation
    own = {"run": run} if run is not None else {}
    raw, info = entry.run(explainer, x, targets, params, progress=progress, cancel=cancel, **own)
    size = tuple(x.shape[2:])
    # a method may say how its grid lies on the input (occlusion: its cells repeated over their
    # pixels, exactly captum's map); every other grid is interpolated as Grad-CAM's layer grid is
    on_input = entry.on_input(raw, params, size) if entry.on_input is not None else raw
    if not entry.class_agnostic:
        maps, importance = upsample_and_normalise(on_input.float(), size, settings.normalize)
    else:  # one map for every class (rollout): made once, and kept by its pass for more classes
        kept = getattr(run, "on_input", {})
        key = (size, settings.normalize)
        if key not in kept:
            kept[key] = upsample_and_normalise(on_input[:1].float(), size, settings.normalize)
        maps, importance = (t.expand(len(raw), *t.shape[1:]).clone() for t in kept[key])
    info = {**info, "forward_passes": info["forward_passes"] + int(classified)}  # + the one that predicted the classes
    return raw.float(), maps, importance, info
