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

from dataclasses import dataclass

import torch

from ..cam.hooks import frozen
from ..cam.layouts import to_cthw
from ..cam.registry import register_method
from .attention import (
    Record,
    Step,
    TransformerInfo,
    attention_steps,
    graph_maps,
    mix,
    recorded_attention,
    start_vector,
    transformer_info,
)

__all__ = ["RelevancePass", "relevance", "relevance_forward", "relevance_vector"]


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


def _cams_from_weights(run: RelevancePass, target, keep: bool) -> list[torch.Tensor]:
    """Ā per step from the attention weights as the model makes them (TimeSformer's attention is
    its own code, which always computes them)."""
    weights = [s.weights for s in run.steps]
    grads = torch.autograd.grad(_score(run.logits, target), weights, retain_graph=keep)
    # in place: the gradients are ours, and each is heads x tokens^2
    with torch.no_grad():
        return [_positive_mean(g, a) for g, a in zip(grads, weights, strict=True)]


def _cams_from_records(run: RelevancePass, target, keep: bool) -> list[torch.Tensor]:
    """Ā per step made by the attention's own backward, a few heads at a time (VideoMAE, ViViT;
    see :func:`core.attribution.attention.attention_backward`): no (heads x tokens^2) tensor is
    stored or made, and the backward stops at the first layer's queries."""
    for r in run.records:
        r.relevance = None
    torch.autograd.grad(_score(run.logits, target), run.records[0].query, retain_graph=keep)
    return [r.relevance for r in run.records]


@dataclass
class RelevancePass:
    """One forward pass with autograd (fused attention recorded for VideoMAE and ViViT, the weights
    captured for TimeSformer), whose ``logits`` also predict the classes (the engine runs it in
    place of its own no-grad pass: :data:`core.attribution.CLASSIFYING`); :meth:`maps` runs one
    backward pass per target through its graph, which it keeps while ``keep`` is asked (the
    Explainer holds the pass in its cache, so another class of the clip is its backward pass only)."""

    info: TransformerInfo
    logits: torch.Tensor  # (1, classes), with the graph
    steps: list[Step]
    records: list[Record] | None  # VideoMAE, ViViT; None for TimeSformer (its steps hold the weights)

    def maps(self, explainer, targets, *, keep: bool = True) -> tuple[torch.Tensor, dict]:
        """(K, t, h, w) maps on the token grid and info, for the K targets; ``keep=False`` frees
        the graph with the last target's backward pass."""
        info, cams_of = self.info, (_cams_from_weights if self.records is None else _cams_from_records)
        maps = []
        with explainer.exclusive():
            for k, target in enumerate(targets):
                cams = cams_of(self, target, keep or k < len(targets) - 1)
                length = cams[0].shape[-1] if info.family != "timesformer" else (
                    1 + cams[0].shape[0] * cams[0].shape[-1])
                v = relevance_vector(self.steps, cams, start_vector(info, length, cams[0].device, torch.float64))
                # (L,) => (1, L, 1) tokens => (1, 1, t, h, w)
                maps.append(to_cthw(v.float().view(1, -1, 1), info.layout, "relevance", info.grid)[0, 0])
        return torch.stack(maps).detach().cpu(), {
            "forward_passes": 1, "backward_passes": len(targets), "reads": info.read,
            "attention_layers": len(self.steps)}


def relevance_forward(explainer, x: torch.Tensor) -> RelevancePass:
    """The forward pass of :func:`relevance` on the (1, C, T, H, W) model input ``x``; refuses
    models without attention."""
    info = transformer_info(explainer, "relevance")
    with explainer.exclusive() as model, frozen(model), torch.enable_grad():
        xg = x.detach().to(explainer.device).requires_grad_(True)  # a graph without parameter grads
        if info.family == "timesformer":
            with attention_steps(info, head_mean=False) as steps:
                logits = model(xg)
            return RelevancePass(info, logits, steps, None)
        with recorded_attention(info) as records:
            logits = model(xg)
    if len(records) != len(info.modules):
        raise RuntimeError(f"relevance recorded {len(records)} attention calls for {len(info.modules)} layers")
    return RelevancePass(info, logits, [Step("full", torch.empty(0)) for _ in records], records)


@register_method("relevance", needs_tokens=True, classify=relevance_forward, keeps_graph=True)
def relevance(explainer, x: torch.Tensor, targets, params=None, *, progress=None, cancel=None,
              run: RelevancePass | None = None):
    """(K, t, h, w) relevance maps on the token grid, one per target (a :class:`core.cam.Target`:
    its class, or its class minus ``minus``), and info. ``x``: the (1, C, T, H, W) model input;
    ``run``: its :func:`relevance_forward` already run (the engine's, which predicted the
    classes and keeps the pass for more: then no forward pass of its own, and the graph stays)."""
    return graph_maps(run, relevance_forward, explainer, x, targets)
