"""Command line: ``python -m core models | explain VIDEO ... | timeline VIDEO ... | audit DATA ... | live SOURCE ... | download NAME``.

Exit status: 0 on success, 2 with a one-line message on stderr for anything the user can fix
(a :class:`core.UserError`: a bad video, an unknown class or model, missing weights, a bad
setting), 1 for anything else: a bug, printed with its traceback and reported as one.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from .attribution import ATTRIBUTIONS
from .attribution.perturb import DESIGNS, Baseline
from .cam.registry import registered
from .cam.settings import Normalize, Pooling
from .errors import UserError
from .models.registry import add_model_arguments
from .video import SAMPLING_POLICIES

__all__ = ["main"]


def _opacity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in [0, 1]")
    return value


def _prog() -> str:
    """``videocam`` (the installed command) or ``python -m core`` (``python -m videocam`` installed)."""
    return "videocam" if Path(sys.argv[0]).stem == "videocam" else f"python -m {__package__}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=_prog(), description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("models", help="list models and whether their weights are on this machine")
    d = sub.add_parser("download", help="fetch a model's weights (needs internet): a registered "
                       "torchvision model, or a Hugging Face Hub id into the Hugging Face cache")
    d.add_argument("name", metavar="NAME_OR_HUB_ID")
    e = sub.add_parser("explain", help="explain a video: writes combined.gif, heatmap.mp4, cam.npy, result.json")
    e.add_argument("video")
    add_model_arguments(e, default=None)
    tg = e.add_mutually_exclusive_group()
    tg.add_argument("--target", nargs="+", metavar="CLASS", help="class labels or indices to explain")
    tg.add_argument("--top", type=int, metavar="K", help="explain the K most probable classes")
    e.add_argument("--contrast", nargs=2, metavar=("A", "B"), help="explain 'why A rather than B'")
    e.add_argument("--layer", default=None, help="target layer (default: the model's default layer)")
    e.add_argument("--method", default=None, choices=[m.value for m in registered()],
                   help="default: the model's measured default (python -m core models; docs/evaluation.md)")
    e.add_argument("--pooling", default=Pooling.CLIP.value, choices=[m.value for m in Pooling],
                   help="channel weights: one per channel for the clip, or per frame")
    e.add_argument("--normalize", default=Normalize.CLIP.value, choices=[m.value for m in Normalize],
                   help="scale maps to [0, 1] over the whole clip or each frame")
    pt = e.add_argument_group("occlusion and rise", "their window, stride, masks, baseline and seed "
                              "(defaults: core.attribution.Perturbation's)")
    pt.add_argument("--masks", type=int, metavar="N", help="rise: the number of random masks")
    pt.add_argument("--window", type=int, nargs=3, metavar=("T", "H", "W"),
                    help="occlusion's window, rise's mask cell (frames x pixels of the model input)")
    pt.add_argument("--stride", type=int, nargs=3, metavar=("T", "H", "W"),
                    help="occlusion's step (default: the window); must divide the window")
    pt.add_argument("--baseline", choices=[b.value for b in Baseline], help="what hidden parts become")
    pt.add_argument("--seed", type=int, help="rise's random masks")
    pt.add_argument("--design", choices=list(DESIGNS),
                    help="how rise draws its masks: balanced (default; blocks of Hadamard rows, so the "
                         "estimate's noise cancels) or independent (each cell on its own, as in the paper)")
    e.add_argument("--sampling", default=None, choices=SAMPLING_POLICIES, help="default: the model's")
    e.add_argument("--frames", type=int, default=None, help="frames to sample (default: the model's)")
    e.add_argument("--fps", type=float, default=None, help="sampling rate for --sampling fps (default 4)")
    e.add_argument("--alpha", type=_opacity, default=0.5, help="heatmap opacity in the GIF/MP4 (0-1)")
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    e.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")
    e.add_argument("--out", required=True, help="output directory (created if missing)")
    e.add_argument("--trust", action="store_true", help="add faithfulness checks to result.json")
    from .longvideo.run import add_arguments

    add_arguments(sub.add_parser("timeline", help="score and explain a long video window by window: "
                                 "timeline.json/.csv/.png and heatmap_full.mp4"), add_model_arguments)
    from .audit.run import add_arguments as audit_arguments

    audit_arguments(sub.add_parser("audit", help="audit a labelled data set: each class's evidence, the "
                                   "post's three tables, and shortcuts found and tested (audit.json, report.html)"),
                    add_model_arguments)
    from .live.run import add_arguments as live_arguments

    live_arguments(sub.add_parser("live", help="explain a camera, a stream URL or a file played at its own "
                                  "speed as it happens: top classes per update, heatmap.mp4 and live.json"),
                   add_model_arguments)
    return p


def _models() -> int:
    from .cam.methods import METHODS
    from .models import get_spec, list_models, weights_status

    rows = [("model", "classes", "input TxHxW", "default method", "layers", "weights")]
    for name in list_models():
        spec = get_spec(name)
        ok, where = weights_status(name)
        t, (h, w) = spec.num_frames, spec.input_size
        default = spec.default_method + (f" at {spec.default_layer}" if spec.default_method in METHODS else "")
        # a shipped model whose checkpoint is not there yet has no classes to count
        classes = str(len(spec.categories)) if spec.categories else "not trained yet"
        rows.append((name, classes, f"{t}x{h}x{w}", default, _layers(spec.layers), "yes: " + where if ok else where))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:  # every column but the last (the weights' long note) padded to its widest cell
        print("  ".join(c.ljust(n) for c, n in zip(r, widths, strict=False)) + "  " + r[-1])
    return 0


def _layers(names) -> str:
    """``stem,layer1,...`` in full when short; ``blocks.0 .. blocks.15 (16)`` when long."""
    return ",".join(names) if len(names) <= 5 else f"{names[0]} .. {names[-1]} ({len(names)})"


def _download(name: str) -> int:
    from .models import load_model

    model = load_model(name, download=True)
    print(f"{name}: weights ready ({len(model.spec.categories)} classes)")
    return 0


def _parse_targets(values):
    return None if values is None else [int(v) if v.isdigit() else v for v in values]


def _explain(a: argparse.Namespace) -> int:
    from .errors import SettingsError
    from .export import explain_to_folder

    if a.contrast and (a.target or a.top):
        raise SettingsError("use --contrast on its own, or --target/--top on their own")
    given = {k: getattr(a, k) for k in ("masks", "window", "stride", "baseline", "seed", "design") if getattr(a, k) is not None}
    done = explain_to_folder(
        a.video, a.out, model=a.model, weights=a.weights, device=a.device, amp=a.amp,
        targets=_parse_targets(a.target), top_k=a.top, contrast=tuple(_parse_targets(a.contrast)) if a.contrast else None,
        method=a.method, pooling=a.pooling, normalize=a.normalize, layer=a.layer, perturbation=given or None,
        sampling=a.sampling, num_frames=a.frames, fps=a.fps, alpha=a.alpha, trust=a.trust, announce=_announce,
    )
    exp = done.explanation
    for lab, p in exp.topk(max(2, a.top or 0)):
        print(f"{p:6.3f}  {lab}")
    if done.trust is not None:
        print(_verdict(done.trust["verdicts"]))
    if exp.familiarity is not None:
        print(exp.familiarity.message)
    print(f"wrote {', '.join(sorted(p.name for p in done.files))}, result.json to {done.folder}")
    return 0


def _verdict(v: dict) -> str:
    """The trust checks' verdicts (core.trust.verdicts) in one line, as the page reads them."""
    flips = ", ".join(v["flips"]) or "none"
    line = (f"trust: {v['faithfulness']} (the heatmap's order beats a random one in {v['passed']} of "
            f"{len(v['tests'])} deletion/insertion tests); clips that change the top-1: {flips}")
    return line + (f"; the map {v['sanity']}" if v["sanity"] else "")


