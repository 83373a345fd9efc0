"""Model-randomisation sanity check (Adebayo et al., 2018) for one clip and class.

Re-initialise the model's layers top-down, one more each step (fc, then layer4, layer3, ...), and
compare each randomised model's CAM with the trained model's by Spearman rank correlation. A map
that explains the *model* must change when the model does: the correlation should fall.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["randomize_top_down", "spearman"]


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two equally sized tensors (average ranks for ties)."""

    def ranks(v: torch.Tensor) -> torch.Tensor:
        v = v.flatten().double()
        order = v.argsort()
        r = torch.empty_like(v)
        r[order] = torch.arange(len(v), dtype=torch.float64)
        # average the ranks of tied values (e.g. the zeros after ReLU)
        uniq, inv = torch.unique(v, return_inverse=True)
        sums = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inv, r)
        counts = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inv, torch.ones_like(r))
        return (sums / counts)[inv]

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = float(ra.norm() * rb.norm())
    return float((ra * rb).sum()) / denom if denom > 0 else 0.0


def _reinit(module: nn.Module, generator: torch.Generator) -> None:
    for m in module.modules():
        for p in m.parameters(recurse=False):
            with torch.no_grad():
                if p.dim() > 1:
                    fan_in = p[0].numel()
                    p.copy_(torch.randn(p.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                else:
                    p.copy_(torch.randn(p.shape, generator=generator) * 0.1 + (1.0 if "Norm" in type(m).__name__ else 0.0))


def randomize_top_down(model: nn.Module, order: list[str], *, seed: int = 0,
                       paths: dict[str, str] | None = None):
    """Yield (names randomised so far, the model randomised that far) for each step of the cascade.

    The model is changed in place, step by step: pass a private copy (``Explainer.copy_model()``
    or ``copy.deepcopy``), never a model that others use. ``paths`` maps a layer alias of the
    spec (``"stage4"``) to its module path (``"features.6"``).
    """
    g = torch.Generator().manual_seed(seed)
    current = model
    done: list[str] = []
    for name in order:
        _reinit(current.get_submodule((paths or {}).get(name, name)), g)
        done.append(name)
        yield list(done), current
