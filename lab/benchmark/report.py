"""``docs/benchmark.md`` from the leaderboards: one section per model and split, a table per kind
of evidence (rows: methods at their layers; cells: mean [95% interval]), cost, the differences
that are real, per class, and the default by the rule."""

from __future__ import annotations

import math

from .board import FIGURES, HEADLINE, KINDS

__all__ = ["markdown"]

_BETTER = {"higher": "↑", "lower": "↓", "": ""}


def _cell(f: dict, fmt: str = ".3f") -> str:
    if f.get("applies") is False:
        return "does not apply"
    if f["n"] == 0 or math.isnan(f["mean"]):
        return "n/a"
    if f["n"] == 1:
        return f"{f['mean']:{fmt}} (1 clip)"
    return f"{f['mean']:{fmt}} [{f['lo']:{fmt}}, {f['hi']:{fmt}}]"


def _section(b: dict) -> list[str]:
    top1 = b["top1"]
    which = "all" if b["per_class"] is None else f"the first {b['per_class']}"
    lines = [f"## `{b['model']}` on `{b['data'].rstrip('/').split('/')[-1]}`, {b['split']} split", "",
             f"{b['clips']} clips ({which} of each "
             f"class; occlusion and RISE on the first {b['perturbation_per_class']}), {len(b['classes'])} classes; "
             f"top-1 {_cell(top1, '.1%')}.", ""]
    if b["per_class"] is not None:
        lines += [f"**A subsample, not the full table**: {b['per_class']} clip(s) a class; intervals this wide are what "
                  "so few clips can tell. The full table is `--clips-per-class 0`.", ""]
    for kind in KINDS:
        names = [(n, d) for k, n, d in FIGURES if k == kind]
        lines += [f"### {kind.capitalize()}", "",
                  "| method | layer | " + " | ".join(f"{n} {_BETTER[d]}".strip() for n, d in names) + " |",
                  "|---|---|" + "---|" * len(names)]
        for r in b["rows"]:
            lines.append(f"| {r['label']} | {r['layer'] or '-'} | "
                         + " | ".join(_cell(r["figures"][n]) for n, _ in names) + " |")
        lines.append("")
    lines += ["### Cost", "", "| method | layer | clips | forward passes | seconds per clip |", "|---|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['layer'] or '-'} | {r['clips']} | {r['passes']} | {_cell(r['seconds'], '.2f')} |"
              for r in b["rows"]]
    lines += ["", "### Which differences are real", "",
              "Paired bootstrap of the mean difference over the clips both rows were scored on; a difference is "
              "real when its 95% interval leaves out 0.", ""]
    for name in HEADLINE:
        real = [p for p in b["pairs"].get(name, []) if p["real"]]
        said = "; ".join(f"{p['a']} − {p['b']} = {p['mean']:+.3f} [{p['lo']:+.3f}, {p['hi']:+.3f}]" for p in real)
        lines.append(f"- **{name}**: {len(real)} of {len(b['pairs'].get(name, []))} pairs" + (f": {said}" if said else ""))
    keys = [r["key"] for r in b["rows"]]
    lines += ["", f"### Per class: {HEADLINE[0]}", "", "| class | " + " | ".join(keys) + " |",
              "|---|" + "---|" * len(keys)]
    for label in b["classes"]:
        cells = [_cell(r["per_class"][label][HEADLINE[0]]) if label in r["per_class"] else "-" for r in b["rows"]]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    d = b["default"]
    lines += ["", f"**Default by the rule**: {d['method']}" + (f" at `{d['layer']}`" if d.get("layer") else "")
              + (f" ({d['note']})" if "note" in d else f" (as good as the best on pointing: {', '.join(d['as_good'])})")
              + f". Rule: {d['rule']}.", ""]
    return lines


def markdown(boards: list[dict], header: str) -> str:
    """The whole report: ``header`` (what the figures mean, the commands), then one section per board."""
    lines = [header.rstrip("\n"), ""]
    for b in boards:
        lines += _section(b)
    return "\n".join(lines) + "\n"
