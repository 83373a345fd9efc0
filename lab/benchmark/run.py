"""Run the benchmark on a split: records on disk as they are made, resumable, sharded.

As ``python -m core audit`` does (:mod:`core.audit.run`): each clip's record is written to the
records folder as soon as it is done (whole or not at all), so a run killed (even ``kill -9``)
and started again with ``--resume`` redoes none of them; ``run.json`` there says which model,
rows, clips and options made them, and a folder of another run is refused. Under ``torchrun``
each rank takes every ``WORLD_SIZE``-th clip (:class:`core.longvideo.shard.Rank`), and rank 0,
given every rank's records over the process group, builds the leaderboard. :func:`measure_share` and
:func:`gather_board` are the two halves of :func:`benchmark`: ``python -m lab.benchmark`` measures every
model before it gathers any, so a rank that is done with a model's clips starts the next model's
instead of waiting for the other ranks (``start``: turns go on across models).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from core.audit.run import claim_records, split_done, write_json
from core.errors import SettingsError

from .measure import Options, Sample, measure_clip, rows_for

__all__ = ["Measured", "benchmark", "gather_board", "measure_share", "samples"]


def samples(spec, root: Path, split: str, *, per_class: int | None, perturbation_per_class: int) -> list[Sample]:
    """The first ``per_class`` clips of each class of ``split`` (None: all), the first
    ``perturbation_per_class`` of them marked for occlusion and RISE."""
    from ..data import CAMERA_CLASSES
    from ..data.ssv2 import SSv2Dataset

    root = Path(root)
    if not (root / f"{split}.json").is_file():
        raise SettingsError(f"--data {root}: no {split}.json; give a folder written by python -m lab.data")
    ds = SSv2Dataset(root, split, classes=spec.categories)
    seen: Counter[int] = Counter()
    out = []
    for i, smp in enumerate(ds.samples):
        y = smp.target
        if y < 0 or (per_class is not None and seen[y] >= per_class):
            continue
        seen[y] += 1
        gt = ds.ground_truth(i)
        out.append(Sample(i, smp.id, y, ds.video_path(i), None if gt is None else gt.masks,
                          None if gt is None else tuple(gt.interval), 25.0 if gt is None else float(gt.fps),
                          spec.categories[y] not in CAMERA_CLASSES, seen[y] <= perturbation_per_class))
    if not out:
        raise SettingsError(f"--data {root}: {split} holds no clip of {spec.name}'s classes")
    return out


@dataclass
class Measured:
    """One model's records made or found by this rank (:func:`measure_share`), and what its board needs."""

    spec: object
    rows: list
    records: list[dict]
    clips: int  # every rank's: the model's whole list
    split: str
    root: Path
    options: Options
    per_class: int | None
    perturbation_per_class: int


def benchmark(model, root, split: str = "test", *, records: Path, methods=None, layers=None,
              per_class: int | None = None, perturbation_per_class: int = 5, options: Options | None = None,
              resume: bool = False, rank=None, progress: bool = True) -> dict | None:
    """Measure every row on the clips of ``split`` and return the model's leaderboard
    (:func:`lab.benchmark.board.leaderboard`), or None on a rank other than 0 under torchrun.
    ``records``: the folder for this model's records (see the module's docstring)."""
    done = measure_share(model, root, split, records=records, methods=methods, layers=layers,
                         per_class=per_class, perturbation_per_class=perturbation_per_class, options=options,
                         resume=resume, rank=rank, progress=progress)
    return gather_board(done, rank)


def measure_share(model, root, split: str = "test", *, records: Path, methods=None, layers=None,
                  per_class: int | None = None, perturbation_per_class: int = 5, options: Options | None = None,
                  resume: bool = False, rank=None, progress: bool = True, start: int = 0) -> Measured:
    """This rank's share of the model's clips, measured (or read back, ``resume``): no gather, so
    nothing waits for another rank. ``start``: the position of the model's first clip in the
    run's list of every model's clips (:meth:`core.longvideo.shard.Rank.take`)."""
    from tqdm import tqdm

    from core.cam import Explainer
    from core.longvideo.shard import Rank

    opts = options or Options()
    rank = rank or Rank()
    spec = model.spec
    rows = rows_for(spec, methods, layers)
    items = samples(spec, root, split, per_class=per_class, perturbation_per_class=perturbation_per_class)
    mine = rank.take(items, start)
    folder = Path(records)
    claim_records(folder, mine, {"model": spec.name, "split": split, "rows": [r.key for r in rows],
                                 "clips": [s.name for s in items], "options": opts.to_dict()}, resume,
                  other=f"{folder} holds the records of another benchmark run (another model, rows, clips or options); "
                        "pick another --records folder",
                  again=f"{folder} holds records of this run already; pass --resume to finish it, or pick another "
                        "--records folder")
    ex = Explainer(model, spec, cache_size=2)
    done, todo = split_done(folder, mine)
    for s, path in tqdm(todo, desc=f"benchmark {spec.name}", unit="clip", disable=not progress or rank.rank != 0):
        t0, c0 = time.perf_counter(), time.process_time()
        rec = measure_clip(ex, s, rows, opts)
        # the clip's whole cost, every test of every row: wall time, and this process's CPU time (all
        # its threads), which other work on the machine does not inflate; with torch's threads
        rec["seconds"] = round(time.perf_counter() - t0, 1)
        rec["cpu_seconds"] = round(time.process_time() - c0, 1)
        rec["threads"] = torch.get_num_threads()
        write_json(path, rec)
        done.append(rec)
    return Measured(spec, rows, done, len(items), split, Path(root), opts, per_class, perturbation_per_class)


def gather_board(done: Measured, rank=None) -> dict | None:
    """The model's leaderboard from every rank's records of it (gathered over the process group
    under torchrun), on rank 0; None on the others."""
    from core.longvideo.shard import Rank, gather_records

    from .board import leaderboard

    result: dict = {}

    def finish(everything: list[dict]) -> None:
        result["board"] = leaderboard(everything, done.rows, spec=done.spec, split=done.split, data=str(done.root),
                                      options=done.options, per_class=done.per_class,
                                      perturbation_per_class=done.perturbation_per_class)

    gather_records(rank or Rank(), sorted(done.records, key=lambda r: r["index"]), finish)
    return result.get("board")
