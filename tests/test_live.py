"""Live (core.live, ``python -m core live``): the ring at the model's rate, a worker that drops
stale clips instead of queueing them, and a rendered clip played as a live source whose object
masks are known: once the clip is full the top class is the clip's and the heatmap's peak lies
on the object. Sources that end, stall or send garbage end the stream with a message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import core
from core.errors import SettingsError, VideoError
from core.live import ClipRing, LiveSession, live_frames, live_view
from core.video import read_frames
from tests.media import write_video

SPINNING = "Spinning [something]"


@pytest.fixture(scope="module")
def spinning(tmp_path_factory):
    """A rendered Spinning clip of the model's own clip length, played 4 times in a row (12 s),
    and the union of its object masks."""
    from lab.data import render_clip

    spec = core.get_spec(core.DEFAULT_MODEL)
    clip = render_clip(SPINNING, seed=5, size=(120, 160), fps=15.0, duration=spec.clip_duration)
    frames = np.concatenate([clip.frames] * 4)
    path = write_video(tmp_path_factory.mktemp("live") / "spinning.mp4", frames, clip.fps)
    return path, clip.masks.any(0)


def on_object(peak, mask: np.ndarray, cells: int) -> bool:
    """The peak (x, y fractions) within one cell of the heatmap's grid (``cells`` a side) of the mask."""
    h, w = mask.shape
    x, y = int(peak[0] * w), int(peak[1] * h)
    ry, rx = int(np.ceil(h / cells)), int(np.ceil(w / cells))
    return bool(mask[max(0, y - ry):y + ry + 1, max(0, x - rx):x + rx + 1].any())


def test_ring_keeps_the_model_rate_and_fixed_memory():
    ring = ClipRing(4, rate=5.0)  # a frame due every 0.2 s
    frame = np.zeros((6, 8, 3), np.uint8)
    kept = [ring.offer(frame + i, i / 30) for i in range(60)]  # 2 s of a 30 fps camera
    kept_at = np.flatnonzero(kept) / 30
    assert len(kept_at) in (10, 11)  # 0 to 1.97 s at 5 fps
    assert np.diff(kept_at).mean() == pytest.approx(0.2, abs=0.01) and np.diff(kept_at).min() > 0.15
    frames, times = ring.clip()
    assert frames.shape == (4, 6, 8, 3) and np.array_equal(times, kept_at[-4:])
    assert frames[-1, 0, 0, 0] == round(kept_at[-1] * 30)
    nbytes = ring.nbytes
    for i in range(60, 600):
        ring.offer(frame, i / 30)
    assert ring.nbytes == nbytes  # no growth, however long the stream
    with pytest.raises(ValueError, match="frame size changed"):
        ring.offer(np.zeros((7, 8, 3), np.uint8), 100.0)
    ring.clear()
    assert ring.nbytes == 0 and not ring.full


class _Slow:
    """An Explainer stand-in whose explanation takes ``seconds`` (and records the clips it saw)."""

    def __init__(self, seconds: float):
        self.spec = core.get_spec(core.DEFAULT_MODEL)
        self.real = core.Explainer(core.load_model())
        self.seconds = seconds
        self.seen = []

    def explain(self, frames, target=None, settings=None):
        self.seen.append(int(frames[-1, 0, 0, 0]))
        time.sleep(self.seconds)
        return self.real.explain(frames, target, settings=settings)


def test_a_slow_model_drops_stale_clips_and_never_queues():
    slow = _Slow(0.5)
    session = LiveSession(slow, stride=1)
    n = slow.spec.num_frames
    period = 1 / slow.spec.clip_rate
    for i in range(n + 12):  # the ring fills, then a clip is due every frame, 4x faster than the model
        session.push(np.full((40, 50, 3), i, np.uint8), i * period)
        time.sleep(0.12)
    first = session.wait(0, timeout=30)
    last = session.wait(session.updates - 1 if session.updates else 0, timeout=30)
    assert first is not None and last is not None
    # each explanation took the newest clip there was: the intermediate ones were dropped
    assert session.dropped >= 5
    assert len(slow.seen) <= 13 - session.dropped + 1
    assert slow.seen == sorted(slow.seen) and slow.seen[-1] >= n + 8
    session.close()
    assert session.ring.nbytes == 0 and session.latest is None


