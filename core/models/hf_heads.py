"""The logits of TimeSformer and ViViT as a function of their last block's *input*, computed for
the class token only: what Grad-CAM at the default layer (the last block's input) differentiates.

Both models classify from the class token after the last block, and a block's MLP, residuals
and layer norms act token by token, so the logits depend on the last block only through its
class-token output: the class token's own path, plus the keys and values that every token offers
to the class token's query. :func:`class_token_head` computes exactly that, with the model's own
modules and weights, so that autograd's graph (and its vector-Jacobian products per class) covers
the class token's path and the keys/values, not the full block. The maths are Hugging Face's
(transformers 5.x ``TimesformerLayer`` with divided space-time attention, ``VivitLayer``),
re-associated where one query meets many keys: ``q . (W_k z + b_k) = (W_k^T q) . z + q . b_k``,
whose last term is the same for every key and so cancels in the softmax, and
``sum_j p_j (W_v z_j + b_v) = W_v (sum_j p_j z_j) + b_v`` (the probabilities sum to 1). That is
exact algebra, equal to the model's forward pass to float rounding, and it turns two
(tokens x C x C) products into (tokens x heads x C) ones. TimeSformer's temporal attention still
runs for every patch token (the class token's keys and values come from its output), as
``scaled_dot_product_attention`` (the block's own softmax(q k^T * scale) v), with its output
Linear and ``temporal_dense`` fused into one Linear. Dropout and drop-path are identities in
eval mode, the only mode the engine runs. A model laid out otherwise gets no head (``None``) and
the engine falls back to autograd through the whole model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["class_token_head"]

Head = Callable[[torch.Tensor], torch.Tensor]


def _one_query(query: torch.Tensor, wk: torch.Tensor, wv: torch.Tensor, bv: torch.Tensor | None,
               scale: float):
    """Attention of one query per head, (N, H, d), without computing any token's key or value.

    Returns ``score(z)``: the scaled scores (N, H, *) of tokens z (N, *, C) for the key weights
    ``wk``, without ``q . b_k`` (the same for every key, so the softmax cancels it), and
    ``value(m)``: the values ``wv m + bv`` of probability-weighted token sums m (N, H, *, C), as
    (N, *, H, d)."""
    heads, d = query.shape[1:]
    u = scale * torch.einsum("nhd,hdc->nhc", query, wk.view(heads, d, -1))  # W_k^T q per head

    def score(z: torch.Tensor) -> torch.Tensor:
        return torch.einsum("n...c,nhc->nh...", z, u)

    def value(m: torch.Tensor) -> torch.Tensor:
        out = torch.einsum("nh...c,hdc->n...hd", m, wv.view(heads, d, -1))
        return out if bv is None else out + bv.view(heads, d)

    return score, value


def _rows(linear: nn.Linear, i: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Weight and bias of part ``i`` (q, k, v) of TimeSformer's fused ``qkv`` Linear."""
    c = linear.out_features // 3
    bias = None if linear.bias is None else linear.bias[i * c:(i + 1) * c]
    return linear.weight[i * c:(i + 1) * c], bias


