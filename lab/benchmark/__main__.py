"""The benchmark of video explanations: every method x model, six kinds of evidence and motion, intervals.

    python -m lab.benchmark --data /path/to/actions13 --model i3d_tiny --clips-per-class 0 \
        --out docs/benchmark.json

Scores every method that applies to the model (or ``--methods``; the Grad-CAM family at every
layer, or ``--layers``) on the clips of ``--split`` with ground truth, writes each clip's record
to ``--records`` as it goes (``--resume`` finishes a killed run), then puts the model's
leaderboard into ``--out`` (JSON, keyed by model, split and data set, so models and splits are
run one after another) and rewrites ``OUT.md`` from everything in it. Under ``torchrun`` each
process takes every WORLD_SIZE-th clip, the turns going on from one model's clips to the next's,
and measures its share of every model before the records are gathered: no process waits between
models. ``--record-default`` writes the default by the rule into
``core/models/measured.json`` (from a full run only).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path

__all__ = ["main"]

EPILOG = """Motion or appearance? Each row gets motion_share, the share of its map's evidence on the
voxels that move (no forward pass); each clip, once for all rows, the class's probability with
motion removed and with appearance removed, and the verdict (2 more forward passes a clip)."""

HEADER = """# Benchmark of video explanations

What each figure is, and where it differs from Quantus's, is in
[benchmark_metrics.md](benchmark_metrics.md). Cells: mean over clips [95% bootstrap interval];
"(1 clip)": no interval can be had from one clip; "n/a": not measurable on these clips;
"does not apply": the method makes no such claim; "not recorded": the records were made before
the figure existed. ↑/↓: which way is better.

Regenerate: {commands}
"""


def main(argv: list[str] | None = None) -> int:
    from core.cam import resolve_device
    from core.cam.settings import Method
    from core.errors import SettingsError
    from core.longvideo.shard import this_rank
    from core.models import load_model

    from .board import write_measured
    from .measure import Options
    from .report import anchor, markdown
    from .run import gather_board, measure_share

    p = argparse.ArgumentParser(prog="python -m lab.benchmark", description=__doc__.splitlines()[0], epilog=EPILOG)
    p.add_argument("--data", required=True, help="a folder written by python -m lab.data (test.json, ground_truth/)")
    p.add_argument("--split", default="test")
    p.add_argument("--model", required=True, nargs="+", metavar="NAME",
                   help="registered model names or Hugging Face folders (save_pretrained), one leaderboard each")
    p.add_argument("--methods", nargs="+", choices=[m.value for m in Method], default=None,
                   help="default: every method that applies to the model")
    p.add_argument("--layers", nargs="+", default=None, help="the Grad-CAM family's layers (default: all)")
    p.add_argument("--clips-per-class", type=int, default=0, metavar="N", help="first N clips a class (0: all)")
    p.add_argument("--perturbation-clips-per-class", type=int, default=5, metavar="N",
                   help="clips a class for occlusion and RISE (default %(default)s)")
    p.add_argument("--noise-samples", type=int, default=Options.noise_samples, metavar="N",
                   help="max-sensitivity's noise draws a row and clip (default %(default)s)")
    p.add_argument("--cascade-depth", type=int, default=None, metavar="N",
                   help="layers the cascade randomises (default: all)")
    p.add_argument("--masks", type=int, default=Options.masks, help="RISE's masks")
    p.add_argument("--out", default="docs/benchmark.json", help="the leaderboards (JSON); OUT.md beside it")
    p.add_argument("--records", default=None, help="folder of the per-clip records (default: OUT_records/)")
    p.add_argument("--resume", action="store_true", help="keep the records there and do the rest")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="under torchrun with GPUs, each process takes cuda:LOCAL_RANK")
    p.add_argument("--record-default", action="store_true",
                   help="write each model's default by the rule into core/models/measured.json")
    a = p.parse_args(argv)
    for name in ("clips_per_class", "perturbation_clips_per_class", "noise_samples"):
        if getattr(a, name) < 0:
            raise SettingsError(f"--{name.replace('_', '-')} {getattr(a, name)}; give 0 or more")
    out = Path(a.out)
    # the report a recorded default names: refused before the run, not after it
    table = _in_repository(out.with_suffix(".md")) if a.record_default else None
    records = Path(a.records) if a.records else out.with_name(out.stem + "_records")
    opts = Options(noise_samples=a.noise_samples, cascade_depth=a.cascade_depth, masks=a.masks)
    rank = this_rank()
    device = resolve_device(rank.device(a.device))
    command = "python -m lab.benchmark " + shlex.join(argv if argv is not None else sys.argv[1:])
    # every model measured before any is gathered: a rank done with a model's clips goes on with
    # the next model's, and the turns go on across models (start), so the ranks' shares even out
    measured, start = [], 0
    for name in a.model:
        model = load_model(name, device=device)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model.spec.name).name)  # a Hub folder's name, not its path
        measured.append(measure_share(model, Path(a.data), a.split, records=records / f"{slug}_{a.split}",
                                      methods=a.methods, layers=a.layers, per_class=a.clips_per_class or None,
                                      perturbation_per_class=a.perturbation_clips_per_class, options=opts,
                                      resume=a.resume, rank=rank, start=start))
        start += measured[-1].clips
        del model
    for done in measured:
        board = gather_board(done, rank)
        if board is None:  # not rank 0
            continue
        board["command"] = command
        boards = json.loads(out.read_text()) if out.is_file() else []
        boards = [b for b in boards if (b["model"], b["split"], b["data"]) != (board["model"], a.split, board["data"])]
        boards.append(board)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(_finite(boards), indent=1) + "\n")
        d = board["default"]
        print(f"{board['model']} {a.split}: {board['clips']} clips; default by the rule: {d['method']} "
              f"{d.get('layer') or ''} -> {out}")
        if a.record_default:
            write_measured(board, f"{table}#{anchor(board, boards)}")
    if rank.rank == 0 and out.is_file():
        boards = json.loads(out.read_text())
        commands = " ; ".join(sorted({f"`{b['command']}`" for b in boards}))
        out.with_suffix(".md").write_text(markdown(boards, HEADER.format(commands=commands)))
    return 0


REPOSITORY = Path(__file__).resolve().parents[2]


def _in_repository(path: Path) -> str:
    """``path`` as the repository names it (relative to its root): the table a default names must
    ship with the code, so the page can link it."""
    from core.errors import SettingsError

    try:
        return Path(path).resolve().relative_to(REPOSITORY).as_posix()
    except ValueError:
        raise SettingsError(f"--record-default with --out {path.with_suffix('.json')}: the defaults must name a "
                            f"table that ships with the code; write the report inside {REPOSITORY} "
                            "(e.g. --out docs/benchmark.json)") from None


def _finite(obj):
    """``obj`` with NaN as null: the JSON any reader takes (a figure nothing measured has n 0)."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


if __name__ == "__main__":
    sys.exit(main())
