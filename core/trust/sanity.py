"""Model-randomisation sanity check (Adebayo et al., 2018) for one clip and class.

Re-initialise the model's layers top-down, one more each step (the classifier head, then layer4,
layer3, ...: :func:`sanity_order`), and
compare each randomised model's CAM with the trained model's by Spearman rank correlation. A map
that explains the *model* must change when the model does: the correlation should fall.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import SettingsError

__all__ = ["randomize_top_down", "sanity_order", "spearman"]

# Where a family keeps its classifier head, when its spec does not say: torchvision's ResNets and
# the I3Ds (fc), S3D (classifier), MViT and Swin3D (head), a Hugging Face wrapper (model.classifier).
_HEADS = ("fc", "classifier", "head", "model.classifier")


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


def _has(model: nn.Module, path: str) -> bool:
    try:
        model.get_submodule(path)
    except AttributeError:
        return False
    return True


def sanity_order(model: nn.Module, spec=None, depth: int | None = None) -> list[str]:
    """The layers the sanity check randomises, output first: the classifier head, then the spec's
    layers (or, with no spec, the model's top-level children that hold parameters) from the last to
    the first; the first ``depth`` of them.

    The head is ``spec.head`` when the spec names it (a model of your own), else the first of
    ``fc``, ``classifier``, ``head``, ``model.classifier`` that the model has. ``spec`` defaults to
    ``model.spec``. Names are layer names of the spec (aliases in ``spec.layer_paths``) or module paths.
    """
    spec = spec if spec is not None else getattr(model, "spec", None)
    layers = tuple(spec.layers) if spec is not None else ()
    if not layers:
        layers = tuple(n for n, m in model.named_children() if any(True for _ in m.parameters()))
    head = getattr(spec, "head", None)
    if head and not _has(model, head):
        raise SettingsError(f"the spec's head={head!r} is not a module of the model; give the module path "
                            "of its classifier (e.g. 'fc')")
    head = head or next((n for n in _HEADS if _has(model, n)), None)
    names = [head] if head else []
    names += [n for n in reversed(layers) if n != head]
    return names[:depth] if depth else names


def _reinit(module: nn.Module, generator: torch.Generator) -> None:
    for m in module.modules():
        norm = "Norm" in type(m).__name__
        for name, p in m.named_parameters(recurse=False):
            with torch.no_grad():
                if p.dim() > 1:
                    fan_in = p[0].numel()
                    p.copy_(torch.randn(p.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
                else:  # a norm layer's scale about 1; every bias (and shift) about 0
                    p.copy_(torch.randn(p.shape, generator=generator) * 0.1 + (1.0 if norm and name == "weight" else 0.0))


def randomize_top_down(model: nn.Module, order: list[str], *, seed: int = 0,
                       paths: dict[str, str] | None = None):
    """Yield (names randomised so far, the model randomised that far) for each step of the cascade.

    The model is changed in place, step by step: pass a private copy (``Explainer.copy_model()``
    or ``copy.deepcopy``), never a model that others use. ``paths`` maps a layer alias of the
    spec (``"stage4"``) to its module path (``"features.6"``); by default ``model.spec.layer_paths``.
    """
    if paths is None:
        paths = getattr(getattr(model, "spec", None), "layer_paths", None)
    g = torch.Generator().manual_seed(seed)
    current = model
    done: list[str] = []
    for name in order:
        _reinit(current.get_submodule((paths or {}).get(name, name)), g)
        done.append(name)
        yield list(done), current
