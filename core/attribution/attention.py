"""The attention weights of a Hugging Face video transformer, for one call, and how its tokens mix.

:func:`attention_steps` runs the model once with attention that returns its weights (SDPA
computes none) and hooks on its attention modules, and returns one :class:`Step` per attention
layer in forward order (rollout; relevance on TimeSformer). :func:`recorded_attention` keeps
fused attention in the forward pass and makes each layer's gradient-weighted attention in its
own backward (:func:`attention_backward`; relevance on VideoMAE and ViViT). The switch of the
attention function and the hooks are undone in ``finally``, so the shared model is as it was
after a normal and after a failing call; the caller holds the Explainer's lock.

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

Length: the attention records of three transformer families and the rollout and relevance products
over them, which share the token layouts above.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import SettingsError

__all__ = [
    "Record",
    "Step",
    "TransformerInfo",
    "attention_backward",
    "attention_steps",
    "fused_inputs",
    "graph_maps",
    "mix",
    "recorded_attention",
    "token_grid",
    "transformer_info",
]

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


RECORD_ATTENTION = "videocam_record"


@dataclass
class Record:
    """One attention call of :func:`record_attention`: its query (B, heads, tokens, d), and after
    each backward pass ``relevance``, ``mean_heads((dA ⊙ A)^+)`` (B, q, k) in float64."""

    query: torch.Tensor
    scaling: float
    mask: torch.Tensor | None
    relevance: torch.Tensor | None = None


_RECORDS: ContextVar[list[Record] | None] = ContextVar("videocam_attention_records", default=None)


def attention_backward(q, k, v, grad, scaling: float, mask=None, *, chunk_mb: int = 16):
    """The gradients of ``O = softmax(q k^T scaling + mask) v`` for ``dO = grad``, and, from the
    same ``A`` and ``dA = dO v^T``, ``mean_heads((dA ⊙ A)^+)`` (B, q, k), summed in float32 and
    returned in float64.

    ``A`` is made again from ``q`` and ``k`` a few heads at a time (about ``chunk_mb`` MB each),
    as a fused attention's backward does, so no (heads x tokens^2) tensor is ever stored or made
    (118 MB a layer at VideoMAE-base). With ``P = dA ⊙ A``: ``dv = A^T dO``,
    ``dS = P - A rowsum(P)``, ``dq = dS k scaling``, ``dk = dS^T q scaling``: the same
    gradients as autograd through eager attention (tests: relevance against a dense autograd
    implementation)."""
    (batch, heads, length, _), keys = q.shape, k.shape[2]
    # Hugging Face hands over (B, tokens, heads, d) views: one copy each, not one per product
    q, k, v, grad = (t.contiguous() for t in (q, k, v, grad))
    dq, dk, dv = (torch.empty(t.shape, device=t.device, dtype=t.dtype) for t in (q, k, v))
    relevance = torch.zeros(batch, length, keys, device=q.device, dtype=torch.float32)
    step = max(1, (chunk_mb << 20) // (4 * length * keys))
    for b in range(batch):
        m = None if mask is None else mask[b if mask.shape[0] > 1 else 0].expand(heads, length, keys)
        for h in range(0, heads, step):
            s = slice(h, h + step)
            qs, ks, vs, g = q[b, s] * scaling, k[b, s], v[b, s], grad[b, s]
            a = torch.matmul(qs, ks.transpose(1, 2))
            if m is not None:
                a += m[s]
            a = a.softmax(-1)
            p = torch.matmul(g, vs.transpose(1, 2)).mul_(a)  # dA ⊙ A
            positive = p.clamp(min=0)
            relevance[b] += positive[0] if len(positive) == 1 else positive.sum(0)
            torch.matmul(a.transpose(1, 2), g, out=dv[b, s])
            p -= a.mul_(p.sum(-1, keepdim=True))  # dS
            torch.matmul(p, ks, out=dq[b, s]).mul_(scaling)
            torch.matmul(p.transpose(1, 2), qs, out=dk[b, s])
    return dq, dk, dv, relevance.div_(heads).double()


class _RecordedAttention(torch.autograd.Function):
    """PyTorch's fused attention forward; :func:`attention_backward` backward, which leaves the
    layer's gradient-weighted attention in the :class:`Record`."""

    @staticmethod
    def forward(ctx, query, key, value, record):
        ctx.record = record
        ctx.save_for_backward(query, key, value)
        return nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=record.mask,
                                                          scale=record.scaling)

    @staticmethod
    def backward(ctx, grad):
        q, k, v = ctx.saved_tensors
        dq, dk, dv, ctx.record.relevance = attention_backward(q, k, v, grad, ctx.record.scaling, ctx.record.mask)
        return dq, dk, dv, None