def test_pin_explains_that_class_and_unknown_pins_are_refused():
    explainer = core.Explainer(core.load_model())
    with pytest.raises(SettingsError, match="unknown class"):
        LiveSession(explainer, pin="Juggling")
    session = LiveSession(explainer, stride=4, pin="Dropping [something]")
    rng = np.random.default_rng(0)
    for i in range(session.spec.num_frames):
        session.push(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), i / session.spec.clip_rate)
    update = session.wait(0, timeout=30)
    assert update.target == "Dropping [something]" and update.pinned
    assert update.heatmap.shape == (48, 64)
    view = live_view(np.zeros((96, 128, 3), np.uint8), update)
    assert view.shape == (96, 128, 3) and view.any()
    session.close()


def test_file_played_live_finds_the_class_and_the_object(spinning, tmp_path):
    path, mask = spinning
    out = tmp_path / "live"
    r = subprocess.run([sys.executable, "-m", "core", "live", str(path), "--stride", "0.5", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "the source ended" in r.stdout
    log = json.loads((out / "live.json").read_text())
    updates = log["updates"]
    assert len(updates) >= 8, r.stdout  # 12 s of stream, a clip every 0.5 s once the first 3 s are in
    assert all(u["t"] >= log["clip_seconds"] * 0.8 for u in updates)  # only once the clip was full
    assert sum(u["top"][0][0] == SPINNING for u in updates) >= 0.8 * len(updates)
    cells = 14  # i3d_tiny14's last stage: 14 x 14 cells
    assert sum(on_object(u["peak"], mask, cells) for u in updates) >= 0.7 * len(updates)
    s = log["summary"]
    assert s["updates"] == len(updates) and s["age_ms_median"] > 0 and s["ended"].startswith("the source ended")
    mp4 = read_frames(out / "heatmap.mp4")
    assert len(mp4) > 100 and mp4.shape[1:3] == (120, 160)


def test_a_source_that_is_garbage_ends_with_a_message(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    r = subprocess.run([sys.executable, "-m", "core", "live", str(junk), "--stall", "3"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "not a video" in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "core", "live", str(tmp_path / "missing.mp4")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "no such file" in r.stderr
    r = subprocess.run([sys.executable, "-m", "core", "live", str(junk), "--stall", "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--stall 0.0: give a positive number" in r.stderr, r.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_a_source_that_stalls_ends_with_a_message(spinning, tmp_path):
    """A pipe that sends half a video and then nothing: the stream ends after --stall seconds."""
    path, _ = spinning
    fifo = tmp_path / "stalled.mp4"
    os.mkfifo(fifo)
    data = Path(path).read_bytes()
    done = threading.Event()

    def writer():
        with open(fifo, "wb") as f:
            f.write(data[: len(data) // 3])
            f.flush()
            done.wait(60)  # hold the pipe open, send nothing

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "core", "live", str(fifo), "--stall", "2"],
                       capture_output=True, text=True, timeout=60)
    done.set()
    assert r.returncode == 2 and "stalled" in r.stderr, (r.stdout, r.stderr)
    assert time.monotonic() - t0 < 40


def test_live_frames_keeps_only_the_newest_frame(spinning):
    """A consumer slower than the source gets the newest frame, never a backlog."""
    path, _ = spinning
    state, frames = live_frames(str(path), realtime=False)
    got = []
    for frame, _t in frames:
        got.append(frame)
        time.sleep(0.01)
    assert state.ended.startswith("the source ended")
    assert state.received == 180 and len(got) + state.skipped == 180 and len(got) < 180
    with pytest.raises(VideoError, match="no such camera"):
        live_frames("/dev/video99")
    assert torch.is_tensor(torch.from_numpy(got[-1]))


def test_a_stream_url_is_read_live(spinning, tmp_path):
    """An http:// source (a Matroska stream from a server on 127.0.0.1): the same reader."""
    import functools
    import http.server

    path, _ = spinning
    ts = write_video(tmp_path / "spinning.mkv", read_frames(path), 15.0)  # a format read front to back
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{Path(ts).name}"
        state, frames = live_frames(url, realtime=True)
        assert state.kind == "url"
        got = [f for f, _ in frames]
    finally:
        server.shutdown()
    assert state.ended.startswith("the source ended") and len(got) + state.skipped == 180
    assert got[0].shape == (120, 160, 3)
