"""The Live tab's handler without a browser: a stream per visitor, the limit on streams at once,
idle streams closed and freed, the time limit, and pinning (tests/test_browser_live.py drives
the real page with a fake camera)."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import numpy as np
import pytest

import core
from demo import live_tab
from demo.config import LIVE_MAX_STREAMS


@pytest.fixture(autouse=True)
def no_streams():
    yield
    with live_tab._LOCK:
        for s in live_tab._STREAMS.values():
            s.session.close(timeout=0)
        live_tab._STREAMS.clear()


def _visitor(name: str):
    return SimpleNamespace(session_hash=name)


def _frames(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (60, 80, 3), dtype=np.uint8) for _ in range(n)]


def _feed(visitor, frames, pin=live_tab.TOP1, period: float | None = None):
    """Send frames as the page would, one per model frame (so the clip fills at once)."""
    spec = core.get_spec(core.DEFAULT_MODEL)
    period = 1 / spec.clip_rate if period is None else period
    out = None
    for f in frames:
        out = live_tab.on_frame(f, pin, core.DEFAULT_MODEL, visitor)
        time.sleep(period)
    return out


def test_a_visitor_gets_the_newest_heatmap_top3_and_plot():
    spec = core.get_spec(core.DEFAULT_MODEL)
    v = _visitor("a")
    first = live_tab.on_frame(_frames(1)[0], live_tab.TOP1, core.DEFAULT_MODEL, v)
    assert "Filling the model's clip: 1/16" in first["live_status"]
    _feed(v, _frames(spec.num_frames + 4, seed=1))
    session = live_tab._STREAMS["a"].session
    assert session.wait(0, timeout=30) is not None
    # the feed may have shown every explanation so far: send frames, as the page does, until one
    # comes back with an explanation it has not shown (each frame's reply never waits for one)
    rng, deadline = np.random.default_rng(2), time.monotonic() + 60
    while True:
        frame = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
        out = live_tab.on_frame(frame, "Dropping [something]", core.DEFAULT_MODEL, v)
        if "__type__" not in out["live_top"] or time.monotonic() > deadline:  # not gr.skip(): a new one
            break
        time.sleep(1 / spec.clip_rate)
    assert out["live_view"].shape == (60, 80, 3)
    assert isinstance(out["live_top"], dict) and len(out["live_top"]) == 3
    assert set(out["live_plot"].columns) == {"seconds", "probability", "class"}
    assert re.match(r"Update \d+ · \d+ ms behind the camera", out["live_status"]), out["live_status"]
    assert session.pin == "Dropping [something]"


def test_streams_at_once_are_limited_and_idle_ones_are_freed(monkeypatch):
    for i in range(LIVE_MAX_STREAMS):
        live_tab.on_frame(_frames(1)[0], live_tab.TOP1, core.DEFAULT_MODEL, _visitor(f"v{i}"))
    refused = live_tab.on_frame(_frames(1)[0], live_tab.TOP1, core.DEFAULT_MODEL, _visitor("late"))
    assert f"all {LIVE_MAX_STREAMS} live streams are in use" in refused["live_status"]
    assert refused["live_view"] is not None  # the camera's frame still shows
    held = [s.session for s in live_tab._STREAMS.values()]
    assert all(s.ring.nbytes > 0 for s in held)
    monkeypatch.setattr(live_tab, "LIVE_IDLE_S", 0.0)  # every stream now counts as stopped
    time.sleep(0.01)
    text = live_tab.streams_status(_visitor("late"))
    assert text.startswith(f"Live streams now: 0 of {LIVE_MAX_STREAMS}") and "0.0 MB" in text
    assert all(s.closed and s.ring.nbytes == 0 for s in held)


def test_a_stream_ends_at_its_time_limit_and_the_page_unload_frees_it(monkeypatch):
    v = _visitor("t")
    live_tab.on_frame(_frames(1)[0], live_tab.TOP1, core.DEFAULT_MODEL, v)
    monkeypatch.setattr(live_tab, "LIVE_TIME_LIMIT_S", 0)
    out = live_tab.on_frame(_frames(1)[0], live_tab.TOP1, core.DEFAULT_MODEL, v)
    assert "reached its 0 s limit" in out["live_status"] and "t" not in live_tab._STREAMS
    monkeypatch.setattr(live_tab, "LIVE_TIME_LIMIT_S", 300)
    live_tab.on_frame(_frames(1)[0], live_tab.TOP1, core.DEFAULT_MODEL, v)
    session = live_tab._STREAMS["t"].session
    live_tab.close_stream(v)
    assert "t" not in live_tab._STREAMS and session.closed and session.ring.nbytes == 0


def test_an_unknown_pin_is_a_message_not_a_crash():
    out = live_tab.on_frame(_frames(1)[0], "Juggling", core.DEFAULT_MODEL, _visitor("p"))
    assert "unknown class" in out["live_status"]
