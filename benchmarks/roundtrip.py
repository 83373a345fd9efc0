"""The app's round trip through ``gradio_client``: upload a video to ``/explain``, get every output.

``app.py`` runs as shipped in a subprocess on 127.0.0.1 (``harness.start_app``: analytics off, its
cache in a temporary folder).
The shared Explainer caches forward passes by the clip's pixels, so uploading the same file twice
would time a cache hit: each timed upload is a different clip of the same size and length
(the real video and mirrored re-encodings of it), and one repeat of the first is timed apart as
"same clip again". The first request, which loads the model, is reported on its own.
"""

from __future__ import annotations

import tempfile
import time
from fractions import Fraction
from pathlib import Path
from statistics import median

import av

from core.video import encode_video
from harness import explain, start_app, status_mb

__all__ = ["bench_app", "mirrored"]


def mirrored(src: Path, dst: Path, flip: str) -> Path:
    """Re-encode ``src`` (H.264, same size and frame rate) mirrored: ``h``, ``v`` or ``hv``."""
    sy, sx = (-1 if "v" in flip else 1), (-1 if "h" in flip else 1)
    with av.open(str(src)) as inp:
        vin = inp.streams.video[0]
        frames = (f.to_ndarray(format="rgb24")[::sy, ::sx] for f in inp.decode(vin))
        return encode_video(frames, dst, fps=vin.average_rate or Fraction(25), codec="libx264",
                            options={"preset": "veryfast", "crf": "20"})


def bench_app(video: Path, *, variants: int = 3) -> dict:
    """Seconds per ``/explain`` round trip of ``video`` and of its mirrored re-encodings, and the
    app's RSS afterwards. ``variants``: how many different clips are timed (1 to 4)."""
    from gradio_client import Client

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clips = [mirrored(video, tmp / f"{f}.mp4", f) for f in ("hv", "h", "v")[:variants]]
        first, clips = clips[0], [video, *clips[1:]]
        with start_app(tmp / "app") as app:
            client = Client(app.url, verbose=False, analytics_enabled=False)

            def call(path: Path) -> float:
                t0 = time.perf_counter()
                out = explain(client, path)
                dt = time.perf_counter() - t0
                if not (out["heatmap"] and Path(out["heatmap"]).is_file()):
                    raise RuntimeError(f"/explain returned no heatmap GIF: {out!r}"[:500])
                return dt

            load = call(first)  # loads the model: not a cold clip like the others
            cold = [call(p) for p in clips]
            again = call(video)
            rss = status_mb(app.pid)
    return {"first_s": load, "cold_s": median(cold), "n": len(cold), "again_s": again,
            "requests": 2 + len(cold), "rss_mb": rss["VmRSS"], "hwm_mb": rss["VmHWM"],
            "weights": "shipped checkpoint"}
