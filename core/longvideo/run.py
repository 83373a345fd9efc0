"""``python -m core timeline``: one video, or a list of them sharded over torchrun's ranks."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..cam.registry import method_names
from ..cam.settings import Method, Pooling, Settings
from ..errors import UserError
from .plan import DEFAULT_MAX_DURATION

__all__ = ["add_arguments", "run"]


def add_arguments(t: argparse.ArgumentParser, add_model_arguments) -> None:
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("video", nargs="?", help="the video")
    src.add_argument("--list", metavar="FILE", help="a text file with one video per line (under "
                     "torchrun the list is split over the ranks); each gets a folder in --out")
    add_model_arguments(t, default=None)
    t.add_argument("--out", required=True, help="output directory (created if missing)")
    t.add_argument("--stride", type=float, default=None, metavar="SECONDS",
                   help="seconds between window starts (default: half the model's clip)")
    t.add_argument("--target", nargs="+", metavar="CLASS",
                   help="pin the heatmap_full videos to these classes, one video each (default: one "
                   "video that follows each moment's top class)")
    t.add_argument("--layer", default=None, help="target layer (default: the model's default layer)")
    t.add_argument("--method", default=Method.GRADCAM.value, choices=method_names(lambda e: e.needs_layer),
                   help="a Grad-CAM method: the timeline explains every window at a layer")
    t.add_argument("--pooling", default=Pooling.CLIP.value, choices=[m.value for m in Pooling])
    t.add_argument("--batch-size", type=int, default=8, help="windows per forward pass")
    t.add_argument("--top", type=int, default=5, help="classes per window in timeline.json and in the plot")
    t.add_argument("--no-heatmap", action="store_true", help="skip heatmap_full.mp4 (scores only)")
    t.add_argument("--max-minutes", type=float, default=DEFAULT_MAX_DURATION / 60,
                   help="refuse videos longer than this (default %(default)g)")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


def run(a: argparse.Namespace) -> int:
    from ..cam import resolve_device
    from ..models import DEFAULT_MODEL, load_model
    from .shard import gather_records, out_dirs, read_list, this_rank, write_summary

    rank = this_rank()
    videos = read_list(a.list) if a.list else [a.video]
    dirs = out_dirs(videos, a.out) if a.list else [Path(a.out)]
    device = resolve_device(rank.device(a.device))
    model = load_model(a.model or DEFAULT_MODEL, weights=a.weights, device=device)
    settings = Settings(method=a.method, pooling=a.pooling, layer=a.layer)
    records = []
    for i in range(rank.rank, len(videos), rank.world):
        try:
            records.append(_one(model, videos[i], dirs[i], a, settings) | {"index": i, "rank": rank.rank})
        except UserError as e:
            if not a.list:
                raise
            print(f"error: {videos[i]}: {e}", file=sys.stderr)
            records.append({"index": i, "rank": rank.rank, "video": videos[i], "ok": False, "error": str(e)})
    if a.list:
        gather_records(rank, records, lambda rs: write_summary(
            Path(a.out) / "summary.json", rs, model=model.spec.name, ranks=rank.world))
    return 0 if all(r["ok"] for r in records) else 2


def _one(model, video: str, out: Path, a: argparse.Namespace, settings: Settings) -> dict:
    from tqdm import tqdm

    from .output import DISPLAY_SIDE, FrameSpool, write_timeline
    from .scan import timeline

    t0 = time.perf_counter()
    bar = tqdm(desc=Path(video).name, unit="window", leave=False, disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    targets = None if a.target is None else [int(t) if t.isdigit() else t for t in a.target]
    with FrameSpool(DISPLAY_SIDE) as spool:
        try:
            result = timeline(model, video, stride=a.stride, settings=settings,
                              targets=[] if a.no_heatmap else targets,  # no maps kept: no second pass
                              batch_size=a.batch_size, max_duration=a.max_minutes * 60,
                              on_frame=None if a.no_heatmap else spool, progress=progress)
        finally:
            bar.close()
        written = write_timeline(result, out, spool=None if a.no_heatmap else spool, top=a.top)
    top = result.top_classes(1)[0]
    print(f"{video}: {result.num_windows} windows of {result.plan.window_s:.2f} s every "
          f"{result.plan.stride_s:.2f} s; top class {result.categories[top[0]]!r} (mean {top[1]:.3f}); "
          f"wrote {', '.join(sorted(written))} to {out} in {time.perf_counter() - t0:.1f} s")
    return {"video": video, "ok": True, "out": str(out), "duration_s": round(result.duration, 3),
            "num_windows": result.num_windows, "top_class": result.categories[top[0]],
            "top_mean_score": round(top[1], 5)}
