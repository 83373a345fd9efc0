"""AttnLRP: layer-wise relevance propagation for transformers (Achtibat et al., "AttnLRP:
Attention-Aware Layer-Wise Relevance Propagation for Transformers", ICML 2024).

The score ``y`` (a class logit, or logit A - logit B for a contrast) is the relevance put in at
the output; each layer hands its relevance down by a rule, and the map is the relevance of each
patch token's embedding. The rules, per operation (``R`` relevance, ``x`` an input, ``z`` an
output, ``s`` the softmax):

- linear layers (``nn.Linear``, the residual sums, the head's mean over tokens): LRP-epsilon,
  ``R_i = sum_j x_i w_ji R_j / (z_j + eps)``, with eps -> 0 (LRP-0; the biases keep their share);
- the attention's softmax, ``S -> s``: the Taylor decomposition at ``S`` with its bias
  (the paper's Proposition 3.1), ``R_S = S ⊙ (R_s - s sum(R_s))``;
- the two matrix products ``q k^T`` and ``A v``: the uniform rule (Proposition 3.3): each of the
  two factors gets half of the product's relevance, split by LRP-epsilon;
- LayerNorm: the identity rule on the normalisation (Proposition 3.4): the standard deviation is
  a constant, so ``x - mean(x)`` (linear) and the affine part pass the relevance on;
- GELU (any elementwise activation): the identity rule, ``R_x = R_z``.

All of them are Gradient x Input with changed gradients (the paper's efficient form, as its
``lxt`` package does it): ``R_x = x ⊙ g_x`` where ``g`` is the gradient of ``y`` with these
changes, and nothing else: the plain gradient through a linear layer or a sum is LRP-0, and the
plain softmax gradient is Proposition 3.1. Changed: LayerNorm's ``1/std`` is a constant in the
backward pass; an activation passes ``g_x = g_z * act(x) / x``; and the uniform rule halves the
gradient at each factor of a product: ``v`` gets ``1/2``, ``q`` and ``k`` ``1/4`` (half of the
attention weights' half). So one forward pass (fused attention, as the model runs it) and one
backward pass per target, with no parameter gradients; the backward pass stops at the patch
embeddings.

The map is ``R`` at the output of the patch embedding (a tubelet's, a patch's projection, or a
convolutional stem's output), before the position embeddings and the class token are added:
summed over the embedding's channels, on the token grid like ``relevance`` and ``rollout``. The
rest of ``y`` went to the position embeddings, the class token, the biases and the softmax's bias
term (Proposition 3.1 is not conservative): ``info["conserved"]`` is each map's sum over its
score, and with zero biases, position embeddings and class token the only loss is the softmax's.

In :meth:`core.Explainer.explain` that forward pass is also the one that predicts the classes
(:data:`core.attribution.CLASSIFYING`), so the call costs one forward pass with a graph and one
backward pass per class, where the other attention methods add theirs to a no-grad one.

The changes are made for the call (the configs' attention implementation, LayerNorm's and the
activations' ``forward`` on the instances, TimeSformer's own attention, a forward hook on the
patch embedding) and undone in ``finally``; the caller holds the Explainer's lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..cam.hooks import frozen
from ..cam.registry import register_method
from .attention import (
    TransformerInfo,
    attention_function,
    fused_inputs,
    graph_maps,
    transformer_info,
)

__all__ = ["AttnLRPPass", "attnlrp", "attnlrp_forward", "lrp_rules"]

LRP_ATTENTION = "videocam_attnlrp"


class _ScaleGradient(torch.autograd.Function):
    """The identity forward on ``q, k, v``; backward, their gradients times 1/4, 1/4 and 1/2 (the
    uniform rule, see :func:`_attention`). One function for the three: one Python call each way."""

    @staticmethod
    def forward(ctx, q, k, v):
        return q.view_as(q), k.view_as(k), v.view_as(v)

    @staticmethod
    def backward(ctx, dq, dk, dv):
        return dq * 0.25, dk * 0.25, dv * 0.5


class _IdentityRule(torch.autograd.Function):
    """``act(x)``, with the gradient ``g * act(x) / x`` (so ``x ⊙ g_x = act(x) ⊙ g``: the
    relevance passes through unchanged). For GELU, ``act(x) / x`` is the normal CDF, in (0, 1)."""

    @staticmethod
    def forward(ctx, x, act):
        z = act(x)
        ctx.save_for_backward(z / x.where(x != 0, 1.0))  # at x = 0 the relevance x ⊙ g is 0 anyway
        return z

    @staticmethod
    def backward(ctx, grad):
        (ratio,) = ctx.saved_tensors
        return grad * ratio, None


class _LayerNormRule(torch.autograd.Function):
    """``nn.LayerNorm`` forward (fused); backward with the standard deviation held constant:
    ``g_x = (g w - mean(g w)) / std``."""

    @staticmethod
    def forward(ctx, x, shape, weight, bias, eps):
        z, _, rstd = torch.native_layer_norm(x, shape, weight, bias, eps)
        ctx.save_for_backward(weight, rstd)
        return z

    @staticmethod
    def backward(ctx, grad):
        weight, rstd = ctx.saved_tensors
        g = grad * weight if weight is not None else grad
        return (g - g.mean(-1, keepdim=True)) * rstd, None, None, None, None


def _attention(q, k, v, scaling: float, mask=None) -> torch.Tensor:
    """``softmax(q k^T scaling + mask) v``, fused, with the uniform rule on both products: the
    gradient at ``v`` halved, at ``q`` and ``k`` quartered (the half of ``A v``'s relevance that
    ``A`` gets, then half of that through ``q k^T`` to each)."""
    q, k, v = _ScaleGradient.apply(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scaling)


def lrp_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Hugging Face's attention interface (VideoMAE, ViViT, ViT) for :func:`lrp_rules`; returns no weights."""
    scaling, attention_mask = fused_inputs("attnlrp", query, attention_mask, scaling, dropout)
    return _attention(query, key, value, scaling, attention_mask).transpose(1, 2).contiguous(), None


