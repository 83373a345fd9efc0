"""Command line: ``python -m core models | explain VIDEO ... | download NAME``.

Exit status: 0 on success, 2 with a one-line message on stderr for anything the user can fix
(a bad video, an unknown class or model, missing weights), 1 for an unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list models and whether their weights are on this machine")
    d = sub.add_parser("download", help="download a torchvision model's weights (needs internet)")
    d.add_argument("name")
    e = sub.add_parser("explain", help="explain a video: writes combined.gif, heatmap.mp4, cam.npy, result.json")
    e.add_argument("video")
    e.add_argument("--model", default=None, help="registered model name (default: the shipped model)")
    e.add_argument("--weights", default="default", help="'default', 'imagenet' (i3d_resnet50) or a checkpoint path")
    tg = e.add_mutually_exclusive_group()
    tg.add_argument("--target", nargs="+", metavar="CLASS", help="class labels or indices to explain")
    tg.add_argument("--top", type=int, metavar="K", help="explain the K most probable classes")
    e.add_argument("--contrast", nargs=2, metavar=("A", "B"), help="explain 'why A rather than B'")
    e.add_argument("--layer", default=None, help="target layer (default: the model's default layer)")
    e.add_argument("--method", default="gradcam", help="gradcam, gradcampp, hirescam, xgradcam or layercam")
    e.add_argument("--pooling", default="clip", choices=["clip", "frame"])
    e.add_argument("--normalize", default="clip", choices=["clip", "frame"])
    e.add_argument("--sampling", default=None, choices=["uniform", "fps"], help="default: the model's")
    e.add_argument("--frames", type=int, default=None, help="frames to sample (default: the model's)")
    e.add_argument("--fps", type=float, default=None, help="sampling rate for --sampling fps (default 4)")
    e.add_argument("--alpha", type=float, default=0.5, help="heatmap opacity in the GIF/MP4")
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    e.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")
    e.add_argument("--out", required=True, help="output directory (created if missing)")
    e.add_argument("--trust", action="store_true", help="add faithfulness checks to result.json")
    return p


def _models() -> int:
    from .models import get_spec, list_models, weights_status

    for name in list_models():
        spec = get_spec(name)
        ok, where = weights_status(name)
        t, (h, w) = spec.num_frames, spec.input_size
        print(f"{name:13s} {len(spec.categories):4d} classes  {t}x{h}x{w}  layers={','.join(spec.layers)} "
              f"(default {spec.default_layer})  weights: {'yes ' + where if ok else where}")
    return 0


def _download(name: str) -> int:
    from .models import load_model

    model = load_model(name, download=True)
    print(f"{name}: weights ready ({len(model.spec.categories)} classes)")
    return 0


def _parse_targets(values):
    return None if values is None else [int(v) if v.isdigit() else v for v in values]


def _explain(a: argparse.Namespace) -> int:
    from . import render
    from .cam import explainer_for, resolve_device
    from .models import DEFAULT_MODEL, load_model
    from .video import read_clip

    t0 = time.perf_counter()
    device = resolve_device(a.device)
    model = load_model(a.model or DEFAULT_MODEL, weights=a.weights, device=device)
    spec = model.spec
    t1 = time.perf_counter()
    clip = read_clip(a.video, spec, sampling=a.sampling, num_frames=a.frames, fps=a.fps)
    t2 = time.perf_counter()
    if a.contrast and (a.target or a.top):
        raise ValueError("use --contrast on its own, or --target/--top on their own")
    contrast = tuple(_parse_targets(a.contrast)) if a.contrast else None
    explainer = explainer_for(model)
    explainer.amp = bool(a.amp and device.type == "cuda")
    exp = explainer.explain(clip, _parse_targets(a.target), top_k=a.top, contrast=contrast, layer=a.layer,
                            method=a.method, pooling=a.pooling, normalize=a.normalize)
    t3 = time.perf_counter()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cams = exp.maps_on_frames()  # (K, T, H, W) over the sampled frames
    labels = [f"t={s:.2f}s  frame {i}" for s, i in zip(clip.timestamps, clip.indices, strict=True)]
    written = {"cam": str(render.save_npy(cams, out / "cam.npy"))}
    for k, target in enumerate(exp.targets):
        heat = render.overlay(clip.frames, cams[k], alpha=a.alpha)
        both = render.combined_frames(clip.frames, heat, labels=[f"{target.name} | {s}" for s in labels], max_side=320)
        name = "combined.gif" if k == 0 else f"combined_{k}.gif"
        written[name] = str(render.save_gif(both, out / name, fps=4.0))
        if k == 0:
            written["heatmap.mp4"] = str(render.save_mp4(heat, out / "heatmap.mp4", fps=4.0))
    t4 = time.perf_counter()
    result = {
        "video": str(a.video),
        "device": str(device),
        **exp.to_dict(top_k=max(5, a.top or 0)),
        "source_size": list(clip.source_size),
        "source_fps": clip.source_fps,
        "duration_s": clip.duration,
        "sampling": clip.sampling,
        "cam_npy": {"shape": list(cams.shape), "axes": "targets, frames, height, width",
                    "at": "sampled frames (source resolution unless display_scale < 1)",
                    "display_scale": clip.display_scale},
        "files": {k: Path(v).name for k, v in written.items()},
    }
    if a.trust:
        from .trust import trust_report

        result["trust"] = trust_report(model, clip, exp)
    result["timings_ms"].update({
        "load_model": round((t1 - t0) * 1e3, 2), "decode": round((t2 - t1) * 1e3, 2),
        "explain": round((t3 - t2) * 1e3, 2), "render": round((t4 - t3) * 1e3, 2),
    })
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    for lab, p in exp.topk(2):
        print(f"{p:6.3f}  {lab}")
    print(f"wrote {', '.join(sorted(written))}, result.json to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .models import UnknownModelError, WeightsError
    from .video import VideoError

    args = _parser().parse_args(argv)
    try:
        if args.command == "models":
            return _models()
        if args.command == "download":
            return _download(args.name)
        return _explain(args)
    except (VideoError, WeightsError, UnknownModelError, ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
