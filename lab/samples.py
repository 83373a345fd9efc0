"""Build the app's sample clips and the 2017 post's positive / medium / negative tables.

    python -m lab.samples --data /path/to/actions13 --split test --out demo

Writes ``OUT/samples/`` (one held-out mp4 per class, ``index.json``) and ``OUT/gallery/``
(combined "original | heatmap" GIFs, ``gallery.json``, ``gallery.md``). A sample is the first
test clip of its class that the model gets right, both from the source file and from the
re-encoded mp4 that ships (the page is a demo; ``docs/evaluation.md`` has
the unselected numbers). The gallery's tables, as in the post: *positive* = right with
probability >= 0.8, *medium* = the true class in the top 2 but not a confident top 1, *negative*
= the true class outside the top 2.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from core import render
from core.cam import explain
from core.models import add_model_arguments, load_model
from core.video import read_clip

from .data.ssv2 import SSv2Dataset, decode_video, write_video

__all__ = ["main"]

TABLE_SIZES = {"positive": 7, "medium": 4, "negative": 3}  # as many as the post shows


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower().replace("[something]", "")).strip("_")


def _table(true: int, top2: list[int], p1: float) -> str:
    if top2[0] == true and p1 >= 0.8:
        return "positive"
    return "medium" if true in top2 else "negative"


def build(model, root: Path, out: Path, split: str = "test", max_side: int = 240, gallery_only: bool = False) -> dict:
    """The samples and the gallery; ``gallery_only``: only the tables, in ``OUT/gallery/MODEL/``
    (another shipped model's, shown beside the default's)."""
    spec = model.spec
    cats = list(spec.categories)
    ds = SSv2Dataset(root, split, classes=cats)
    sample_dir, gallery_dir = out / "samples", out / "gallery"
    if gallery_only:
        gallery_dir = gallery_dir / spec.name
    else:
        sample_dir.mkdir(parents=True, exist_ok=True)
    gallery_dir.mkdir(parents=True, exist_ok=True)
    samples, gallery = {}, []
    counts = dict.fromkeys(TABLE_SIZES, 0)
    for i in range(len(ds)):
        y = ds.samples[i].target
        if (gallery_only or len(samples) == len(cats)) and all(counts[t] >= n for t, n in TABLE_SIZES.items()):
            break
        need_sample = cats[y] not in samples and not gallery_only
        path = ds.video_path(i)
        clip = read_clip(path, spec)
        exp = explain(model, clip, y)
        top2 = exp.probs.topk(2).indices.tolist()
        p = exp.probs.tolist()
        if need_sample and top2[0] == y:
            name = f"{_slug(cats[y])}.mp4"
            frames = decode_video(path)
            h, w = frames.shape[1:3]
            write_video(sample_dir / name, frames[:, : h - h % 2, : w - w % 2], clip.source_fps, crf=26)
            # the app classifies the re-encoded mp4, not the source: keep it only if that is still right
            if explain(model, read_clip(sample_dir / name, spec), y).probs.argmax().item() == y:
                samples[cats[y]] = {"file": name, "label": cats[y], "id": ds.samples[i].id}
            else:
                (sample_dir / name).unlink()
        table = _table(y, top2, p[top2[0]])
        if counts[table] < TABLE_SIZES[table] and y not in [g["_y"] for g in gallery if g["table"] == table]:
            gif = f"{table}_{ds.samples[i].id}.gif"
            render.render_explanation(clip.frames, exp.maps_on_frames()[0], gallery_dir,
                                      files={"combined.gif": gif}, alpha=0.5, max_side=max_side)
            gallery.append({"table": table, "gif": gif, "true": cats[y], "id": ds.samples[i].id,
                            "top2": [[cats[j], round(p[j], 4)] for j in top2], "_y": y})
            counts[table] += 1
    for g in gallery:
        g.pop("_y")
    index = [samples[c] for c in cats if c in samples]
    if not gallery_only:
        (sample_dir / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    (gallery_dir / "gallery.json").write_text(json.dumps(gallery, indent=1) + "\n")
    (gallery_dir / "gallery.md").write_text(_markdown(gallery, spec.name))
    return {"samples": len(index), "gallery": counts}


def _markdown(gallery: list[dict], model: str) -> str:
    lines = [f"# Held-out clips explained by `{model}` (the 2017 post's tables)", "",
             "Regenerate: `python -m lab.samples --data DATA --out demo` (see docs/training.md, 'Reproduce the shipped models').", ""]
    for table in TABLE_SIZES:
        rows = [g for g in gallery if g["table"] == table]
        lines += [f"## {table.capitalize()}", "", "| # | original and heatmap | label |", "|:-:|:-:|:--|"]
        for k, g in enumerate(rows, 1):
            preds = "<br>".join(f"{j}. {lab} :-- {s:.2f}" for j, (lab, s) in enumerate(g["top2"], 1))
            lines.append(f"| {k} | ![{g['true']}]({g['gif']}) | **True**<br>{g['true']}<br><br>**Predictions**<br>{preds} |")
        if not rows:
            lines.append("| | none in this split | |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.samples", description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    add_model_arguments(p)
    p.add_argument("--out", default="demo")
    p.add_argument("--gallery-only", action="store_true",
                   help="only the post's tables, in OUT/gallery/MODEL/ (another model's, beside the default's)")
    a = p.parse_args(argv)
    np.random.seed(0)
    summary = build(load_model(a.model, weights=a.weights), Path(a.data), Path(a.out), a.split,
                    gallery_only=a.gallery_only)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
