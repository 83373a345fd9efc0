"""The attention weights of a Hugging Face video transformer, for one call, and how its tokens mix.

:func:`attention_steps` runs the model once with eager attention (SDPA computes no weights) and
hooks on its attention modules, and returns one :class:`Step` per attention layer in forward
order. The eager switch and the hooks are undone in ``finally``, so the shared model is as it
was after a normal and after a failing call; the caller holds the Explainer's lock.

A step is a row-stochastic token-mixing map ``M`` (the head-averaged attention, or any (q, k)
weights of the same shape), applied to a row vector by :func:`mix` without building ``M``:

- ``full`` (VideoMAE, ViViT): ``M = P``, one (L, L) matrix over every token.
- ``temporal`` (TimeSformer): each patch token at position s and frame f attends over the frames
  of its own position, ``M[(s, f), (s, g)] = P_s[f, g]``; the class token is left alone
  (its row is ``cls_self * e_cls``).
- ``spatial`` (TimeSformer): frame f's copy of the class token and its patches attend over each
  other, ``P_f`` of size (1 + S, 1 + S); a patch row is ``M[(s, f), cls] = P_f[1 + s, 0]``,
  ``M[(s, f), (s', f)] = P_f[1 + s, 1 + s']``; the class token's output is the mean of its T
  copies, so its row is ``M[cls, cls] = c * sum_f P_f[0, 0]``, ``M[cls, (s', f)] = c * P_f[0, 1 + s']``
  with ``c = 1/T`` for attention (rows sum to 1) and ``c = 1`` for gradient-weighted attention
  (the gradient already carries the 1/T of the mean).

TimeSformer's patch tokens are in (h, w, t) order: token ``1 + s * T + f``, ``s = h_i * w + w_i``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import SettingsError

__all__ = ["Step", "TransformerInfo", "attention_steps", "mix", "token_grid", "transformer_info"]

ANY_MODEL = "occlusion or rise (any model), or a Grad-CAM method at a layer"


def token_grid(spec) -> tuple[int, int, int] | None:
    """The (t, h, w) grid of a model's patch tokens, as its spec declares it."""
    return spec.token_grid if spec is not None else None


@dataclass(frozen=True)
class TransformerInfo:
    """What the attention methods need of a Hugging Face video classifier."""

    hf: nn.Module  # the transformers model inside the wrapper
    family: str  # videomae | timesformer | vivit
    modules: tuple[tuple[str, nn.Module], ...]  # (kind, module whose output holds the weights)
    read: str  # "class token" | "mean of tokens" | "first token": what the head reads
    layout: str  # a key of core.cam.layouts.LAYOUTS
    grid: tuple[int, int, int]


@dataclass
class Step:
    kind: str  # full | temporal | spatial
    weights: torch.Tensor  # (B', heads, q, k) as captured, or head-averaged (B', q, k)


def transformer_info(explainer, method: str) -> TransformerInfo:
    """The attention layers of ``explainer``'s model, or a SettingsError naming what applies."""
    hf = getattr(explainer.model, "model", None)
    family = getattr(getattr(hf, "config", None), "model_type", None)
    name = explainer.spec.name if explainer.spec is not None else type(explainer.model).__name__
    if family not in ("videomae", "timesformer", "vivit"):
        raise SettingsError(
            f"{method} reads a video transformer's attention (Hugging Face VideoMAE, TimeSformer or "
            f"ViViT); {name} has no attention to read. Use {ANY_MODEL}.")
    config = hf.config
    if family == "timesformer" and config.attention_type != "divided_space_time":
        raise SettingsError(f"{method}: {name} uses TimeSformer attention_type="
                            f"{config.attention_type!r}; only divided_space_time is read. Use {ANY_MODEL}.")
    grid = token_grid(explainer.spec)
    paths = explainer.spec.layer_paths if explainer.spec is not None else {}
    if grid is None or not paths:
        raise SettingsError(f"{method}: {name}'s spec has no token grid or layer paths; load it "
                            "with core.load_model")
    modules = []
    for i in range(len(paths)):
        block = explainer.model.get_submodule(paths[f"layer.{i}"])
        if family == "timesformer":  # its softmax output passes through attn_drop (eval: identity)
            modules += [("temporal", block.temporal_attention.attention.attn_drop),
                        ("spatial", block.attention.attention.attn_drop)]
        else:  # VideoMAESelfAttention / VivitAttention return (context, weights)
            modules.append(("full", block.attention.attention if family == "videomae" else block.attention))
    if family == "videomae":
        read = "mean of tokens" if config.use_mean_pooling else "first token"
    else:
        read = "class token"
    layout = "tokens_hwt" if family == "timesformer" else "tokens"
    return TransformerInfo(hf, family, tuple(modules), read, layout, tuple(grid))


