"""Benchmarks: scripts, not timed tests. ``python -m benchmarks.run`` writes docs/benchmarks.md.

One module per thing measured: ``explain`` (our engine vs pytorch-grad-cam on one model),
``memory`` (peak RSS of a run in a fresh process), ``media`` (decode and rendering), ``app`` (the
Gradio round trip); ``run`` puts them together and writes the report.
"""

import time
from collections.abc import Callable
from statistics import median

__all__ = ["interleaved", "median_ms"]


def interleaved(ops: dict[str, Callable[[], object]], repeats: int,
                warmup: tuple[str, ...] | None = None) -> dict[str, list[float]]:
    """Run every op once per round, in order, for ``repeats`` rounds; seconds per op and round.

    Interleaving spreads slow drift of the machine (thermals, other load) over all ops alike.
    ``warmup``: ops run once, untimed, before the first round (None: all of them).
    """
    for name in ops if warmup is None else warmup:
        ops[name]()
    samples: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeats):
        for name, fn in ops.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return samples


def median_ms(samples: list[float]) -> float:
    return median(samples) * 1e3
