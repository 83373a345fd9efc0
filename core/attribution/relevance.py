"""Gradient-weighted attention relevance (Chefer, Gur & Wolf, "Generic Attention-model
Explainability for Interpreting Bi-Modal and Encoder-Decoder Transformers", ICCV 2021).

For a score y (a class logit, or logit A - logit B for a contrast), per attention layer l with
weights ``A_l`` (heads, q, k) and their gradient ``dA_l = dy/dA_l``:

    Ā_l = mean_heads((dA_l ⊙ A_l)^+)
    R  <- R + Ā_l R,   R = I before the first layer, layers in forward order
    map = v^T R, restricted to the patch tokens

so ``R = (I + Ā_L) ... (I + Ā_1)``, read from the class token (``v = e_cls``) or, for VideoMAE,
the mean over tokens (see :mod:`core.attribution.rollout`). TimeSformer's temporal and spatial
attention are two layers per block, temporal first, each with its own Ā, embedded in the full
token set as :mod:`core.attribution.attention` describes (the class token's spatial row sums its
T per-frame copies: the gradient already carries the mean's 1/T).

One forward pass with autograd, then one backward pass per target, with no parameter gradients.
VideoMAE and ViViT keep fused attention in the forward pass, and their attention's backward makes
``Ā_l`` a few heads at a time from the queries, keys, values and ``dy/d(A_l V_l)``, since
``dA_l = dy/d(A_l V_l) V_l^T`` (:func:`core.attribution.attention.attention_backward`), so no
(heads x tokens^2) tensor is stored or made (118 MB a layer at VideoMAE-base); the backward
stops at the first layer's queries. TimeSformer's attention is its own code that always makes
its weights: their gradients come from autograd. ``v^T R`` is computed right to left as a row
vector, ``v <- v + v Ā_l``, never an (L x L) product.
"""

from __future__ import annotations

import torch

from ..cam.hooks import frozen
from ..cam.layouts import to_cthw
from .attention import (
    Step,
    attention_steps,
    mix,
    recorded_attention,
    start_vector,
    transformer_info,
)

__all__ = ["relevance", "relevance_vector"]


def relevance_vector(steps, cams, v: torch.Tensor) -> torch.Tensor:
    """``v^T (I + Ā_L) ... (I + Ā_1)`` for ``cams`` (the Ā of each step, forward order)."""
    for step, cam in zip(reversed(steps), reversed(cams), strict=True):
        v = v + mix(step, cam, v, cls_self=0.0, cls_weight=1.0)
    return v


def _positive_mean(grad: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``mean_heads((grad ⊙ weights)^+)`` in float64, written over ``grad`` when it owns its memory."""
    if grad.is_contiguous():
        return grad.mul_(weights).clamp_(min=0).mean(1).double()
    return (grad * weights).clamp(min=0).mean(1).double()


def _score(logits: torch.Tensor, target) -> torch.Tensor:
    score = logits[0, target.index]
    return score if target.minus is None else score - logits[0, target.minus]


def _from_weights(model, xg, info, targets):
    """(steps, Ā per step) for each target, from the attention weights as the model makes them
    (TimeSformer's attention is its own code, which always computes them)."""
    with torch.enable_grad(), attention_steps(info, head_mean=False) as steps:
        logits = model(xg)
    weights = [s.weights for s in steps]
    for k, target in enumerate(targets):
        grads = torch.autograd.grad(_score(logits, target), weights, retain_graph=k < len(targets) - 1)
        # in place: the gradients are ours, and each is heads x tokens^2
        with torch.no_grad():
            yield steps, [_positive_mean(g, a) for g, a in zip(grads, weights, strict=True)]


def _from_records(model, xg, info, targets):
    """(steps, Ā per step) for each target, with fused attention in the forward pass and
    ``Ā`` made by the attention's own backward, a few heads at a time (VideoMAE, ViViT; see
    :func:`core.attribution.attention.attention_backward`): no (heads x tokens^2) tensor is
    stored or made, and the backward stops at the first layer's queries."""
    with torch.enable_grad(), recorded_attention(info) as records:
        logits = model(xg)
    if len(records) != len(info.modules):
        raise RuntimeError(f"relevance recorded {len(records)} attention calls for {len(info.modules)} layers")
    steps = [Step("full", torch.empty(0)) for _ in records]
    for k, target in enumerate(targets):
        for r in records:
            r.relevance = None
        torch.autograd.grad(_score(logits, target), records[0].query, retain_graph=k < len(targets) - 1)
        yield steps, [r.relevance for r in records]


def relevance(explainer, x: torch.Tensor, targets, params=None, *, progress=None, cancel=None):
    """(K, t, h, w) relevance maps on the token grid, one per target (a :class:`core.cam.Target`:
    its class, or its class minus ``minus``), and info. ``x``: the (1, C, T, H, W) model input."""
    info = transformer_info(explainer, "relevance")
    per_target = _from_weights if info.family == "timesformer" else _from_records
    maps = []
    with explainer.exclusive() as model, frozen(model):
        xg = x.detach().to(explainer.device).requires_grad_(True)  # a graph without parameter grads
        for steps, cams in per_target(model, xg, info, targets):
            length = cams[0].shape[-1] if info.family != "timesformer" else (
                1 + cams[0].shape[0] * cams[0].shape[-1])
            v = relevance_vector(steps, cams, start_vector(info, length, cams[0].device, torch.float64))
            # (L,) => (1, L, 1) tokens => (1, 1, t, h, w)
            maps.append(to_cthw(v.float().view(1, -1, 1), info.layout, "relevance", info.grid)[0, 0])
    return torch.stack(maps).detach().cpu(), {
        "forward_passes": 1, "backward_passes": len(targets), "reads": info.read,
        "attention_layers": len(steps)}
