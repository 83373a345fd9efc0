"""``python -m core audit DATA --out DIR``: explain every labelled video, then judge each class.

Each video's record is written to ``DIR/records/`` as soon as it is done, so ``--resume`` after
the process died (even ``kill -9``) redoes none of them; under ``torchrun`` each rank takes
every ``WORLD_SIZE``-th video and rank 0, given every rank's records over the process group,
judges the classes and writes ``audit.json`` and ``report.html``. What ``audit.json`` holds
comes from the records alone, in list order, so an interrupted and resumed audit writes the same
file as one that ran through (its ``timings`` aside).

Length: the run, its resumable records and the judging of classes share one record format; split, each part would restate it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import SettingsError, UserError

__all__ = ["add_arguments", "audit", "audit_records", "claim_records", "judge", "run", "split_done", "write_json"]

_RECORDS = "records"


def add_arguments(p: argparse.ArgumentParser, add_model_arguments) -> None:
    p.add_argument("data", help="an SSv2-layout folder (labels.json, test.json, videos/), or a folder of "
                   "videos with --labels")
    add_model_arguments(p, default=None)
    p.add_argument("--out", required=True, help="folder for audit.json, report.html, records/ and clips/")
    p.add_argument("--labels", metavar="FILE", help="CSV of file,label rows (file relative to DATA)")
    p.add_argument("--split", default="test", help="the SSv2 split to audit (default %(default)s)")
    p.add_argument("--method", default=None, help="explanation method (default: the model's measured default)")
    p.add_argument("--layer", default=None, help="target layer (default: the method's default for the model)")
    p.add_argument("--per-class", type=int, default=2, metavar="K",
                   help="clips shown in each of a class's positive, medium and negative tables")
    p.add_argument("--causal-clips", type=int, default=24, metavar="N",
                   help="clips of other classes the region is pasted into, per suspicious class")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="audit the first N videos only")
    p.add_argument("--resume", action="store_true", help="keep the records in --out/records and do the rest")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


def write_json(path: Path, obj) -> None:
    """Whole or not at all: a kill leaves the old file or none, never half of one."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    os.replace(tmp, path)


def split_done(folder: Path, items) -> tuple[list[dict], list[tuple[object, Path]]]:
    """(the records of the ``items`` already in ``folder``, [(item, its record's path)] for the
    rest): one ``{item.index:07d}.json`` per item, as a resumed run finds them."""
    done, todo = [], []
    for item in items:
        path = folder / f"{item.index:07d}.json"
        if path.is_file():
            done.append(json.loads(path.read_text()))
        else:
            todo.append((item, path))
    return done, todo


def audit_records(explainer, items, settings, folder: Path, *, progress=None, limits=None) -> list[dict]:
    """The records of ``items``: read from ``folder`` where done, made (and written there) otherwise.

    A video that cannot be read becomes a record with its ``error`` (the audit goes on).
    ``progress(done, total)`` is called after each video made (default: a tqdm bar with the time
    left; ``False``: none). ``limits``: the decoder's (:class:`core.video.Limits`)."""
    from .evidence import video_record

    folder.mkdir(parents=True, exist_ok=True)
    out, todo = split_done(folder, items)
    bar = None
    if progress is None:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="audit", unit="video", disable=None)
    try:
        for k, (item, path) in enumerate(todo, 1):
            try:
                rec, maps = video_record(explainer, item, settings, limits)
                np.savez(path.with_suffix(".npz"), maps=maps)  # before the record, which marks it done
            except UserError as e:  # a bad or unreadable video: recorded, skipped
                rec = {"index": item.index, "video": item.name, "target": item.target, "error": str(e)}
            write_json(path, rec)
            out.append(rec)
            if bar is not None:
                bar.update()
            elif progress:
                progress(k, len(todo))
    finally:
        if bar is not None:
            bar.close()
    return sorted(out, key=lambda r: r["index"])


def judge(records: list[dict], categories, *, per_class: int, causal=None) -> dict:
    """Per class: counts, accuracy, confusions, the three tables, the evidence screen and, for
    suspicious classes, ``causal(c, evidence, records)``'s test. Plain data, in class order."""
    from .shortcuts import class_evidence, flagged

    ok = [r for r in records if "error" not in r]
    classes, flags = {}, []
    for c, label in enumerate(categories):
        mine = [r for r in ok if r["target"] == c]
        if not mine:
            continue
        wrong = Counter(r["top2"][0][0] for r in mine if r["rank"] != 0)
        positive = sorted((r for r in mine if r["rank"] == 0), key=lambda r: (-r["p_true"], r["index"]))
        medium = sorted((r for r in mine if r["rank"] == 1), key=lambda r: (-r["p_true"], r["index"]))
        negative = sorted((r for r in mine if r["rank"] >= 2), key=lambda r: (r["p_true"], r["index"]))
        evidence = class_evidence(mine) if len(mine) >= 3 else None
        shortcut = None
        if evidence is not None and evidence["suspicious"] and causal is not None:
            test = causal(c, evidence, ok)
            by = flagged(test, test.get("removal"))
            shortcut = {"region": evidence["region"], **test, "flagged": bool(by), "flagged_by": by}
            if shortcut["flagged"]:
                flags.append(label)
        classes[label] = {
            "n": len(mine),
            "top1": round(sum(r["rank"] == 0 for r in mine) / len(mine), 4),
            "confusions": dict(sorted(wrong.items(), key=lambda kv: (-kv[1], kv[0]))),
            "tables": {name: [_entry(r) for r in rows[:per_class]]
                       for name, rows in (("positive", positive), ("medium", medium), ("negative", negative))},
            "evidence": evidence,
            "shortcut": shortcut,
            "motion": _motion(mine),
        }
    return {"classes": classes, "flagged": flags,
            "errors": [{"video": r["video"], "error": r["error"]} for r in records if "error" in r]}


