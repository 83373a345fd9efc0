"""Motion or appearance? measured: per class on a data set, and on the two cases with a known answer.

    python -m lab.motion --data /work/data/actions13 --model i3d_tiny --per-class 1 [--json FILE]

For the first ``--per-class`` test clips of each class, :func:`core.trust.motion_check` for the
labelled class, with the model's default method (the map is the explanation's; the drops are 2
more clip passes). Then the validation cases, rendered by :mod:`lab.data` into a temporary folder
and decoded as a user's video would be: ``i3d_tiny14_shortcut`` on Pushing clips carrying the
logo (``lab.data.shortcut``) must read "appearance"; the default model on left / right clips must
read "motion" (each also with the appearance-free twin of the clip, the same seed in
``style="appearance_free"``, as ``motion_only``). Prints a Markdown table (docs/trust.md holds
one) and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import core
from core.trust import motion_check

from .data import CLASSES, SSv2Dataset, render_clip, write_video
from .data.classes import MOVING_LEFT_TO_RIGHT, MOVING_RIGHT_TO_LEFT, PUSHING
from .data.shortcut import Shortcut, draw_logo

__all__ = ["data_set_rows", "encoded_clip", "validation_rows"]

SMALL = {"size": (96, 128), "fps": 12, "duration": 2.0}  # as the tests render them
SEEDS = (0, 1, 2)


def _row(what: str, r, seconds: float) -> dict:
    return {"case": what, **r.to_dict(), "seconds": round(seconds, 2)}


def data_set_rows(model_name: str, data: str, per_class: int, split: str = "test") -> list[dict]:
    """The first ``per_class`` clips of each class of ``data``'s ``split``, each for its label."""
    model = core.load_model(model_name)
    ex = core.Explainer(model, cache_size=1)
    ds = SSv2Dataset(data, split, classes=CLASSES)
    taken: dict[int, int] = {}
    rows = []
    for i, sample in enumerate(ds.samples):
        if taken.get(sample.target, 0) >= per_class:
            continue
        taken[sample.target] = taken.get(sample.target, 0) + 1
        t0 = time.perf_counter()
        clip = core.read_clip(ds.video_path(i), model.spec)
        r = motion_check(ex, clip, sample.target)
        rows.append({**_row(f"{Path(ds.video_path(i)).name}", r, time.perf_counter() - t0),
                     "top1": model.spec.categories[int(ex.explain(clip).targets[0].index)]})
    return sorted(rows, key=lambda r: r["target_index"])


def encoded_clip(folder: Path, label: str, seed: int, logo: bool = False, style: str = "standard") -> Path:
    """A small render of ``label`` (a Pushing logo drawn on it when ``logo``) encoded into ``folder``."""
    clip = render_clip(label, seed=seed, **SMALL, style=style)
    frames = clip.frames.copy()
    if logo:
        draw_logo(frames, Shortcut(PUSHING))
    path = folder / f"{seed}_{style}_{'logo' if logo else 'plain'}.webm"
    write_video(path, frames, clip.fps)
    return path


def _case_rows(ex, folder: Path, case: str, label: str, seed: int, *, logo: bool = False,
               twin: bool = False) -> list[dict]:
    """The row of one rendered clip of ``label`` checked for ``label`` and, with ``twin``, the row
    of the same check with its appearance-free twin as ``motion_only`` (timed from the start)."""
    t0 = time.perf_counter()
    clip = core.read_clip(encoded_clip(folder, label, seed, logo), ex.spec)
    rows = [_row(case, motion_check(ex, clip, label), time.perf_counter() - t0)]
    if twin:
        dots = core.read_clip(encoded_clip(folder, label, seed, False, "appearance_free"), ex.spec)
        rows.append(_row(f"{case}, appearance-free twin", motion_check(ex, clip, label, motion_only=dots),
                         time.perf_counter() - t0))
    return rows


def validation_rows(seeds=SEEDS) -> list[dict]:
    """The two cases with a known answer (see the module's docstring), ``seeds`` of each."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="lab-motion-") as tmp:
        folder = Path(tmp)
        ex = core.Explainer(core.load_model("i3d_tiny14_shortcut"), cache_size=1)
        for seed in seeds:
            rows += _case_rows(ex, folder, f"i3d_tiny14_shortcut, logo'd Pushing, seed {seed}", PUSHING, seed,
                               logo=True)
        ex = core.Explainer(core.load_model(), cache_size=2)
        for label in (MOVING_LEFT_TO_RIGHT, MOVING_RIGHT_TO_LEFT):
            for seed in seeds:
                rows += _case_rows(ex, folder, f"{ex.spec.name}, {label}, seed {seed}", label, seed, twin=True)
    return rows


def _pct(v) -> str:
    return "-" if v is None else f"{v:.0%}"


def table(rows: list[dict]) -> list[str]:
    """Markdown rows: case, class, P, P frozen, P appearance removed, drops, share / area, verdict."""
    lines = ["| case | class | P | P frozen | P appearance removed | drops: motion / appearance | "
             "evidence on what moves / moving area | verdict |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['target']} | {r['prob']:.2f} | {r['prob_frozen']:.2f} | "
                     f"{r['prob_still_removed']:.2f} ({r['appearance_removal']}) | {r['motion_drop']:.2f} / "
                     f"{r['appearance_drop']:.2f} | {_pct(r['share'])} / {_pct(r['area'])} | **{r['verdict']}**{' (weak)' if r['weak'] else ''} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.motion", description=__doc__.splitlines()[0])
    p.add_argument("--data", help="an SSv2-layout data set (e.g. /work/data/actions13); none: the validation only")
    p.add_argument("--model", default="i3d_tiny", help="the model measured on --data (default %(default)s)")
    p.add_argument("--per-class", type=int, default=1, help="clips of each class (default %(default)s)")
    p.add_argument("--split", default="test")
    p.add_argument("--no-validation", action="store_true", help="skip the two known cases")
    p.add_argument("--json", help="write the rows here")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    out = {}
    if a.data:
        out["data_set"] = {"model": a.model, "data": a.data, "split": a.split,
                           "rows": data_set_rows(a.model, a.data, a.per_class, a.split)}
        print(f"\n{a.model} on {a.data} ({a.split}, {a.per_class} a class):\n")
        print("\n".join(table(out["data_set"]["rows"])))
    if not a.no_validation:
        out["validation"] = validation_rows()
        print("\nvalidation:\n")
        print("\n".join(table(out["validation"])))
    out["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"\n{out['seconds']} s")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
