"""A class change on a ZeroGPU Space against the same app with no ZeroGPU in between.

    python -m benchmarks.zerogpu [--repeats 5]

Both apps run in subprocesses on 127.0.0.1: app.py as shipped (``harness.start_app``) and app.py
as ZeroGPU's main process with the real ``spaces`` package, its device scheduler replaced by a
counter and the worker on the CPU (tests/zerogpu_app.py, as tests/test_zerogpu.py runs it). Each
explains the first sample once, then times ``/retarget`` round trips through ``gradio_client``:
to classes 2-5 (on ZeroGPU cut from what the first call brought back, no GPU call) and to
classes 6 and on (on ZeroGPU a GPU call, answered from the worker's cached forward pass). What a
real ZeroGPU adds, the scheduler's round trip and its queue, is not in these numbers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from harness import ROOT, explain, samples, start_app

__all__ = ["bench_class_change"]


def _times(client, labels) -> list[float]:
    out = []
    for label in labels:
        t0 = time.perf_counter()
        _, info = client.predict(label, api_name="/retarget")
        out.append(time.perf_counter() - t0)
        if "cached forward pass" not in info:
            raise RuntimeError(f"the class change ran a forward pass: {info}")
    return out


def bench_class_change(repeats: int = 5) -> dict:
    """Median seconds of a class change, plain app and ZeroGPU app: {app: {"top5", "beyond"}}."""
    from gradio_client import Client

    sys.path.insert(0, str(ROOT / "tests"))
    from zerogpu_app import ZeroGPUApp

    video, label = samples()[0]
    result = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in ("plain", "zerogpu"):
            if name == "plain":
                app = start_app(tmp / name)
                client, stop = Client(app.url, verbose=False, analytics_enabled=False), app.stop
            else:
                app = ZeroGPUApp(tmp / name, patch_torch=False)
                client, stop = app.client, app.stop
            try:
                ranked = [c["label"] for c in explain(client, video, label)["all"]["confidences"]]
                top5 = [ranked[1 + k % 4] for k in range(repeats)]
                beyond = [ranked[5 + k % (len(ranked) - 5)] for k in range(repeats)]
                _times(client, ranked[1:2])  # warm-up
                result[name] = {"top5": median(_times(client, top5)), "beyond": median(_times(client, beyond))}
            finally:
                stop()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    r = bench_class_change(p.parse_args().repeats)
    for name, t in r.items():
        print(f"{name:8s} class change, classes 2-5: {t['top5'] * 1e3:6.0f} ms; classes 6+: {t['beyond'] * 1e3:6.0f} ms")


if __name__ == "__main__":
    main()
