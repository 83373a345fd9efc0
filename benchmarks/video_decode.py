"""Time read_clip against decoding and converting every frame, on a synthetic 720p H.264 clip.

    python -m benchmarks.video_decode [--seconds 10] [--gop 12] [--repeats 5]

Writes a 1280x720 25 fps libx264 MP4 to a temporary folder (a moving gradient with texture, so
the encoder has real work to do), then prints the best of ``--repeats`` wall and CPU times for:
``read_clip`` uniform-16, ``read_clip`` fps-16 at 4 fps, and decode-all + RGB-convert-all (the
usual ``frame.to_ndarray`` loop, and the same with one shared swscale context).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from core.video import encode_video, read_clip


def write_clip(path: Path, seconds: float, gop: int, h: int = 720, w: int = 1280, fps: int = 25) -> None:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    texture = (np.random.default_rng(0).random((h, w)) * 40).astype(np.float32)

    def frames():  # generated as they are encoded: 10 s of 720p would be 690 MB at once
        for i in range(int(seconds * fps)):
            r = (xx + 8 * i) % 256
            g = (yy + 4 * i) % 256
            b = (np.roll(texture, 6 * i, axis=1) + 100)
            yield np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8)

    encode_video(frames(), path, fps=fps, codec="libx264", options={"preset": "veryfast", "g": str(gop)})


def decode_all(path: Path, *, shared_reformatter: bool = False) -> int:
    """Decode and convert every frame: the naive way (frame.to_ndarray) or with one swscale."""
    reformatter = VideoReformatter()
    n = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if shared_reformatter:
                reformatter.reformat(frame, format="rgb24").to_ndarray()
            else:
                frame.to_ndarray(format="rgb24")
            n += 1
    return n


def best_of(fn, repeats: int) -> tuple[float, float]:
    """Best wall time and best CPU time (all threads) over ``repeats`` runs, in seconds."""
    walls, cpus = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--gop", type=int, default=12, help="keyframe interval in frames")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip720p.mp4"
        write_clip(path, args.seconds, args.gop)
        mb = path.stat().st_size / 2**20
        print(f"{args.seconds:g} s 1280x720 25 fps h264, keyframe every {args.gop} frames, {mb:.1f} MB")
        rows = {
            "read_clip uniform 16": lambda: read_clip(path, sampling="uniform", num_frames=16),
            "read_clip fps 4x16": lambda: read_clip(path, sampling="fps", num_frames=16, fps=4),
            "decode + rgb every frame": lambda: decode_all(path),
            "  same, one swscale ctx": lambda: decode_all(path, shared_reformatter=True),
        }
        for label, fn in rows.items():
            wall, cpu = best_of(fn, args.repeats)
            print(f"  {label:26s} {wall * 1000:7.1f} ms wall {cpu * 1000:7.1f} ms cpu")


if __name__ == "__main__":
    main()