def _announce(settings, total: int):
    """For a method of core.attribution: print its number of forward passes before it runs, and
    return a tqdm bar over them (its ``progress``)."""
    if settings.method.value not in ATTRIBUTIONS:
        return None
    from tqdm import tqdm

    print(f"{settings.method.value}: {total} forward pass{'' if total == 1 else 'es'}", flush=True)
    bar = tqdm(total=total, unit="pass", desc=settings.method.value, leave=False)

    def progress(done: int, _total: int) -> None:
        bar.update(done + 1 - bar.n)  # + the pass that predicted the classes, already run
        if done + 1 >= total:
            bar.close()

    return progress


def _out_folder(folder: str) -> Path | None:
    """Make ``--out`` now, before any work, or say why it cannot be a folder for the results.
    Returns the outermost folder this made (None: it was there), which a failed command removes
    again if it is still empty (:func:`_drop_if_empty`)."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {folder}: is a file, not a folder; give a folder (it is created if missing)")
    made = next((p for p in (*reversed(path.absolute().parents), path.absolute()) if not p.exists()), None)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".videocam-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise UserError(f"--out {folder}: cannot write there ({e.strerror or e}); give a folder you can write to") from None
    return made


def _drop_if_empty(made: Path | None) -> None:
    """Remove the folders :func:`_out_folder` made, if a failed command left nothing in them."""
    if made is None or not made.is_dir():
        return
    for d in sorted((p for p in (made, *made.rglob("*")) if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    made = None
    try:
        if getattr(args, "out", None):
            made = _out_folder(args.out)
        code = _command(args)
        if code != 0:
            _drop_if_empty(made)
        return code
    except UserError as e:
        _drop_if_empty(made)
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception:
        _drop_if_empty(made)
        traceback.print_exc(file=sys.stderr)
        print("error: internal error (a bug in videocam, not a problem with your input); the "
              "traceback is above: please report it", file=sys.stderr)
        return 1


def _command(args) -> int:
    if args.command == "models":
        return _models()
    if args.command == "download":
        return _download(args.name)
    if args.command == "timeline":
        from .longvideo.run import run

        return run(args)
    if args.command == "audit":
        from .audit.run import run

        return run(args)
    if args.command == "live":
        from .live.run import run

        return run(args)
    return _explain(args)