def _motion(records: list[dict]) -> dict | None:
    """Motion or appearance for a class (records' ``moves``, :mod:`core.trust.motion`): the mean
    share of its evidence on what moves (and the moving area, a uniform map's share), the median
    drops, the verdict of the median drops by the per-clip rule, the per-clip verdicts and how many
    are weak; None for records made without it."""
    from ..trust.motion import motion_verdict

    rows = [r["moves"] for r in records if r.get("moves")]
    if not rows:
        return None
    shares = [m["share"] for m in rows if m["share"] is not None]
    md, ad = (float(np.median([m[k] for m in rows])) for k in ("motion_drop", "appearance_drop"))
    return {"n": len(rows), "share": round(float(np.mean(shares)), 4) if shares else None,
            "area": round(float(np.mean([m["area"] for m in rows])), 4), "motion_drop": round(md, 4),
            "appearance_drop": round(ad, 4), "verdict": motion_verdict(md, ad),
            "verdicts": dict(sorted(Counter(m["verdict"] for m in rows).items())),
            "weak": sum(bool(m.get("weak")) for m in rows)}  # clips whose P(class) is below MIN_PROB


def _entry(r: dict) -> dict:
    return {"index": r["index"], "video": r["video"], "p_true": r["p_true"], "top2": r["top2"]}


def run(a: argparse.Namespace) -> int:
    from ..cam import Explainer, resolve_device
    from ..longvideo.shard import this_rank
    from ..models import DEFAULT_MODEL, load_model
    from .inputs import read_items

    if a.limit is not None and a.limit < 1:
        raise SettingsError(f"--limit {a.limit}; give the number of videos to audit, 1 or more")
    rank = this_rank()
    device = resolve_device(rank.device(a.device))
    model = load_model(a.model or DEFAULT_MODEL, weights=a.weights, device=device)
    items = read_items(a.data, model.spec.categories, labels=a.labels, split=a.split)[: a.limit]
    result = audit(Explainer(model, cache_size=1), items, a.out, data=a.data, split=None if a.labels else a.split,
                   labels=a.labels, method=a.method, layer=a.layer, per_class=a.per_class,
                   causal_clips=a.causal_clips, resume=a.resume, rank=rank)
    if result is None:  # not rank 0
        return 0
    for label in result["flagged"]:
        s = result["classes"][label]["shortcut"]
        r = s["removal"]
        print(f"flagged: {label!r}, region {s['region']['box']} (x0, y0, x1, y1): covering it loses the class in "
              f"{_pct(r['drop_rate'])} of {r['n']} clips (control {_pct(r['control_drop_rate'])}); pasting it "
              f"turns {_pct(s['flip_rate'])} of {s['n']} other clips into it (control {_pct(s['control_rate'])})")
    print(f"audited {len(items) - len(result['errors'])} of {len(items)} videos "
          f"({len(result['errors'])} unreadable), {len(result['classes'])} classes, "
          f"{len(result['flagged'])} flagged; wrote audit.json, report.html to {a.out}")
    return 0


def _pct(v) -> str:
    return "-" if v is None else f"{v:.0%}"


