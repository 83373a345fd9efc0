"""``docs/benchmark.md`` from the leaderboards: one section per model and split, a table per kind
of evidence (rows: methods at their layers; cells: mean [95% interval]), motion or appearance,
cost, the differences that are real, per class, and the default by the rule. A board or a figure
made before the motion column existed reads "not recorded"."""

from __future__ import annotations

import math
import re

from .board import FIGURES, HEADLINE, KINDS, VERDICTS

__all__ = ["anchor", "markdown"]

_BETTER = {"higher": "↑", "lower": "↓", "": ""}


_UNRECORDED = "not recorded"


def _cell(f: dict | None, fmt: str = ".3f") -> str:
    if f is None:
        return _UNRECORDED
    if f.get("applies") is False:
        return "does not apply"
    if f["n"] == 0 or f["mean"] is None or math.isnan(f["mean"]):
        return _UNRECORDED if f.get("unrecorded") else "n/a"
    if f["n"] == 1:
        text = f"{f['mean']:{fmt}} (1 clip)"
    else:
        text = f"{f['mean']:{fmt}} [{f['lo']:{fmt}}, {f['hi']:{fmt}}]"
    return text + (f" ({_clips(f['unrecorded'])} not recorded)" if f.get("unrecorded") else "")


def _clips(n: int) -> str:
    return f"{n} clip" + ("" if n == 1 else "s")


def _verdicts(m: dict) -> str:
    return " / ".join(str(m["verdicts"][v]) for v in VERDICTS)


def _motion(b: dict) -> list[str]:
    """The motion-or-appearance section: the once-a-clip check, then each row's share."""
    m = b.get("motion")
    lines = ["### Motion or appearance?", ""]
    if not m or not m["clips"]:
        return [*lines, "Not recorded: these records were made before the motion column; rerun with a fresh "
                "`--records` folder to add it.", ""]
    removal = " and ".join(m["appearance_removal"])
    lines += [f"Once a clip, the model's answer whatever the map ({m['passes']} forward passes, "
              f"{_cell(m['seconds'], '.2f')} s a clip): "
              f"P(class) {_cell(m['prob'])}; its drop with motion removed (every frame the middle one) "
              f"{_cell(m['motion_drop'])}, with appearance removed ({removal}) {_cell(m['appearance_drop'])}; "
              f"verdicts motion / appearance / both / neither: **{_verdicts(m)}** of {m['clips']} clips "
              f"({m['weak']} weak: P(class) < 0.1)" + (f"; {_clips(m['unrecorded'])} not recorded" if m["unrecorded"] else "")
              + f". Moving voxels: {_cell(m['area'])} of the clip (a uniform map's share).", "",
              "| method | layer | motion_share | share − moving area | verdicts on its clips (m / a / b / n) |",
              "|---|---|---|---|---|"]
    for r in b["rows"]:
        rm = r.get("motion")
        d = rm["share_minus_area"] if rm else None
        diff = ("n/a" if not d["n"] else f"{d['mean']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"
                + (" (real)" if d["real"] else "")) if d else _UNRECORDED
        lines.append(f"| {r['label']} | {r['layer'] or '-'} | {_cell(r['figures'].get('motion_share'))} | {diff} | "
                     f"{_verdicts(rm) if rm and rm['clips'] else _UNRECORDED} |")
    return [*lines, ""]


def _motion_per_class(b: dict) -> list[str]:
    m = b.get("motion")
    if not m or not m["clips"]:
        return []
    lines = ["### Per class: motion or appearance?", "",
             "The verdict on the class's median drops, as the audit judges a class.", "",
             "| class | clips | verdicts (m / a / b / n) | median drop: motion / appearance | verdict |",
             "|---|---|---|---|---|"]
    for label, c in m["per_class"].items():
        lines.append(f"| {label} | {c['clips']} | {_verdicts(c)} | {c['motion_drop']:.2f} / {c['appearance_drop']:.2f} "
                     f"| {c['verdict']} |")
    return [*lines, ""]


def _heading(b: dict) -> str:
    return f"`{b['model']}` on `{b['data'].rstrip('/').split('/')[-1]}`, {b['split']} split"


def anchor(b: dict, boards: list[dict] = ()) -> str:
    """The link anchor of board ``b``'s section in the report of ``boards``, as GitHub and the Hub
    make it from its heading: a heading that sections before it already have gets "-1", "-2", ..."""
    slug = re.sub(r"[^\w\- ]", "", _heading(b).lower()).replace(" ", "-")
    before = [o for o in boards[:next((i for i, o in enumerate(boards) if o is b), len(boards))]
              if _heading(o) == _heading(b)]
    return f"{slug}-{len(before)}" if before else slug


_WAY = {name: way for _, name, way in FIGURES}  # which way is better, by figure


