"""Evaluate a model and its explanations on a held-out split with ground truth.

    python -m lab.evaluate --data /path/to/actions13 --split test --out docs/evaluation

Writes ``OUT.md`` (the report), ``OUT.json`` (every number) and ``OUT_confusion.png``
(:func:`lab.evaluate.report.evaluate`): top-1/top-2 accuracy and the confusion matrix
(time-mirrored pairs called out); explanation quality against the rendered masks and action
intervals, each next to a uniform-map baseline; and the model-randomisation sanity check.

    python -m lab.evaluate --data /path/to/actions13 --split test --grid i3d_tiny i3d_tiny14 \
        --out docs/evaluation

``--grid`` instead scores every method of the Grad-CAM family at ``layer3``, ``layer4`` and
LayerCAM fused over both for each model named (:mod:`lab.evaluate.grid`), writes
``OUT_layers.json``, and puts the table into ``OUT.md`` as its "Methods x layers" section,
leaving the rest of that report as it is (and vice versa).

    python -m lab.evaluate --data /path/to/actions13 --split test --methods i3d_tiny i3d_tiny14 \
        videomae_tiny --per-class 3 --out docs/evaluation

``--methods`` scores every method that applies to each model named (the Grad-CAM family at every
layer, LayerCAM fused, rollout, relevance, occlusion, rise; :mod:`lab.evaluate.methods`) with
deletion AUC, the sanity check and the cost, adds the results to ``docs/evaluation_methods.json``
(keyed by model, split and data set, so the test and unfamiliar splits are run one after the other) and
rewrites the "Methods x architectures" section of ``OUT.md`` from everything in it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from core.cam.settings import Method
from core.models import add_model_arguments, load_model

from .grid import SECTION, evaluate_layers, join_report, layers_markdown, split_report
from .report import confusion_png, evaluate, markdown

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="dataset root (SSv2 layout with ground_truth/)")
    p.add_argument("--split", default="test")
    add_model_arguments(p)
    p.add_argument("--method", default=Method.GRADCAM.value, choices=[m.value for m in Method])
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N clips")
    p.add_argument("--sanity-clips", type=int, default=26)
    p.add_argument("--out", default="docs/evaluation", help="writes OUT.md, OUT.json, OUT_confusion.png")
    p.add_argument("--grid", nargs="+", default=None, metavar="NAME[=WEIGHTS]",
                   help="instead: every method at layer3, layer4 and LayerCAM fused, for these models (default "
                        "weights unless =WEIGHTS); writes OUT_layers.json and OUT.md's 'Methods x layers' section")
    p.add_argument("--methods", nargs="+", default=None, metavar="NAME[=WEIGHTS]",
                   help="instead: every method that applies, for these models; writes OUT_methods.json and "
                        "OUT.md's 'Methods x architectures' section")
    p.add_argument("--per-class", type=int, default=3, help="--methods: clips per class (0: all)")
    p.add_argument("--checks-per-class", type=int, default=1,
                   help="--methods: clips per class for deletion, the sanity check, occlusion and rise")
    p.add_argument("--perturbation-sanity-clips", type=int, default=3,
                   help="--methods: clips for occlusion's and rise's sanity check")
    p.add_argument("--masks", type=int, default=250, help="--methods: RISE's masks")
    p.add_argument("--record-default", action="store_true",
                   help="--methods: write each model's default by the rule into core/models/measured.json "
                        "(the page's, the CLI's and the API's default method and layer)")
    a = p.parse_args(argv)
    torch.manual_seed(0)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python -m lab.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
    report = out.with_suffix(".md")
    if a.methods:
        return _methods(a, out, report, command)
    if a.grid:
        results = []
        for entry in a.grid:  # NAME, or NAME=WEIGHTS (e.g. i3d_tiny14=checkpoints/i3d_tiny.safetensors)
            name, _, weights = entry.partition("=")
            res = evaluate_layers(load_model(name, weights=weights or "default"), Path(a.data), a.split,
                                  limit=a.limit, sanity_clips=a.sanity_clips)
            results.append({**res, "model": entry})
        out.with_name(out.name + "_layers.json").write_text(json.dumps(results, indent=1) + "\n")
        section = layers_markdown(results, command)
        head, _, rest = split_report(report.read_text() if report.is_file() else "")
        report.write_text(join_report(head, section, rest))
        for r in results:
            print(f"{r['model']}: top-1 {r['top1']:.1%} -> {report} ({SECTION[3:]})")
        return 0
    model = load_model(a.model, weights=a.weights)
    result = evaluate(model, Path(a.data), a.split, limit=a.limit, sanity_clips=a.sanity_clips, method=a.method)
    png = out.with_name(out.name + "_confusion.png")
    confusion_png(result, png)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    _, section, rest = split_report(report.read_text()) if report.is_file() else ("", "", "")
    report.write_text(join_report(markdown(result, command, a.model, png.name), section, rest))  # keeps --grid's
    print(f"top-1 {result['top1']:.1%}  top-2 {result['top2']:.1%}  -> {out.with_suffix('.md')}")
    return 0


def _methods(a, out: Path, report: Path, command: str) -> int:
    from .methods import evaluate_methods, methods_markdown, record_default, replace_section

    store = out.with_name(out.name + "_methods.json")
    results = json.loads(store.read_text()) if store.is_file() else []
    for entry in a.methods:
        name, _, weights = entry.partition("=")
        model = load_model(name, weights=weights or "default")
        res = evaluate_methods(model, Path(a.data), a.split,
                               per_class=a.per_class or None, checks_per_class=a.checks_per_class,
                               perturbation_sanity_clips=a.perturbation_sanity_clips, masks=a.masks, limit=a.limit)
        res.update(model=entry, data=str(a.data), command=command)
        results = [r for r in results if (r["model"], r["split"], r.get("data")) != (entry, a.split, str(a.data))]
        results.append(res)
        store.write_text(json.dumps(results, indent=1) + "\n")  # after each model: a long run keeps what it did
        d = res["default"]
        print(f"{entry} {a.split}: top-1 {res['top1']:.1%}, default by the rule: {d['method']} {d.get('layer') or ''}")
        if a.record_default:
            record_default(res, families=_family(model), keep_other_default=True)  # the benchmark's default stays
    commands = sorted({r["command"] for r in results})
    section = methods_markdown(results, " ; ".join(commands))
    report.write_text(replace_section(report.read_text() if report.is_file() else "", section))
    return 0


def _family(model) -> str | None:
    """The Hugging Face family (``videomae``) of a transformer behind the project's interface, else None."""
    return getattr(getattr(getattr(model, "model", None), "config", None), "model_type", None)

if __name__ == "__main__":
    sys.exit(main())