WEIGHTS_ATTENTION = "videocam_weights"


def weights_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Hugging Face's eager attention (it returns the weights), with the scale applied to the
    (tokens x d) queries instead of the (tokens x tokens) scores: one (heads x tokens^2) tensor
    fewer in the forward and the backward pass (118 MB a layer at VideoMAE-base), the same
    weights to float precision."""
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query * scaling, key.transpose(2, 3))
    if attention_mask is not None:
        scores = scores + attention_mask
    weights = scores.softmax(-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def _register() -> None:
    from transformers import AttentionInterface

    if WEIGHTS_ATTENTION not in AttentionInterface._global_mapping:
        AttentionInterface.register(WEIGHTS_ATTENTION, weights_attention)


@contextmanager
def eager_attention(info: TransformerInfo) -> Iterator[None]:
    """The model with attention that returns its weights (:func:`weights_attention`) for the
    ``with`` block, put back in ``finally``. TimeSformer always computes its weights, so it is
    left alone."""
    config = info.hf.config
    old = getattr(config, "_attn_implementation", None)
    switch = info.family != "timesformer" and old not in ("eager", WEIGHTS_ATTENTION)
    try:
        if switch:
            _register()
            info.hf.set_attn_implementation(WEIGHTS_ATTENTION)
        yield
    finally:
        if switch:
            info.hf.set_attn_implementation(old)


@contextmanager
def attention_steps(info: TransformerInfo, *, head_mean: bool) -> Iterator[list[Step]]:
    """Steps filled in by the forward pass run inside the ``with`` block; ``head_mean`` averages
    the heads as they are captured (rollout: no graph, less memory)."""
    steps = [Step(kind, torch.empty(0)) for kind, _ in info.modules]
    handles = []

    def hook_for(step: Step):
        def hook(module, inputs, output):
            w = output[1] if isinstance(output, tuple) else output
            if w is None:
                raise RuntimeError("the attention layer returned no weights: eager attention is off")
            step.weights = w.mean(1) if head_mean else w

        return hook

    with eager_attention(info):
        try:
            for step, (_, module) in zip(steps, info.modules, strict=True):
                handles.append(module.register_forward_hook(hook_for(step)))
            yield steps
        finally:
            for h in handles:
                h.remove()


def mix(step: Step, p: torch.Tensor, v: torch.Tensor, *, cls_self: float, cls_weight: float) -> torch.Tensor:
    """``v @ M`` for the step's mixing matrix ``M`` built from ``p`` (head-averaged, batch 1)."""
    if step.kind == "full":
        return v @ p[0]  # (L,) @ (L, L)
    cls, patches = v[:1], v[1:]
    if step.kind == "temporal":  # p: (S, T, T), one matrix per spatial position
        s, t = p.shape[:2]
        out = torch.einsum("sf,sfg->sg", patches.view(s, t), p)  # (h*w*t,) => (S, T)
        return torch.cat([cls * cls_self, out.reshape(-1)])
    # spatial, p: (T, 1 + S, 1 + S), one matrix per frame
    t, n = p.shape[0], p.shape[1] - 1
    rows = torch.cat([(cls * cls_weight).expand(t, 1), patches.view(n, t).T], 1)  # (T, 1 + S)
    out = torch.bmm(rows.unsqueeze(1), p)[:, 0]  # (T, 1 + S)
    return torch.cat([out[:, 0].sum().view(1), out[:, 1:].T.reshape(-1)])  # => cls, (h*w*t,)


def start_vector(info: TransformerInfo, length: int, device, dtype) -> torch.Tensor:
    """The row the head reads: e_cls, e_0 (VideoMAE without mean pooling) or the mean of tokens."""
    if info.read == "mean of tokens":
        return torch.full((length,), 1.0 / length, device=device, dtype=dtype)
    v = torch.zeros(length, device=device, dtype=dtype)
    v[0] = 1.0
    return v


def spatial_cls_weight(info: TransformerInfo) -> float:
    return 1.0 / info.grid[0] if info.family == "timesformer" else 1.0