def _timesformer(model: nn.Module) -> Head | None:
    config = model.config
    block = model.timesformer.encoder.layer[-1]
    if config.attention_type != "divided_space_time":
        return None
    frames, pw = config.num_frames, config.image_size // config.patch_size
    spatial = block.attention.attention  # TimesformerSelfAttention: fused qkv, then heads
    temporal = block.temporal_attention.attention
    heads, scale = spatial.num_heads, spatial.scale
    final, classifier = model.timesformer.layernorm, model.classifier

    def head(x: torch.Tensor) -> torch.Tensor:
        n, length, c = x.shape
        ph = (length - 1) // frames // pw
        # temporal attention of every patch token over its own position's frames
        patches = x[:, 1:]
        qkv = temporal.qkv(block.temporal_layernorm(patches))  # (N, h*w*t, 3C)
        # (N, h*w*t, 3C) => 3 x (N*h*w, H, t, d): q, k, v per position and head
        q_t, k_t, v_t = qkv.view(n * ph * pw, frames, 3, temporal.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        ctx_t = F.scaled_dot_product_attention(q_t, k_t, v_t, scale=temporal.scale)
        ctx_t = ctx_t.transpose(1, 2).reshape(n, ph * pw * frames, c)  # (N*h*w, H, t, d) => (N, h*w*t, C)
        # the attention's output Linear, then temporal_dense, as one Linear: (A, a) then (B, b)
        # is (B A, B a + b)
        dense, mix = block.temporal_attention.output.dense, block.temporal_dense
        te = patches + F.linear(ctx_t, mix.weight @ dense.weight, F.linear(dense.bias, mix.weight, mix.bias))
        # spatial attention of the class token (the same query in every frame) over itself and
        # the patches of each frame; keys/values are the patches' after layernorm_before
        cls = x[:, 0]
        z_cls, z = block.layernorm_before(cls), block.layernorm_before(te)
        z = z.reshape(n, ph * pw, frames, c)  # (N, h*w*t, C) => (N, h*w, t, C)
        q = F.linear(z_cls, *_rows(spatial.qkv, 0)).view(n, heads, -1)
        score, value = _one_query(q, _rows(spatial.qkv, 1)[0], *_rows(spatial.qkv, 2), scale)
        s = torch.cat([score(z_cls).unsqueeze(-1).expand(n, heads, frames).unsqueeze(2),
                       score(z)], 2)  # (N, H, 1 + h*w, t)
        p = s.softmax(2)
        m = (torch.einsum("nhf,nc->nhfc", p[:, :, 0], z_cls)
             + torch.einsum("nhsf,nsfc->nhfc", p[:, :, 1:], z))  # (N, H, t, C)
        ctx = value(m).reshape(n, frames, c)  # (N, t, H, d) => (N, t, C): one row per frame
        out = cls + block.attention.output(ctx).mean(1)  # the class token averages its frames
        out = out + block.output(block.intermediate(block.layernorm_after(out)))
        return classifier(final(out))

    return head


def _vivit(model: nn.Module) -> Head | None:
    block = model.vivit.layers[-1]
    attention = block.attention
    heads, scale = attention.num_attention_heads, attention.scaling
    final, classifier = model.vivit.layernorm, model.classifier

    def head(x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        z = block.layernorm_before(x)  # (N, L, C); the class token is z[:, 0]
        q = attention.q_proj(z[:, 0]).view(n, heads, -1)
        score, value = _one_query(q, attention.k_proj.weight, attention.v_proj.weight,
                                  attention.v_proj.bias, scale)
        p = score(z).softmax(-1)  # (N, H, L)
        ctx = value(torch.einsum("nhl,nlc->nhc", p, z)).reshape(n, -1)  # (N, H, d) => (N, H*d)
        out = x[:, 0] + attention.o_proj(ctx)
        out = out + block.mlp(block.layernorm_after(out))
        return classifier(final(out))

    return head


_HEADS = {"timesformer": ("timesformer.encoder.layer", _timesformer), "vivit": ("vivit.layers", _vivit)}


def class_token_head(model: nn.Module, layer: nn.Module) -> Head | None:
    """``f`` with ``f(output of layer) == model(...).logits`` (to float rounding), computing only
    what the logits depend on, when ``layer`` is the block before the last of a TimeSformer or
    ViViT classifier (a Hugging Face ``*ForVideoClassification``); else None."""
    config = getattr(model, "config", None)
    entry = _HEADS.get(getattr(config, "model_type", None))
    if entry is None or not isinstance(getattr(model, "classifier", None), nn.Linear):
        return None
    try:
        blocks = model.get_submodule(entry[0])
    except AttributeError:  # another transformers version's layout
        return None
    if len(blocks) < 2 or blocks[-2] is not layer:
        return None
    try:
        return entry[1](model)
    except AttributeError:
        return None
