"""What an install needs: the disk of the packages requirements.txt pulls in (and of the test
tools), and the peak memory of ``python -m core explain`` and of the app: the figures of the
README's "What the install needs".

    python -m benchmarks.install [--sample demo/samples/dropping.mp4] [--no-app]

Sizes are summed over the files each installed distribution records (``importlib.metadata``),
following requirements.txt's requirements transitively, so they hold for the environment this runs
in: with torch's CUDA build, the NVIDIA libraries and triton are counted apart (a CPU build of
torch has none of them, and neither its ``libtorch_cuda*``). Memory is the peak resident set
(``ru_maxrss`` of the child for the CLI; ``VmHWM`` of the app's process after each explanation).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata as md
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
_CUDA_ONLY = ("nvidia-", "cuda-", "triton")  # distributions only torch's CUDA build brings


def _requirements(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.append(Requirement(line).name)
    return names


def closure(names: list[str]) -> set[str]:
    """The installed distributions ``names`` need, transitively (extras left out)."""
    dists = {canonicalize_name(d.metadata["Name"]): d for d in md.distributions()}
    seen: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen or name not in dists:
            continue
        seen.add(name)
        for r in dists[name].requires or []:
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def size_bytes(name: str) -> int:
    total = 0
    for f in md.distribution(name).files or []:
        with contextlib.suppress(OSError):  # a recorded file that is gone
            total += Path(f.locate()).stat().st_size
    return total


def torch_cuda_bytes() -> int:
    """The CUDA libraries inside torch's own folder (libtorch_cuda*.so and the like)."""
    import torch

    lib = Path(torch.__file__).parent / "lib"
    return sum(p.stat().st_size for p in lib.glob("*cuda*")) + sum(p.stat().st_size for p in lib.glob("*nvshmem*"))


def disk() -> dict[str, float]:
    run = closure(_requirements(ROOT / "requirements.txt"))
    dev = closure(_requirements(ROOT / "requirements.txt") + _requirements(ROOT / "requirements-dev.txt")) - run
    sizes = {n: size_bytes(n) for n in run | dev}
    cuda = sum(s for n, s in sizes.items() if n in run and n.startswith(_CUDA_ONLY))
    total = sum(sizes[n] for n in run)
    gb = 1e9
    return {"runtime_gb": total / gb, "torch_gb": sizes.get("torch", 0) / gb, "cuda_libraries_gb": cuda / gb,
            "torch_cuda_inside_gb": torch_cuda_bytes() / gb,
            "cpu_estimate_gb": (total - cuda - torch_cuda_bytes()) / gb,
            "dev_extra_gb": sum(sizes[n] for n in dev) / gb}


def cli_peak(sample: str, *extra: str) -> tuple[float, float]:
    """Peak RSS (GB) and wall time (s) of ``python -m core explain SAMPLE`` in a child process."""
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "core", "explain", sample, "--out", out, *extra],
                       cwd=ROOT, check=True, capture_output=True)
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:  # RUSAGE_CHILDREN keeps the largest child so far: run the smaller one first
        raise RuntimeError("measure the smaller command first")
    return peak / 1e6, wall  # ru_maxrss is in KiB on Linux


def app_peak(rounds: int = 3) -> list[float]:
    """The app's peak RSS (GB) after start and after each of ``rounds`` explanations of samples."""
    from gradio_client import Client

    from harness import explain, samples, start_app, status_mb

    with tempfile.TemporaryDirectory() as folder:
        app = start_app(folder)
        try:
            peaks = [status_mb(app.pid)["VmHWM"] / 1e3]
            client = Client(app.url, verbose=False, analytics_enabled=False, download_files=folder)
            for path, label in samples()[:rounds]:
                explain(client, path, label)
                peaks.append(status_mb(app.pid)["VmHWM"] / 1e3)
            return peaks
        finally:
            app.stop()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sample", default=str(ROOT / "demo" / "samples" / "dropping.mp4"))
    p.add_argument("--no-app", action="store_true", help="skip starting the app")
    a = p.parse_args(argv)
    d = disk()
    print(f"runtime packages: {d['runtime_gb']:.2f} GB (torch {d['torch_gb']:.2f} GB, of it CUDA "
          f"{d['torch_cuda_inside_gb']:.2f} GB; NVIDIA libraries and triton {d['cuda_libraries_gb']:.2f} GB)")
    print(f"with a CPU build of torch, about {d['cpu_estimate_gb']:.2f} GB; the test tools add {d['dev_extra_gb']:.2f} GB")
    peak, wall = cli_peak(a.sample)
    print(f"python -m core explain: peak {peak:.2f} GB, {wall:.1f} s")
    peak, wall = cli_peak(a.sample, "--trust")
    print(f"python -m core explain --trust: peak {peak:.2f} GB, {wall:.1f} s")
    if not a.no_app:
        peaks = app_peak()
        print("python app.py: peak " + ", ".join(f"{g:.2f}" for g in peaks) + " GB (after start, then after each explanation)")


if __name__ == "__main__":
    main()