def audit(explainer, items, out, *, data=None, split: str | None = None, labels=None, method=None, layer=None,
          per_class: int = 2, causal_clips: int = 24, resume: bool = False, progress=None, rank=None,
          limits=None) -> dict | None:
    """Audit ``items`` (:func:`~core.audit.inputs.read_items`) with ``explainer``'s model into
    folder ``out``: ``audit.json``, ``report.html``, ``clips/`` and ``records/``. Returns the
    audit (as ``audit.json`` holds it), or None on a rank other than 0 under torchrun.

    ``method``/``layer``: default the model's measured default. ``per_class``: clips in each of a
    class's three tables; ``causal_clips``: clips each suspicious region is pasted into;
    ``resume``: keep the records in ``out/records`` (else a folder holding some is refused);
    ``progress(done, total)`` after each video (see :func:`audit_records`); ``limits``: the
    decoder's (:class:`core.video.Limits`; the page's for uploads).
    """
    from ..longvideo.shard import Rank, gather_records

    for name, value in (("per_class", per_class), ("causal_clips", causal_clips)):
        if not isinstance(value, int) or value < 0:
            raise SettingsError(f"--{name.replace('_', '-')} {value!r}; give 0 or more")
    t0 = time.perf_counter()
    rank = rank or Rank()
    out = Path(out)
    folder = out / _RECORDS
    settings, _ = explainer.settings_for(method=method, layer=layer)
    claim_records(folder, rank.take(items), {"model": explainer.spec.name, "method": settings.method.value,
                                             "layer": _layer(explainer, settings), "videos": [it.name for it in items]},
                  resume, other=f"{out} holds the records of another audit (another model, method or list of videos); "
                                "pick another --out",
                  again=f"{out} holds an audit already; pass --resume to finish it, or pick another --out")
    records = audit_records(explainer, rank.take(items), settings, folder,
                            progress=progress if rank.rank == 0 else False, limits=limits)
    done: dict = {}
    info = {"data": None if data is None else str(data), "split": split, "labels": None if labels is None else str(labels)}

    def finish(everything: list[dict]) -> None:
        done["result"] = _finish(explainer, items, everything, settings, info, per_class, causal_clips, out, t0,
                                 rank.world, limits)

    gather_records(rank, records, finish)
    return done.get("result")


def claim_records(folder: Path, items, run: dict, resume: bool, *, other: str, again: str) -> None:
    """Make ``folder`` this run's records folder, stamped ``run.json`` with ``run`` (what made the
    records: model, settings, items); refuse (:class:`SettingsError`) one stamped by another run
    (the message ``other``), or, without ``resume``, one that holds a record of ``items`` already
    (``again``). Under torchrun each rank passes its own items (no other rank writes those, so a
    fast rank cannot make a slow one refuse). The audit's and ``lab.benchmark``'s records."""
    stamp = folder / "run.json"
    if stamp.is_file() and json.loads(stamp.read_text()) != run:
        raise SettingsError(other)
    if not resume and any((folder / f"{it.index:07d}.json").is_file() for it in items):
        raise SettingsError(again)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(stamp, run)


def _finish(explainer, items, records, settings, info: dict, per_class: int, causal_clips: int, out: Path,
            t0: float, world: int, limits) -> dict:
    from .evidence import input_of
    from .report import write_report
    from .shortcuts import causal_test, grown, removal_test

    by_index = {it.index: it for it in items}
    cache: dict[int, object] = {}

    def load(index: int):
        if index not in cache:
            cache[index] = input_of(by_index[index], explainer.spec, limits)
        return cache[index]

    passes = {"n": 0}

    def causal(c, evidence, ok):
        grid = tuple(evidence["grid"])
        tested = {"cells": grown(evidence["region"]["cells"], grid)}
        test = causal_test(explainer.predict, load, c, tested, grid, ok, n=causal_clips)
        test["removal"] = removal_test(explainer.predict, load, c, tested, grid, ok, n=causal_clips)
        test["tested_cells"] = tested["cells"]
        passes["n"] += test["forward_passes"] + test["removal"]["forward_passes"]
        return test

    t1 = time.perf_counter()
    result = judge(records, explainer.spec.categories, per_class=per_class, causal=causal)
    t2 = time.perf_counter()
    ok = [r for r in records if "error" not in r]
    audit = {
        "model": explainer.spec.name,
        "method": settings.method.value,
        "layer": _layer(explainer, settings),
        **info,
        "videos": len(items),
        **result,
        "thresholds": _thresholds(),
        "timings": {
            "decode_s": round(sum(r["seconds"]["decode"] for r in ok), 2),
            "explain_s": round(sum(r["seconds"]["explain"] for r in ok), 2),
            "causal_s": round(t2 - t1, 2), "causal_forward_passes": passes["n"],
            "ranks": world,
        },
    }
    t3 = time.perf_counter()
    write_report(out, audit, explainer, settings, by_index, load, limits, maps_dir=out / _RECORDS)
    audit["timings"]["report_s"] = round(time.perf_counter() - t3, 2)
    audit["timings"]["total_s"] = round(time.perf_counter() - t0, 2)
    write_json(out / "audit.json", audit)
    return audit


def _layer(explainer, settings) -> str | None:
    from ..cam.methods import CAM_FUNCTIONS

    if settings.method not in CAM_FUNCTIONS:
        return None
    return settings.layer or explainer.spec.default_layer


def _thresholds() -> dict:
    from . import shortcuts as s

    return {"region_level": s.REGION_LEVEL, "max_region": s.MAX_REGION, "min_fixed": s.MIN_FIXED, "min_off_motion": s.MIN_OFF_MOTION,
            "flag_flip_rate": s.FLAG_FLIP, "flag_margin_over_control": s.FLAG_MARGIN}

