"""Peak memory of one explanation against one no-grad forward pass, each in a fresh process.

    python -m benchmarks.memory MODEL MODE [--frames T --size S]    # MODE: forward|explain|pgc

The child loads the model and builds a random input, then resets the kernel's peak-RSS mark
(``/proc/self/clear_refs``) and notes its RSS; after one run it reports how far the peak rose
above that baseline. Where the mark cannot be reset it falls back to ``ru_maxrss`` (a peak since
the process started, so a smaller rise can hide under the start-up peak).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness import status_mb

__all__ = ["MODES", "peak_memory"]

MODES = ("forward", "explain", "pgc")
ROOT = Path(__file__).resolve().parents[1]


def peak_memory(name: str, modes=MODES, *, frames: int | None = None, size: int | None = None,
                parallel: bool = False) -> dict[str, dict]:
    """mode -> {"baseline_mb", "peak_mb", "rise_mb", "method"}, one fresh process per mode.

    ``parallel`` runs the children at once (each measures only itself; use it when no timing
    runs alongside).
    """
    def child(mode: str) -> dict:
        cmd = [sys.executable, "-m", "benchmarks.memory", name, mode]
        cmd += ["--frames", str(frames)] if frames else []
        cmd += ["--size", str(size)] if size else []
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[2:])} failed:\n{out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    if parallel:
        with ThreadPoolExecutor(len(modes)) as pool:
            return dict(zip(modes, pool.map(child, modes), strict=True))
    return {m: child(m) for m in modes}


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--frames", type=int)
    parser.add_argument("--size", type=int)
    args = parser.parse_args()

    import gc

    import torch

    import core

    from .explain import load_model, pgc_target

    torch.set_num_threads(2)
    model, _ = load_model(args.model, num_frames=args.frames, size=args.size)
    spec = model.spec
    x = torch.randn(1, 3, spec.num_frames, *spec.input_size, generator=torch.Generator().manual_seed(0))
    if args.mode == "pgc":
        from pytorch_grad_cam import GradCAM

        target, reshape, _ = pgc_target(model, spec, spec.default_layer)
        cam = GradCAM(model=model, target_layers=[target], reshape_transform=reshape)

        def run():
            cam(input_tensor=x, targets=None)
    elif args.mode == "explain":
        ex = core.Explainer(model, spec)

        def run():
            ex.explain(x, top_k=1)
    else:
        def run():
            with torch.no_grad():
                model(x)
    gc.collect()
    if _reset_peak():
        method, base = "VmHWM after clear_refs", status_mb()["VmRSS"]
        run()
        peak = status_mb()["VmHWM"]
    else:
        method, base = "ru_maxrss", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        run()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"baseline_mb": round(base, 1), "peak_mb": round(peak, 1),
                      "rise_mb": round(peak - base, 1), "method": method}))


if __name__ == "__main__":
    main()
