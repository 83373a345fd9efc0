"""Audit throughput against decoding and explaining each video once (issue 25).

Both run in one process on the same videos, interleaved, ``--rounds`` times:

- ``baseline``: for each video, ``core.read_clip`` and one ``Explainer.explain`` of its labelled
  class: what a user's own loop over the API costs;
- ``audit``: ``core.audit.audit`` on those videos into a fresh folder: the same work plus the
  records, the shortcut screen, the causal tests and the report with its GIFs.

The target is audit throughput >= 0.8x the baseline's (videos per second). The causal tests'
forward passes are counted from ``audit.json`` and stated. The videos are rendered by
``lab.data`` with a planted shortcut (so the shortcut model has a class to test)::

    python -m benchmarks.audit --update docs/benchmarks.md
    python -m benchmarks.audit --model i3d_tiny14_shortcut --update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from statistics import median

import core
from core.audit import audit, read_items
from core.video import read_clip

from . import parse_section_args, publish, replace_section

_BEGIN, _END = "<!-- audit:begin -->", "<!-- audit:end -->"
TARGET = 0.8
SHORTCUT = "Pushing [something] so that it slightly moves"


def _data(n_per_class: int, seed: int) -> Path:
    from lab.data import write_dataset

    root = Path(tempfile.gettempdir()) / f"videocam-benchmark-audit-{n_per_class}-{seed}"
    if not (root / "dataset.json").is_file():
        shutil.rmtree(root, ignore_errors=True)
        write_dataset(root, n_train=0, n_val=0, n_test=13 * n_per_class, seed=seed, workers=2,
                      render_options={"shortcut": SHORTCUT})
    return root


def _baseline(explainer, items, settings) -> float:
    t0 = time.perf_counter()
    for item in items:
        clip = read_clip(item.path, explainer.spec)
        explainer.explain(clip, [item.target], settings=settings)
    return time.perf_counter() - t0


def _audit(explainer, items, per_class: int) -> tuple[float, dict]:
    out = Path(tempfile.mkdtemp(prefix="videocam-audit-"))
    try:
        t0 = time.perf_counter()
        doc = audit(explainer, items, out, per_class=per_class, progress=False)
        return time.perf_counter() - t0, doc
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run(model_name: str, n_per_class: int, seed: int, rounds: int, per_class: int) -> dict:
    model = core.load_model(model_name)
    explainer = core.Explainer(model, cache_size=1)
    settings, _ = explainer.settings_for()
    data = _data(n_per_class, seed)
    items = read_items(data, model.spec.categories, split="test")
    _baseline(explainer, items[:4], settings)  # warm-up: first-call costs out of the rounds
    base, full, screen_only, doc = [], [], [], None
    for r in range(rounds):
        base.append(_baseline(explainer, items, settings))
        seconds, doc = _audit(explainer, items, per_class)
        full.append(seconds)
        screen_only.append(seconds - doc["timings"]["causal_s"])
        print(f"round {r + 1}: baseline {base[-1]:.1f} s, audit {full[-1]:.1f} s", flush=True)
    b, a, w = median(base), median(full), median(screen_only)
    return {"model": model_name, "videos": len(items), "seed": seed, "rounds": rounds, "per_class": per_class,
            "baseline_s": b, "audit_s": a, "ratio": b / a, "without_causal_s": w, "ratio_without_causal": b / w, "base_rounds": base, "audit_rounds": full,
            "flagged": doc["flagged"], "causal_passes": doc["timings"]["causal_forward_passes"],
            "timings": doc["timings"], "gifs": sum(len(t) for c in doc["classes"].values() for t in c["tables"].values()),
            "load": os.getloadavg()[0]}


def markdown(results: list[dict], command: str) -> str:
    lines = [_BEGIN, "## Dataset audit (issue 25)", "",
             f"`{command}`. Videos rendered by `lab.data --shortcut '{SHORTCUT}'` (the class's clips carry the "
             "logo); baseline: `core.read_clip` + one `Explainer.explain` of the labelled class per video, in the "
             "same process; audit: `core.audit.audit` on the same videos (records, screen, causal tests, report "
             "and its GIFs), interleaved with the baseline, median of the rounds.", "",
             "The causal tests (paste and removal, on the classes the screen picks) read their clips again and "
             "run 2 forward passes per clip and test; the issue counts those passes apart, so the target row is "
             "the audit without them, and the whole audit is beside it.", "",
             "| model | videos | baseline | audit without the causal tests | throughput / baseline's | limit | | "
             "whole audit | / baseline's | causal-test passes | flagged |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        ok = "PASS" if r["ratio_without_causal"] >= TARGET else "MISS"
        lines.append(f"| {r['model']} | {r['videos']} | {r['baseline_s']:.1f} s | {r['without_causal_s']:.1f} s | "
                     f"{r['ratio_without_causal']:.2f}x | >= {TARGET}x | {ok} | {r['audit_s']:.1f} s | "
                     f"{r['ratio']:.2f}x | {r['causal_passes']} | {', '.join(r['flagged']) or 'none'} |")
    for r in results:
        t = r["timings"]
        lines.append("")
        lines.append(f"{r['model']}, last round, from `audit.json`: decoding {t['decode_s']:.1f} s, explaining "
                     f"{t['explain_s']:.1f} s, judging with the causal tests {t['causal_s']:.1f} s "
                     f"({t['causal_forward_passes']} forward passes), report {t['report_s']:.1f} s ({r['gifs']} GIFs); "
                     f"rounds, baseline {', '.join(f'{v:.1f}' for v in r['base_rounds'])} s, audit "
                     f"{', '.join(f'{v:.1f}' for v in r['audit_rounds'])} s; load average {r['load']:.2f} at the end.")
    return "\n".join([*lines, _END, ""])


def update(report: Path, text: str) -> None:
    """Put ``text`` in place of the audit section of ``report`` (appended if it has none)."""
    replace_section(report, _BEGIN, _END, text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.audit", description=__doc__.splitlines()[0])
    p.add_argument("--model", nargs="+", default=[core.DEFAULT_MODEL, "i3d_tiny14_shortcut"])
    p.add_argument("--per-class-videos", type=int, default=10, help="videos of each of the 13 classes")
    p.add_argument("--seed", type=int, default=31, help="the rendered videos' data seed")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--per-class", type=int, default=2, help="the audit's clips per table")
    a, command = parse_section_args(p, argv, "benchmarks.audit")
    results = [run(m, a.per_class_videos, a.seed, a.rounds, a.per_class) for m in a.model]
    publish(markdown(results, command), a.update, _BEGIN, _END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
