"""Capture a layer's activations for gradient-based CAMs, and put everything back afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import SettingsError

if TYPE_CHECKING:
    from ..models.spec import ModelSpec

__all__ = ["capture_activation", "evaluating", "frozen", "join_output", "resolve_layer", "split_output"]


def resolve_layer(model: nn.Module, layer: str | nn.Module | None,
                  spec: ModelSpec | None = None) -> tuple[str, nn.Module]:
    """(name, module) of the target layer: the one place a layer is checked (the Explainer, the
    timeline and the app all come here).

    ``layer``: a module of ``model``; a name, either one of ``spec.layers`` (an alias in
    ``spec.layer_paths``, ``"stage4"`` -> ``"features.6"``) or any module path of the model
    (``"layer4"``, ``"layer3.0.conv1"``); or ``None``: the spec's ``default_layer``. Anything else
    raises :class:`SettingsError` naming the model and its layers.
    """
    if isinstance(layer, nn.Module):
        for name, mod in model.named_modules():
            if mod is layer:
                return name or type(model).__name__, mod
        raise SettingsError("layer is a module that is not part of this model")
    if layer is None:
        if spec is None:
            raise SettingsError("this model has no spec; name the target layer with layer=")
        layer = spec.default_layer
    if not isinstance(layer, str):
        raise SettingsError(f"layer must be a layer name or an nn.Module, not {type(layer).__name__}")
    path = spec.layer_paths.get(layer, layer) if spec is not None else layer
    try:
        return layer, model.get_submodule(path)
    except AttributeError:
        if spec is not None:
            raise SettingsError(f"layer {layer!r} is not a layer of {spec.name}; its layers are "
                                f"{', '.join(spec.layers)}") from None
        names = [n for n, _ in model.named_children()]
        raise SettingsError(f"model has no layer {layer!r}; top-level layers are {names}") from None


def _is_grid(value) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 3 and all(isinstance(v, int) for v in value)


def split_output(output) -> tuple[object, tuple | None, tuple[int, int, int] | None]:
    """A layer's output as (its tensor, the rest of a tuple output or None, the (t, h, w) token
    grid it carries or None). A tensor layer gives ``(tensor, None, None)``; Hugging Face blocks
    return ``(tensor, ...)``; torchvision's MViT blocks ``(tokens, (t, h, w))``."""
    if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
        rest = output[1:]
        grid = tuple(int(v) for v in rest[0]) if rest and _is_grid(rest[0]) else None
        return output[0], rest, grid
    return output, None, None


def join_output(tensor: torch.Tensor, rest: tuple | None):
    """The inverse of :func:`split_output`: ``tensor`` put back in the layer's kind of output."""
    return tensor if rest is None else (tensor, *rest)


class _LayerReached(Exception):
    """Ends a forward pass at the captured layer (``capture_activation(..., stop=True)``)."""


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode for the ``with`` block, put back to training mode in ``finally`` if
    it was in it. A model already in eval mode is not touched: ``eval()`` and ``train()`` visit
    every submodule, about 1 ms for a 4-block transformer, a third of its forward pass."""
    was_training = model.training
    try:
        if was_training:
            model.eval()
        yield model
    finally:
        if was_training:
            model.train(True)


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode with every parameter's ``requires_grad`` off; the ``training`` flag
    and each ``requires_grad`` are put back in ``finally``, whether the body succeeds or raises."""
    flags = [(p, p.requires_grad) for p in model.parameters() if p.requires_grad]
    with evaluating(model):
        try:
            for p, _ in flags:
                p.requires_grad_(False)
            yield model
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)


@contextmanager
def capture_activation(model: nn.Module, layer: nn.Module, *, stop: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """Run the model :func:`frozen` (eval mode, parameters frozen), capturing ``layer``'s output.

    The forward hook swaps the layer's output for a fresh leaf tensor that requires grad, so the
    forward pass records an autograd graph only *after* the layer: ``torch.autograd.grad(logits,
    store["activation"])`` then costs one small vector-Jacobian product, with no parameter
    gradients and no backward through the layers before the target. (Module backward hooks are not
    used: they break on the in-place ReLUs of torchvision's video ResNets.)

    ``stop=True`` ends the forward pass right after the layer (the rest of the model does not
    run, and the ``with`` body is left at that point): for callers that compute what follows the
    layer themselves (a model's :meth:`logits_from_layer`).

    A layer that returns ``(tensor, (t, h, w), ...)`` (torchvision's MViT blocks) has its tensor
    captured and its token grid stored as ``store["grid"]``.

    The hook handle, the ``training`` flag and every parameter's ``requires_grad`` are restored
    in ``finally``, whether the body succeeds or raises.
    """
    store: dict = {}

    def hook(module: nn.Module, inputs, output):
        tensor, rest, grid = split_output(output)
        if grid is not None:
            store["grid"] = grid
        if not isinstance(tensor, torch.Tensor):
            raise SettingsError(f"the target layer {type(module).__name__} returns {type(tensor).__name__}; pick a layer that returns one tensor")
        leaf = tensor.detach().requires_grad_(True)
        store["activation"] = leaf
        if stop:
            raise _LayerReached
        # a tuple output goes back as a tuple of the same length; downstream in-place ops (e.g.
        # ReLU(inplace=True)) must not touch the leaf, so the model gets a clone
        return join_output(leaf.clone(), rest)

    with frozen(model):
        handle = layer.register_forward_hook(hook)
        try:
            yield store
        except _LayerReached:
            pass  # the forward pass ended at the layer, as asked
        finally:
            handle.remove()