def _timesformer_attention(module, hidden_states, output_attentions: bool = False):
    """``TimesformerSelfAttention.forward`` with :func:`_attention` (it returns no weights)."""
    b, n, c = hidden_states.shape
    # (B, N, 3C) => 3 x (B, heads, N, C / heads)
    qkv = module.qkv(hidden_states).reshape(b, n, 3, module.num_heads, c // module.num_heads).permute(2, 0, 3, 1, 4)
    out = _attention(qkv[0], qkv[1], qkv[2], module.scale)
    return (out.transpose(1, 2).reshape(b, n, c),)


def _layer_norm(module: nn.LayerNorm):
    def forward(x):
        return _LayerNormRule.apply(x, module.normalized_shape, module.weight, module.bias, module.eps)
    return forward


def _activation(module: nn.Module):
    original = type(module).forward

    def forward(x):
        return _IdentityRule.apply(x, lambda t: original(module, t))
    return forward


def _register() -> None:
    from transformers import AttentionInterface

    if LRP_ATTENTION not in AttentionInterface._global_mapping:
        AttentionInterface.register(LRP_ATTENTION, lrp_attention)


_ACTIVATIONS = (nn.GELU, nn.ReLU, nn.SiLU, nn.Tanh)


def _is_activation(module: nn.Module) -> bool:
    return isinstance(module, _ACTIVATIONS) or type(module).__module__ == "transformers.activations"


def _rule_forwards(hf: nn.Module) -> list[tuple[nn.Module, object]]:
    """(module, the forward it runs under the rules) for every LayerNorm, activation and TimeSformer
    attention of ``hf`` after its embeddings (a convolutional stem's, before the patch embedding's
    output where the relevance stops, are left alone)."""
    out, skip = [], {id(m) for m in hf.base_model.embeddings.modules()}
    for module in hf.modules():
        if id(module) in skip:
            continue
        if isinstance(module, nn.LayerNorm):
            if len(module.normalized_shape) != 1:
                raise RuntimeError(f"attnlrp: a LayerNorm over {module.normalized_shape}; expected the channels only")
            out.append((module, _layer_norm(module)))
        elif type(module).__name__ == "TimesformerSelfAttention":
            out.append((module, lambda h, output_attentions=False, m=module: _timesformer_attention(m, h, output_attentions)))
        elif _is_activation(module):
            out.append((module, _activation(module)))
    return out


@contextmanager
def lrp_rules(info: TransformerInfo) -> Iterator[dict[str, torch.Tensor]]:
    """The model of ``info`` with the AttnLRP gradients for the forward passes run inside the
    ``with`` block; the patch embedding's output of the last one is ``store["tokens"]``, a leaf
    that requires grad (the backward pass stops there), ``x ⊙ g`` of which is the relevance.
    Everything is put back in ``finally``."""
    store: dict[str, torch.Tensor] = {}
    patch = info.hf.base_model.embeddings.patch_embeddings

    def leaf(module, inputs, output):
        tokens = output[0] if isinstance(output, tuple) else output  # TimeSformer's: (tokens, frames, width)
        store["tokens"] = tokens.detach().requires_grad_(True)
        return (store["tokens"], *output[1:]) if isinstance(output, tuple) else store["tokens"]

    swapped = _rule_forwards(info.hf)
    _register()
    with ExitStack() as stack:
        stack.enter_context(attention_function(info, LRP_ATTENTION))
        handle = patch.register_forward_hook(leaf)
        stack.callback(handle.remove)
        for module, forward in swapped:
            previous = module.__dict__.get("forward")
            stack.callback(_restore, module, previous)
            module.forward = forward
        yield store


def _restore(module: nn.Module, previous) -> None:
    if previous is None:
        module.__dict__.pop("forward", None)
    else:
        module.forward = previous


def _score(logits: torch.Tensor, target) -> torch.Tensor:
    score = logits[0, target.index]
    return score if target.minus is None else score - logits[0, target.minus]


@dataclass
class AttnLRPPass:
    """One forward pass under the rules, whose ``logits`` also predict the classes (the engine
    runs it in place of its own no-grad pass: :data:`core.attribution.CLASSIFYING`); :meth:`maps`
    runs one backward pass per target through its graph, which it keeps while ``keep`` is asked
    (the Explainer holds the pass in its cache: another class of the clip is its backward only)."""

    info: TransformerInfo
    logits: torch.Tensor  # (1, classes), with the graph
    tokens: torch.Tensor  # the patch embedding's output, a leaf

    def maps(self, explainer, targets, *, keep: bool = True) -> tuple[torch.Tensor, dict]:
        """(K, t, h, w) maps on the token grid and info, for the K targets; ``keep=False`` frees
        the graph with the last target's backward pass."""
        info, tokens = self.info, self.tokens
        maps, scores, totals = [], [], []
        with explainer.exclusive():
            for k, target in enumerate(targets):
                score = _score(self.logits, target)
                (grad,) = torch.autograd.grad(score, tokens, retain_graph=keep or k < len(targets) - 1)
                # (1, t*h*w, D) or TimeSformer's (T, h*w, D), both in (t, h, w) order => (t, h, w)
                r = (tokens.detach().double() * grad.double()).sum(-1)
                if r.numel() != info.grid[0] * info.grid[1] * info.grid[2]:
                    raise RuntimeError(f"attnlrp: {r.numel()} patch tokens for a {info.grid} grid")
                maps.append(r.reshape(info.grid).float())
                scores.append(float(score.detach()))
                totals.append(float(r.sum()))
        return torch.stack(maps).detach().cpu(), {
            "forward_passes": 1, "backward_passes": len(targets), "reads": info.read,
            "score": scores, "conserved": [t / s if s else None for t, s in zip(totals, scores, strict=True)]}


def attnlrp_forward(explainer, x: torch.Tensor) -> AttnLRPPass:
    """The forward pass of :func:`attnlrp` on the (1, C, T, H, W) model input ``x``; refuses
    models without attention."""
    info = transformer_info(explainer, "attnlrp")
    with explainer.exclusive() as model, frozen(model), torch.enable_grad(), lrp_rules(info) as store:
        logits = model(x.to(explainer.device))
    return AttnLRPPass(info, logits, store["tokens"])


@register_method("attnlrp", needs_tokens=True, classify=attnlrp_forward, keeps_graph=True)
def attnlrp(explainer, x: torch.Tensor, targets, params=None, *, progress=None, cancel=None,
            run: AttnLRPPass | None = None):
    """(K, t, h, w) AttnLRP maps on the token grid, one per target (a :class:`core.cam.Target`:
    its class, or its class minus ``minus``), and info. ``x``: the (1, C, T, H, W) model input;
    ``run``: its :func:`attnlrp_forward` already run (the engine's, which predicted the classes:
    then no forward pass of its own)."""
    return graph_maps(run, attnlrp_forward, explainer, x, targets)
