"""The app's memory after the trust panel: is there one copy of each model per process?

    python -m benchmarks.trust_memory [--runs 3] [--sample 0] [--json FILE]

Each run starts app.py as shipped in a fresh process (``harness.start_app``: 127.0.0.1,
analytics off, its cache in a temporary folder), then through gradio_client, as a user of the
page would: ``/explain`` on a shipped sample (demo/samples/index.json), then ``/trust`` for its
true class. After start-up, after ``/explain`` and after ``/trust`` it reads the app process's
``VmRSS`` (resident now) and ``VmHWM`` (peak resident) from ``/proc``, in MB. A second copy of
the model for the trust checks shows up as a step in RSS after ``/trust``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks import save_json
from harness import explain, samples, start_app, status_mb

__all__ = ["measure"]

STAGES = ("started", "explain", "trust")


def measure(sample: int = 0) -> dict[str, dict[str, float]]:
    """stage -> {"VmRSS": MB, "VmHWM": MB} of one fresh app process (stages: STAGES)."""
    from gradio_client import Client

    video, label = samples()[sample]
    out = {}
    with tempfile.TemporaryDirectory(prefix="videocam-trust-memory-") as tmp, start_app(tmp) as app:
        client = Client(app.url, verbose=False, analytics_enabled=False, download_files=False)
        out["started"] = status_mb(app.pid)
        if not explain(client, video, label)["heatmap"]:
            raise RuntimeError(f"/explain of {video.name} returned no heatmap")
        out["explain"] = status_mb(app.pid)
        heading = client.predict(label, api_name="/trust")[0]
        if label not in heading:
            raise RuntimeError(f"/trust did not answer for {label!r}: {heading[:200]!r}")
        out["trust"] = status_mb(app.pid)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1, help="fresh app processes, one after another")
    p.add_argument("--sample", type=int, default=0, help="index into demo/samples/index.json")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    video, label = samples()[args.sample]
    print(f"app.py as shipped; /explain {video.name} ({label}), then /trust for that class; MB")
    print("| run | " + " | ".join(f"RSS {s} | peak {s}" for s in STAGES) + " |")
    print("|---" * (1 + 2 * len(STAGES)) + "|")
    runs = []
    for i in range(1, args.runs + 1):
        m = measure(args.sample)
        runs.append(m)
        cells = [f"{m[s]['VmRSS']:.0f} | {m[s]['VmHWM']:.0f}" for s in STAGES]
        print(f"| {i} | " + " | ".join(cells) + " |", flush=True)
    save_json(args.json, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
