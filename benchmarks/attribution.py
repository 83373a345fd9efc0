"""Attribution methods (core.attribution) against the model's own no-grad forward pass, and our
occlusion against captum's ``Occlusion``, side by side in one process.

Rows per model (medians over interleaved rounds):

- ``forward``: one no-grad forward pass of the (1, C, T, H, W) model input (SDPA attention);
- ``rollout`` / ``relevance``: one clip, one class (eager attention, switched on for the call);
- ``fwd_tput``: no-grad forward throughput (clips/s) at the best batch size of ``--batches``;
- ``occlusion_tput`` / ``rise_tput``: forward passes per second of our occlusion / RISE at that
  batch size (mask making and blending included);
- ``occlusion`` vs ``captum``: seconds for the same windows, captum at its best
  ``perturbations_per_eval`` of ``--batches``.

Tiny fixtures by default; ``--base`` adds VideoMAE-base and TimeSformer-base sizes with random
weights (attention rows only: their perturbation rows would take hours on a CPU)::

    python -m benchmarks.attribution --rounds 3
    python -m benchmarks.attribution --base --rounds 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import core
from core.attribution import Perturbation, forward_passes, occlusion, relevance, rise, rollout
from core.cam import Explainer, Target

from . import interleaved, median_ms

TINY = {"hidden_size": 96, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 192,
        "num_frames": 8, "image_size": 64, "num_labels": 10}


def _tiny(family: str):
    import transformers

    folder = Path(tempfile.gettempdir()) / "videocam-benchmark-configs" / f"{family}-tiny"
    if not (folder / "config.json").is_file():
        config = {"videomae": lambda: transformers.VideoMAEConfig(patch_size=16, tubelet_size=2, **TINY),
                  "timesformer": lambda: transformers.TimesformerConfig(patch_size=16, **TINY),
                  "vivit": lambda: transformers.VivitConfig(tubelet_size=[2, 16, 16], **TINY)}[family]()
        config.save_pretrained(folder)
    return core.load_model(str(folder), weights=None, download=False)


def _base(name: str):
    from .explain import load_model

    return load_model(name)[0]


def _input(model) -> torch.Tensor:
    spec = model.spec
    torch.manual_seed(0)
    return torch.randn(1, 3, spec.num_frames, *spec.input_size)


def attention_rows(name: str, model, rounds: int) -> dict[str, float]:
    explainer, x, target = Explainer(model), _input(model), [Target(0, "class 0")]

    def forward():
        with torch.no_grad():
            model(x)

    ops = {"forward": forward, "rollout": lambda: rollout(explainer, x, target),
           "relevance": lambda: relevance(explainer, x, target)}
    ms = {k: median_ms(v) for k, v in interleaved(ops, rounds).items()}
    print(f"{name:18s} forward {ms['forward']:9.1f} ms  rollout {ms['rollout']:9.1f} ms "
          f"({ms['rollout'] / ms['forward']:.2f}x)  relevance {ms['relevance']:9.1f} ms "
          f"({ms['relevance'] / ms['forward']:.2f}x)", flush=True)
    return ms


def perturbation_rows(name: str, model, batches: list[int], passes: int) -> dict[str, float]:
    from captum.attr import Occlusion

    explainer, x, target = Explainer(model), _input(model), [Target(0, "class 0")]
    tput = {}
    for b in batches:
        xb = x.expand(b, *x.shape[1:]).contiguous()
        explainer.predict(xb, batch_size=b)
        t0 = time.perf_counter()
        for _ in range(max(1, passes // b)):
            explainer.predict(xb, batch_size=b)
        tput[b] = max(1, passes // b) * b / (time.perf_counter() - t0)
    best = max(tput, key=tput.get)
    t, h, w = x.shape[2:]
    window = (max(1, t // 4), h // 8, w // 8)  # 4 x 8 x 8 windows, no overlap
    occ = Perturbation(window=window, batch_size=best, baseline="mean")
    n_occ = forward_passes("occlusion", occ, x.shape)
    t0 = time.perf_counter()
    occlusion(explainer, x, target, occ)
    t_occ = time.perf_counter() - t0
    rp = Perturbation(masks=passes, window=window, batch_size=best, baseline="mean")
    t0 = time.perf_counter()
    rise(explainer, x, target, rp)
    t_rise = time.perf_counter() - t0

    def probs(z):
        with torch.no_grad():
            return model(z).softmax(-1)

    captum = {}
    for b in batches:
        t0 = time.perf_counter()
        Occlusion(probs).attribute(x, sliding_window_shapes=(3, *window), strides=(1, *window), target=0,
                                   baselines=x.mean((2, 3, 4), keepdim=True).expand_as(x), perturbations_per_eval=b)
        captum[b] = time.perf_counter() - t0
    cb = min(captum, key=captum.get)
    print(f"{name:18s} forward {tput[best]:7.1f} clips/s at batch {best}; occlusion {n_occ / t_occ:7.1f} "
          f"passes/s ({n_occ / t_occ / tput[best]:.2f}x); rise {passes / t_rise:7.1f} passes/s "
          f"({passes / t_rise / tput[best]:.2f}x); occlusion {t_occ:.2f} s vs captum {captum[cb]:.2f} s "
          f"at perturbations_per_eval={cb} ({t_occ / captum[cb]:.2f}x)", flush=True)
    return {"fwd_tput": tput[best], "batch": best, "occlusion_s": t_occ, "captum_s": captum[cb]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", action="store_true", help="add VideoMAE-base and TimeSformer-base sizes")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16, 32])
    ap.add_argument("--passes", type=int, default=256, help="forward passes per throughput row")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    for family in ("videomae", "timesformer", "vivit"):
        model = _tiny(family)
        attention_rows(f"{family}-tiny", model, args.rounds)
        perturbation_rows(f"{family}-tiny", model, args.batches, args.passes)
    perturbation_rows(core.DEFAULT_MODEL, core.load_model(core.DEFAULT_MODEL, weights=None), args.batches, args.passes)
    if args.base:
        for name in ("videomae-base", "timesformer-base"):
            attention_rows(name, _base(name), args.rounds)


if __name__ == "__main__":
    main()
