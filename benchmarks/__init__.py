"""Benchmarks: scripts, not timed tests, each run from the repository root as
``python -m benchmarks.NAME``. ``python -m benchmarks.run --out docs/benchmarks.md`` writes the report.

One module per thing measured: ``explain`` (our engine vs pytorch-grad-cam on one model),
``memory`` (peak RSS of a run in a fresh process), ``media`` and ``video_decode`` (decoding and
rendering), ``roundtrip`` (the app's round trip through gradio_client); ``report`` writes the
markdown and ``run`` puts them together. Run on their own: ``load`` (many users against the app),
``hostile_inputs`` (odd files through the CLI and the app) and ``trust_memory`` (the app's RSS
after the trust panel). Starting the app and reading ``/proc`` are ``harness.py``'s.
"""

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

__all__ = ["interleaved", "median_ms", "parse_section_args", "print_json", "publish", "replace_section", "save_json", "verdict"]


def interleaved(ops: dict[str, Callable[[], object]], repeats: int,
                warmup: tuple[str, ...] | None = None, min_seconds: float = 0.0) -> dict[str, list[float]]:
    """Run every op once per round, in order, for ``repeats`` rounds, and more rounds until they
    have taken ``min_seconds`` in all; seconds per op and round.

    Interleaving spreads slow drift of the machine (thermals, other load) over all ops alike.
    ``warmup``: ops run once, untimed, before the first round (None: all of them).
    """
    for name in ops if warmup is None else warmup:
        ops[name]()
    samples: dict[str, list[float]] = {name: [] for name in ops}
    start, done = time.perf_counter(), 0
    while done < repeats or time.perf_counter() - start < min_seconds:
        done += 1
        for name, fn in ops.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return samples


def median_ms(samples: list[float]) -> float:
    return median(samples) * 1e3


def save_json(path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` (a script's ``--json PATH``); None: nothing."""
    if path is not None:
        Path(path).write_text(json.dumps(data, indent=2) + "\n")


def print_json(data, path=None) -> None:
    """Print ``data`` as indented JSON, and write it to ``path`` too (a script's ``--json PATH``)."""
    print(json.dumps(data, indent=2))
    save_json(path, data)


def parse_section_args(parser: argparse.ArgumentParser, argv: list[str] | None,
                       module: str) -> tuple[argparse.Namespace, str]:
    """A report section's script: ``parser`` with ``--update FILE`` added, parsed from ``argv``
    (None: the command line), and the command that reproduces the run, for the section's text."""
    parser.add_argument("--update", type=Path, help="write the section into this markdown file (docs/benchmarks.md)")
    argv = sys.argv[1:] if argv is None else list(argv)
    return parser.parse_args(argv), shlex.join(["python", "-m", module, *argv])


def publish(text: str, report: Path | None, begin: str, end: str) -> None:
    """Print a report section, and put it into ``report`` (a script's ``--update FILE``; None:
    print only) in place of the one between ``begin`` and ``end``."""
    print(text)
    if report is not None:
        replace_section(report, begin, end, text)


def replace_section(report: Path, begin: str, end: str, text: str) -> None:
    """Put ``text`` (which starts with ``begin`` and ends with ``end``) in place of the section of
    ``report`` between those markers, or append it when the report has none."""
    import re

    old = report.read_text() if report.is_file() else ""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    report.write_text(pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip() + "\n\n" + text)


def verdict(ok: bool | None) -> str:
    """A report's verdict cell: PASS, **MISS** (bold, so it stands out), or – when not measured."""
    return "–" if ok is None else "PASS" if ok else "**MISS**"
