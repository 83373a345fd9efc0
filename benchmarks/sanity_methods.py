"""The trust panel's sanity cascade for each method: the table in docs/trust.md (issue 23).

For each model and method, the rank correlation (Spearman) of the explanation's map with the
map of the same clip and class after randomising the model's layers top-down (the head, then
the block below, then the one below that: ``core.trust.trust_check``'s defaults). Near 0 is
right; a map that stays near 1 does not depend on what the model learned.

- ``i3d_tiny14``, the shipped weights, on the page's sample "Moving [something] from left to
  right", its top-1 class: gradcam, occlusion (the default 4x28x28 window), RISE (500 masks,
  the default 4x28x28 cell);
- a tiny VideoMAE (2 blocks of width 32, random weights from seed 0, saved with
  ``save_pretrained``) on a random 4x32x32 clip: gradcam at ``layer.1``, rollout, relevance,
  attnlrp, occlusion (2x8x8) and RISE (500 masks, 2x8x8 cells).

Random weights are drawn from the trust check's seed, so the table is the same on each run on
the same machine::

    python -m benchmarks.sanity_methods
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

import core
from core.cam import Explainer, Settings
from core.trust import trust_check
from core.video import clip_from_frames, read_clip

SAMPLE = Path(__file__).resolve().parents[1] / "demo" / "samples" / "moving_from_left_to_right.mp4"
TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 37,
        "num_frames": 4, "image_size": 32, "num_labels": 3}


def _tiny_videomae(folder: Path):
    import transformers

    torch.manual_seed(0)
    config = transformers.VideoMAEConfig(patch_size=16, tubelet_size=2, use_mean_pooling=True, **TINY)
    transformers.AutoModelForVideoClassification.from_config(config).save_pretrained(folder / "videomae")
    return core.load_model(str(folder / "videomae"))


def _random_clip(spec):
    rng = np.random.default_rng(0)
    return clip_from_frames(rng.integers(0, 256, (spec.num_frames, *spec.input_size, 3), dtype=np.uint8))


def cascade(explainer: Explainer, clip, settings: Settings) -> tuple[int, list[float]]:
    """(forward passes of the explanation, Spearman rho per randomisation step)."""
    exp = explainer.explain(clip, settings=settings)
    report = trust_check(explainer, clip, exp)
    return explainer.forward_passes(clip, settings), [s["spearman"] for s in report.sanity]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--masks", type=int, default=500, help="RISE's masks")
    args = ap.parse_args(argv)
    i3d = core.load_model(core.DEFAULT_MODEL)
    rows = [(f"`{core.DEFAULT_MODEL}`, sample \"Moving [something] from left to right\"", Explainer(i3d),
             read_clip(SAMPLE, i3d.spec), [
                 ("gradcam", Settings()),
                 ("occlusion, window 4x28x28", Settings(method="occlusion")),
                 (f"rise, {args.masks} masks, cell 4x28x28", Settings(method="rise", perturbation={"masks": args.masks})),
             ])]
    with tempfile.TemporaryDirectory() as tmp:
        tiny = _tiny_videomae(Path(tmp))
        small = {"window": (2, 8, 8)}
        rows.append(("tiny VideoMAE (2 blocks, random weights), random clip", Explainer(tiny), _random_clip(tiny.spec), [
            ("gradcam (`layer.1`)", Settings(layer="layer.1")),
            ("rollout", Settings(method="rollout")),
            ("relevance", Settings(method="relevance")),
            ("attnlrp", Settings(method="attnlrp")),
            ("occlusion, window 2x8x8", Settings(method="occlusion", perturbation=small)),
            (f"rise, {args.masks} masks, cell 2x8x8", Settings(method="rise", perturbation={**small, "masks": args.masks})),
        ]))
        print("| model | method | forward passes | head | + next block | + the one below |")
        print("|---|---|---|---|---|---|")
        for name, explainer, clip, methods in rows:
            for i, (label, settings) in enumerate(methods):
                passes, rhos = cascade(explainer, clip, settings)
                cells = " | ".join(f"**{r:.2f}**" if abs(r) >= 0.995 else f"{r:.2f}" for r in rhos)
                print(f"| {name if i == 0 else 'same'} | {label} | {passes} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
