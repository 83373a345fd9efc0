"""python -m lab.data --out DIR --seed 0 --train N --val N --test N [--workers K]

Renders a synthetic Something-Something-style dataset in the SSv2 layout and prints a summary.
"""

from __future__ import annotations

import argparse
import sys

from .classes import CLASSES
from .generator import Style
from .shortcut import Shortcut
from .ssv2 import write_dataset


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: write HEIGHTxWIDTH, e.g. 120x160") from None
    return h, w


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lab.data", description=__doc__.splitlines()[2])
    p.add_argument("--out", required=True, help="folder to write (labels.json, videos/, ...)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed; same seed, same clips")
    p.add_argument("--train", type=int, default=13 * 40, help="training clips (balanced over classes)")
    p.add_argument("--val", type=int, default=13 * 10, help="validation clips")
    p.add_argument("--test", type=int, default=13 * 10, help="test clips (labels in test-answers.csv)")
    p.add_argument("--workers", type=int, default=1, help="processes rendering and encoding in parallel")
    p.add_argument("--container", choices=("webm", "mp4"), default="webm", help="webm (VP9, as SSv2) or mp4")
    p.add_argument("--size", type=_size, help="fixed frame size HxW, e.g. 120x160 (default: drawn per clip)")
    p.add_argument("--fps", type=float, help="fixed frame rate (default: drawn from 12-30 per clip)")
    p.add_argument("--duration", type=float,
                   help="fixed clip length in seconds (default: 1.5-4; 4.5-8 unfamiliar; 1.5-6 varied)")
    p.add_argument("--style", choices=[m.value for m in Style],
                   help="standard (the training data's look, the default), unfamiliar (a test set "
                        "unlike it: other backdrops, shapes, textures, speeds, 4.5-8 s clips) or varied "
                        "(training data varied along those axes from other pools) or appearance_free (the standard clips "
                        "in random dots: object and backdrop alike in any one frame, seen only by their motion)")
    p.add_argument("--shortcut", metavar="CLASS",
                   help="plant a shortcut: a logo in a fixed corner of every clip of this class (a class "
                        "template, e.g. 'Pushing [something] so that it slightly moves'); the manifest says where")
    p.add_argument("--shortcut-corner", default="top-left",
                   choices=("top-left", "top-right", "bottom-left", "bottom-right"), help="where the logo goes")
    p.add_argument("--overwrite", action="store_true", help="write into a folder that holds a dataset")
    a = p.parse_args(argv)
    options = {k: v for k, v in (("size", a.size), ("fps", a.fps), ("duration", a.duration), ("style", a.style))
               if v is not None}
    if a.shortcut is not None:
        try:
            options["shortcut"] = Shortcut(a.shortcut, corner=a.shortcut_corner)
        except ValueError as e:
            p.error(str(e))
    try:
        s = write_dataset(a.out, n_train=a.train, n_val=a.val, n_test=a.test, seed=a.seed,
                          workers=a.workers, container=a.container, progress=True, overwrite=a.overwrite,
                          render_options=options)
    except (ValueError, FileExistsError) as e:
        p.error(str(e))
    print("\n".join(_summary(s)))
    return 0


def _summary(s: dict) -> list[str]:
    """What :func:`write_dataset` wrote, a line per split."""
    total = sum(v["clips"] for v in s["splits"].values())
    lines = [f"wrote {total} clips to {s['root']} in {s['seconds']:.1f} s "
             f"({total / max(s['seconds'], 1e-9):.1f} clips/s, {s['bytes'] / 2**20:.1f} MiB of video)"]
    for split, v in s["splits"].items():
        per = sorted(v["per_class"].values())
        lines.append(f"  {split:<10} {v['clips']:>6} clips, {per[0]}-{per[-1]} per class")
    return [*lines, f"  {len(CLASSES)} classes: labels.json; ground truth: ground_truth/{{id}}.npz"]


if __name__ == "__main__":
    sys.exit(main())
