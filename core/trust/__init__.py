"""Can I trust this heatmap? Faithfulness curves, temporal counterfactuals, sanity checks."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from ..cam import Explainer, Explanation
from .motion import MotionCheck, motion_check
from .perturb import Curve, counterfactuals, deletion_insertion
from .sanity import randomize_top_down, sanity_order, spearman
from .verdicts import Verdicts, judge

__all__ = ["Curve", "MotionCheck", "TrustReport", "Verdicts", "judge", "motion_check", "randomize_top_down",
           "sanity_order", "spearman", "trust_check", "trust_report"]


@dataclass(frozen=True)
class TrustReport:
    """Everything the "Can I trust this?" panel shows, for one clip and one target."""

    target: str
    target_index: int
    curves: dict[str, Curve]
    counterfactuals: dict[str, dict]
    sanity: list[dict]
    sanity_maps: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> (T, H, W) in [0, 1]
    timings: dict[str, float] = field(default_factory=dict)
    motion: MotionCheck | None = None  # motion or appearance? (core.trust.motion)

    @property
    def verdicts(self) -> Verdicts:
        """What the numbers say: faithful or not, what flips, whether the map needs the weights."""
        return judge(self)

    def _repr_html_(self) -> str:
        """Jupyter's view: the verdicts, the curves, the counterfactuals, the sanity maps."""
        # drawing lives in the render layer, loaded when shown
        from ..notebook import trust_html

        return trust_html(self)

    def to_dict(self) -> dict:
        aucs = {k: round(c.auc, 5) for k, c in self.curves.items()}
        return {
            "target": self.target,
            "curves": {k: c.to_dict() for k, c in self.curves.items()},
            "auc": aucs,
            "counterfactuals": self.counterfactuals,
            "sanity": self.sanity,
            "verdicts": self.verdicts.to_dict(),
            "motion": None if self.motion is None else self.motion.to_dict(),
            "timings_ms": {k: round(v, 1) for k, v in self.timings.items()},
        }


def trust_check(
    explainer: Explainer | nn.Module,
    clip,
    exp: Explanation,
    *,
    target: int = 0,
    steps: int = 6,
    sanity_depth: int | None = 3,
    seed: int = 0,
    progress=None,
) -> TrustReport:
    """Faithfulness (deletion/insertion by frame and region, vs random order), counterfactuals
    (reversed, shuffled, frozen, top-frames blurred: which classes flip), motion or appearance
    (:func:`~core.trust.motion.motion_check`: 2 more clip passes) and the top-down
    randomisation sanity check, for ``exp.targets[target]`` of ``clip``.

    ``explainer``: the :class:`~core.cam.Explainer` that made ``exp`` (its model runs the
    perturbed clips under its lock, so a shared model is never touched by two callers at once),
    or a model (a throwaway Explainer is made for it). The sanity check randomises a private copy.
    ``progress``: optional callable(fraction, message), e.g. a Gradio progress tracker.
    """
    tick = progress or (lambda *_: None)
    ex = explainer if isinstance(explainer, Explainer) else Explainer(explainer, cache_size=1)
    x = ex.model_input(clip)
    t = exp.targets[target]
    cats = exp.categories
    timings = {}

    tick(0.05, "deletion / insertion curves")
    t0 = time.perf_counter()
    curves = deletion_insertion(ex.predict, x, t.index, exp.temporal_importance[target], exp.raw_maps[target],
                                steps=steps, seed=seed)
    timings["curves"] = (time.perf_counter() - t0) * 1e3

    tick(0.55, "temporal counterfactuals")
    t0 = time.perf_counter()
    cf = counterfactuals(ex.predict, x, exp.temporal_importance[target], seed=seed)
    top0 = int(cf["original"].argmax())
    cf_out = {}
    for name, p in cf.items():
        top = int(p.argmax())
        cf_out[name] = {"top1": cats[top], "top1_prob": round(float(p[top]), 5),
                        "target_prob": round(float(p[t.index]), 5), "flipped": top != top0}
    timings["counterfactuals"] = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    motion = motion_check(ex, clip, t.index, exp=exp)
    timings["motion"] = (time.perf_counter() - t0) * 1e3

    tick(0.75, "sanity check: randomising layers top-down")
    t0 = time.perf_counter()
    sanity, sanity_maps = [], {"trained": exp.maps[target]}
    scratch = ex.copy_model()
    paths = ex.spec.layer_paths if ex.spec is not None else {}
    order = sanity_order(scratch, ex.spec, sanity_depth)
    for names, rnd in randomize_top_down(scratch, order, seed=seed, paths=paths):
        r = Explainer(rnd, ex.spec, cache_size=1).explain(
            clip, t.index if t.minus is None else None, contrast=None if t.minus is None else (t.index, t.minus),
            settings=exp.settings)
        rho = spearman(exp.raw_maps[target], r.raw_maps[0])
        sanity.append({"randomized": names, "spearman": round(rho, 4)})
        sanity_maps["+".join(names)] = r.maps[0]
    del scratch
    timings["sanity"] = (time.perf_counter() - t0) * 1e3
    tick(1.0, "done")
    return TrustReport(t.name, t.index, curves, cf_out, sanity, sanity_maps, timings, motion)


def trust_report(explainer: Explainer | nn.Module, clip, exp: Explanation, **kwargs) -> dict:
    """:func:`trust_check` as JSON-ready data (what ``python -m core explain --trust`` writes)."""
    return trust_check(explainer, clip, exp, **kwargs).to_dict()
