"""Attention rollout (Abnar & Zuidema, 2020): how much each patch token flows into what the head reads.

Per attention layer l, with ``P_l`` its head-averaged attention as a token-mixing matrix
(see :mod:`core.attribution.attention`) and the residual counted as an equal share:

    Â_l = (I + P_l) / 2          (rows of P_l sum to 1, so this is already row-normalised)
    R   = Â_L Â_{L-1} ... Â_1     (later layers on the left: x_L = R x_0 for token mixing)
    map = v^T R, restricted to the patch tokens

``v`` is what the head reads: the class token ``e_cls`` (TimeSformer, ViViT), or, for VideoMAE,
which has no class token and mean-pools every token, the mean ``1/L`` (``e_0`` with
``use_mean_pooling=False``, where its head reads token 0).

TimeSformer's divided attention is two layers per block, temporal then spatial, each with its
own residual: block b contributes ``Â_spatial,b Â_temporal,b``, so
``R = Π_b (Â_s,b Â_t,b)`` with b running from the last block to the first. The class token
takes no part in temporal attention (its row of ``P_t`` is ``e_cls``), and its spatial output is
the mean of its T per-frame copies (its row of ``P_s`` has weight 1/T per frame).

``v^T R`` is computed right to left as a row vector, ``v <- (v + v P_l) / 2`` from the last layer
to the first, so rollout costs O(L^2) per layer on top of one no-grad forward pass with eager
attention, never an (L x L) matrix product. It does not depend on the class: every target gets
the same map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..cam.hooks import evaluating
from ..cam.layouts import to_cthw
from ..cam.registry import register_method
from .attention import attention_steps, mix, spatial_cls_weight, start_vector, transformer_info

__all__ = ["RolloutPass", "rollout", "rollout_forward", "rollout_vector"]


def rollout_vector(steps, v: torch.Tensor, *, cls_weight: float) -> torch.Tensor:
    """``v^T Â_L ... Â_1`` for head-averaged ``steps`` in forward order (batch 1)."""
    for step in reversed(steps):
        v = 0.5 * (v + mix(step, step.weights, v, cls_self=1.0, cls_weight=cls_weight))
    return v


@dataclass
class RolloutPass:
    """One no-grad forward pass with the attention captured: its ``logits`` predict the classes
    (the engine runs it in place of its own no-grad pass: :data:`core.attribution.CLASSIFYING`),
    and the map, made from the attention then and there, serves every class: nothing of the pass
    but the (1, t, h, w) map (and that map on the model input, once made) is kept."""

    logits: torch.Tensor  # (1, classes)
    grid: torch.Tensor  # (1, t, h, w) on the CPU
    info: dict
    on_input: dict = field(default_factory=dict)  # the map upsampled to the input, by (size, normalize)

    def maps(self, explainer, targets, *, keep: bool = True) -> tuple[torch.Tensor, dict]:
        """(K, t, h, w): the same map for each of the K targets, and info. Runs nothing."""
        k = max(len(targets), 1)
        return self.grid.expand(k, *self.grid.shape[1:]).clone(), dict(self.info)


def rollout_forward(explainer, x: torch.Tensor) -> RolloutPass:
    """The forward pass of :func:`rollout` on the (1, C, T, H, W) model input ``x``, and its map;
    refuses models without attention."""
    info = transformer_info(explainer, "rollout")
    with (explainer.exclusive() as model, evaluating(model), torch.no_grad(),
          attention_steps(info, head_mean=True) as steps):
        logits = model(x.to(explainer.device))
    length = steps[0].weights.shape[-1] if info.family != "timesformer" else (
        1 + steps[0].weights.shape[0] * steps[0].weights.shape[-1])
    v = start_vector(info, length, steps[0].weights.device, torch.float64)
    steps = [type(s)(s.kind, s.weights.double()) for s in steps]
    v = rollout_vector(steps, v, cls_weight=spatial_cls_weight(info))
    # (L,) => (1, L, 1) tokens => (1, 1, t, h, w)
    grid = to_cthw(v.float().view(1, -1, 1), info.layout, "rollout", info.grid)[0]
    return RolloutPass(logits.detach(), grid.cpu(), {
        "forward_passes": 1, "reads": info.read, "attention_layers": len(steps), "class_specific": False})


@register_method("rollout", class_agnostic=True, needs_tokens=True, classify=rollout_forward)
def rollout(explainer, x: torch.Tensor, targets, params=None, *, progress=None, cancel=None,
            run: RolloutPass | None = None):
    """(K, t, h, w) rollout maps on the token grid (the same map for each of the K targets), and
    info. ``x``: the (1, C, T, H, W) model input; ``run``: its :func:`rollout_forward` already
    run (the engine's, which predicted the classes: then no forward pass of its own). Refuses
    models without attention."""
    maps, info = (run or rollout_forward(explainer, x)).maps(explainer, targets)
    return maps, {**info, "forward_passes": 0 if run is not None else 1}