def _differences(b: dict, name: str) -> str:
    """One line: the real differences of figure ``name`` among ``b``'s rows, said from its best row
    (where the figure has a better direction) as the rows it beats and those it cannot be told from."""
    if name not in b["pairs"]:
        return f"- **{name}**: {_UNRECORDED}"
    pairs = b["pairs"][name]
    line = f"- **{name}**: {sum(p['real'] for p in pairs)} of {len(pairs)} pairs differ really"
    means = {r["key"]: r["figures"][name]["mean"] for r in b["rows"]
             if r["figures"].get(name, {}).get("n") and not math.isnan(r["figures"][name]["mean"])}
    if not _WAY.get(name) or not means or not pairs:
        return line
    sign = 1 if _WAY[name] == "higher" else -1
    best = max(means, key=lambda k: sign * means[k])
    beats, behind, ties = [], [], []
    for p in pairs:
        if best in (p["a"], p["b"]):
            other, d = (p["b"], p) if p["a"] == best else (p["a"], {**p, "mean": -p["mean"], "lo": -p["hi"], "hi": -p["lo"]})
            said = f"{other} {d['mean']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"
            if not p["real"]:
                ties.append(other)
            else:  # on the clips both have (the best mean is over the row's own clips, which may be more)
                (beats if sign * d["mean"] > 0 else behind).append(said)
    line += f"; best, {_WAY[name]} is better: {best} ({means[best]:.3f})"
    if beats:
        line += f"; really {'above' if sign > 0 else 'below'}: " + "; ".join(beats)
    if behind:
        line += "; yet on the clips both have, really behind: " + "; ".join(behind)
    if ties:
        line += "; not told apart from: " + ", ".join(ties)
    return line


def _section(b: dict) -> list[str]:
    top1 = b["top1"]
    which = "all" if b["per_class"] is None else f"the first {b['per_class']}"
    lines = [f"## {_heading(b)}", "",
             f"{b['clips']} clips ({which} of each "
             f"class; occlusion and RISE on the first {b['perturbation_per_class']}), {len(b['classes'])} classes; "
             f"top-1 {_cell(top1, '.1%')}.", ""]
    if b["per_class"] is not None:
        lines += [f"**A subsample, not the full table**: {b['per_class']} clip(s) a class; intervals this wide are what "
                  "so few clips can tell. The full table is `--clips-per-class 0`.", ""]
    if "magnitude" not in b:
        lines += ["**Randomisation figures are signed means**: this board was built before they became each clip's "
                  "|rho| (2026-12-07), so clips of opposite sign cancel in them. Build it again from its records "
                  "(`--resume`).", ""]
    for kind in KINDS:
        names = [(n, d) for k, n, d in FIGURES if k == kind]
        lines += [f"### {kind.capitalize()}", "",
                  "| method | layer | " + " | ".join(f"{n} {_BETTER[d]}".strip() for n, d in names) + " |",
                  "|---|---|" + "---|" * len(names)]
        for r in b["rows"]:
            lines.append(f"| {r['label']} | {r['layer'] or '-'} | "
                         + " | ".join(_cell(r["figures"].get(n)) for n, _ in names) + " |")
        lines.append("")
    lines += _motion(b)
    lines += ["### Cost", "", "| method | layer | clips | forward passes | seconds per clip |", "|---|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['layer'] or '-'} | {r['clips']} | {r['passes']} | {_cell(r['seconds'], '.2f')} |"
              for r in b["rows"]]
    if b.get("motion") and b["motion"]["clips"]:
        lines += ["", f"Beside the rows, once a clip: the motion check, {b['motion']['passes']} forward passes "
                  f"({_cell(b['motion']['seconds'], '.2f')} s)."]
    run = b.get("run") or {}
    if run.get("timed_clips"):
        n, cpu, threads = run["timed_clips"], run["cpu_seconds"], run.get("threads") or []
        lines += ["", f"The whole run, every test of every row, on its {n} timed clips: {cpu / 60:.1f} min of CPU "
                  f"({cpu / n:.0f} s a clip; {run['clip_seconds'] / 60:.1f} min wall, summed over processes)"
                  + (". Torch ran one thread a process, so P processes on P cores (`torchrun --nproc_per_node P`) "
                     f"take about {cpu / 60:.0f}/P min." if threads == [1] else
                     f"; torch threads a process: {', '.join(map(str, threads)) or 'not recorded'}.")]
    lines += ["", "### Which differences are real", "",
              "Paired bootstrap of the mean difference over the clips both rows were scored on; a difference is "
              "real when its 95% interval leaves out 0. Per figure: how many of the pairs differ really, and the "
              "best row against each other row (every pair is in the JSON, `pairs`).", ""]
    lines += [_differences(b, name) for name in HEADLINE]
    keys = [r["key"] for r in b["rows"]]
    lines += ["", f"### Per class: {HEADLINE[0]}", "", "| class | " + " | ".join(keys) + " |",
              "|---|" + "---|" * len(keys)]
    for label in b["classes"]:
        cells = [_cell(r["per_class"][label][HEADLINE[0]]) if label in r["per_class"] else "-" for r in b["rows"]]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", *_motion_per_class(b)]
    d = b["default"]
    lines += [f"**Default by the rule**: {d['method']}" + (f" at `{d['layer']}`" if d.get("layer") else "")
              + (f" ({d['note']})" if "note" in d else f" (as good as the best on pointing: {', '.join(d['as_good'])})")
              + f". Rule: {d['rule']}.", ""]
    return lines


def markdown(boards: list[dict], header: str) -> str:
    """The whole report: ``header`` (what the figures mean, the commands), then one section per board."""
    lines = [header.rstrip("\n"), ""]
    for b in boards:
        lines += _section(b)
    return "\n".join(lines) + "\n"
