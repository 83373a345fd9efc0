"""The load benchmarks' clients (benchmarks/load.py, benchmarks/load_scans.py): one explain from a
``gradio_client`` session, timed, with its error as a result rather than a crash, and a user who
makes several in turn."""

from __future__ import annotations

import time
from pathlib import Path

from gradio_client import Client

from harness import explain

__all__ = ["explain_once", "percentile", "user"]


def explain_once(url: str, video: Path, client: Client | None = None) -> tuple[float, str | None]:
    """One explain from a (fresh unless given) client: (seconds, error or None)."""
    t0 = time.perf_counter()
    try:
        client = client or Client(url, verbose=False, analytics_enabled=False, download_files=False)
        info = explain(client, video)["info"]
        if not info.startswith("16 frames"):
            return time.perf_counter() - t0, f"unexpected info: {info[:80]}"
    except Exception as e:  # a failed request is a result here, not a crash
        return time.perf_counter() - t0, f"{type(e).__name__}: {str(e)[:200]}"
    return time.perf_counter() - t0, None


def percentile(xs: list[float], q: float) -> float:
    """The ``q``-th percentile of ``xs``, nearest rank."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


def user(url: str, videos: list[Path], n: int, k: int) -> list[tuple[float, str | None]]:
    """A user's ``n`` explains from one session, starting at ``videos[k]``."""
    client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    return [explain_once(url, videos[(k + i) % len(videos)], client) for i in range(n)]