def fused_inputs(method: str, query, attention_mask, scaling, dropout) -> tuple[float, torch.Tensor | None]:
    """The scale and mask that Hugging Face's attention interface hands a method's attention,
    made ready for ``scaled_dot_product_attention``: ``1 / sqrt(head size)`` when not given, and a
    boolean mask made additive (0 kept, -inf masked). Refuses dropout: ``method`` needs eval mode."""
    if dropout:
        raise RuntimeError(f"{method} needs the model in eval mode (attention dropout is on)")
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    if attention_mask is not None and attention_mask.dtype == torch.bool:
        attention_mask = torch.zeros_like(attention_mask, dtype=query.dtype).masked_fill_(~attention_mask, float("-inf"))
    return scaling, attention_mask


def record_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Attention for :func:`recorded_attention`: fused (``scaled_dot_product_attention``: no
    (tokens x tokens) tensor) forward, and a backward that leaves ``mean_heads((dA ⊙ A)^+)`` in
    the call's :class:`Record`; returns no weights."""
    scaling, attention_mask = fused_inputs("relevance", query, attention_mask, scaling, dropout)
    records = _RECORDS.get()
    if records is None:  # outside recorded_attention: plain fused attention
        out = nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, scale=scaling)
    else:
        records.append(Record(query, scaling, attention_mask))
        out = _RecordedAttention.apply(query, key, value, records[-1])
    return out.transpose(1, 2).contiguous(), None


def _register() -> None:
    from transformers import AttentionInterface

    for name, fn in ((WEIGHTS_ATTENTION, weights_attention), (RECORD_ATTENTION, record_attention)):
        if name not in AttentionInterface._global_mapping:
            AttentionInterface.register(name, fn)


def _configs(info: TransformerInfo) -> list:
    """The configs the attention layers read their implementation from at each call (one, shared,
    for the models we load)."""
    found = {id(info.hf.config): info.hf.config}
    for _, module in info.modules:
        config = getattr(module, "config", None)
        if config is not None:
            found.setdefault(id(config), config)
    return list(found.values())


@contextmanager
def attention_function(info: TransformerInfo, implementation: str = WEIGHTS_ATTENTION) -> Iterator[None]:
    """The model with one of our attention functions (:func:`weights_attention`, which returns
    the weights, or :func:`record_attention`) for the ``with`` block, put back in ``finally``.
    TimeSformer's attention is its own code that always computes its weights: left alone.

    The switch is the implementation each attention layer reads from its config at every call,
    set on the configs they hold: what ``set_attn_implementation`` ends with, without its walk
    over every module (~0.4 ms each way, a sixth of a tiny model's forward pass)."""
    if info.family == "timesformer":
        yield
        return
    _register()
    configs = _configs(info)
    old = [c._attn_implementation for c in configs]
    try:
        for c in configs:
            c._attn_implementation = implementation
        yield
    finally:
        for c, value in zip(configs, old, strict=True):
            c._attn_implementation = value


@contextmanager
def recorded_attention(info: TransformerInfo) -> Iterator[list[Record]]:
    """Records of the attention calls of the forward pass run inside the ``with`` block, in
    forward order (VideoMAE, ViViT: every layer's attention goes through :func:`record_attention`);
    each backward pass through them fills in their ``relevance``."""
    if info.family == "timesformer":
        raise ValueError("TimeSformer's attention is its own code: read its weights with attention_steps")
    records: list[Record] = []
    token = _RECORDS.set(records)
    try:
        with attention_function(info, RECORD_ATTENTION):
            yield records
    finally:
        _RECORDS.reset(token)


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

    with attention_function(info):
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


def graph_maps(run, forward, explainer, x: torch.Tensor, targets) -> tuple[torch.Tensor, dict]:
    """The maps and info of a method whose classifying pass keeps the model's graph (relevance,
    AttnLRP): from ``run``, that pass as the engine ran it to predict the classes (kept for more
    classes: no forward pass of its own), else from ``forward(explainer, x)``, a pass of its own
    whose graph goes with the last target's backward pass."""
    if run is not None:
        maps, info = run.maps(explainer, targets, keep=True)
        return maps, {**info, "forward_passes": 0}
    return forward(explainer, x).maps(explainer, targets, keep=False)
