"""The Live tab in a real browser whose camera is a file: Chromium plays a rendered clip (object
masks known) as its webcam (``--use-file-for-fake-video-capture``). Once the model's clip is
full, the top class is the clip's and the heatmap's peak lies on the object in most updates; the
Explain tab answers while the stream runs; stopping the camera frees the stream's buffers.

Without chromium the tests skip, except under CI (the CI env var set), where they fail.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import app_server
import numpy as np
import pytest
from test_browser import ARGS, CHROMIUM, _missing
from test_live import SPINNING, on_object

import core

pytestmark = [pytest.mark.browser, pytest.mark.slow]

_STATUS = re.compile(r"Update (\d+) · (\d+) ms behind the camera · top: (.+?) \d+% .*peak at x ([\d.]+), y ([\d.]+)")


@pytest.fixture(scope="module")
def camera_clip(tmp_path_factory):
    """A Spinning clip as a y4m file (what Chromium's fake camera plays, looping), and the union of
    its object masks."""
    from core.video import encode_video
    from lab.data import render_clip

    spec = core.get_spec(core.DEFAULT_MODEL)
    clip = render_clip(SPINNING, seed=5, size=(120, 160), fps=15.0, duration=spec.clip_duration)
    path = tmp_path_factory.mktemp("camera") / "spinning.y4m"
    encode_video(iter(clip.frames), path, fps=clip.fps, codec="rawvideo", pix_fmt="yuv420p",
                 format="yuv4mpegpipe")
    return path, clip.masks.any(0)


@pytest.fixture(scope="module")
def camera_browser(camera_clip):
    if not Path(CHROMIUM).is_file():
        _missing("Debian chromium is not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -r requirements-dev.txt)")
    fake = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_clip[0]}"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS + fake)
        yield b
        b.close()


def _streams_text(page) -> str:
    before = page.locator("#live-streams").inner_text()
    page.click("#live-refresh")
    # the answer, not Gradio's progress timer ("0.1s") shown in the box while it comes
    page.wait_for_function("([old]) => { const t = document.querySelector('#live-streams').innerText; "
                           "return t.includes('Live streams now:') && t !== old; }", arg=[before])
    return page.locator("#live-streams").inner_text()


def test_live_tab_explains_the_camera_and_frees_it_when_stopped(camera_browser, camera_clip, app_url, client):
    _, mask = camera_clip
    context = camera_browser.new_context(viewport={"width": 1280, "height": 1000})
    context.grant_permissions(["camera"])
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.wait_for_selector("#explain")
    page.get_by_role("tab", name="Live").click()
    camera = page.locator("#live-camera")
    access = camera.get_by_text(re.compile("access", re.I))
    if access.count():
        access.first.click()
    camera.locator("button.capture-button").click()  # Record

    seen: dict[int, tuple] = {}
    explained = None
    deadline = time.monotonic() + 90
    while len(seen) < 8 and time.monotonic() < deadline:
        m = _STATUS.search(page.locator("#live-status").inner_text())
        if m and int(m.group(1)) not in seen:
            seen[int(m.group(1))] = (m.group(3), int(m.group(2)), float(m.group(4)), float(m.group(5)))
            if explained is None:  # the other tabs keep working while the stream runs
                video, label = app_server.samples()[0]
                explained = app_server.explain(client, video, label)
        time.sleep(0.1)
    assert len(seen) >= 8, f"{len(seen)} updates in 90 s; status: {page.locator('#live-status').inner_text()}"
    assert explained is not None and explained["info"]
    tops = [v[0] for v in seen.values()]
    assert sum(t == SPINNING for t in tops) >= 0.8 * len(tops), tops
    cells = 14
    assert sum(on_object((x, y), mask, cells) for _, _, x, y in seen.values()) >= 0.7 * len(seen), seen
    assert "yours is running" in _streams_text(page)
    page.locator("#live").screenshot(path=app_server.screenshot_path("screenshot_live.png"))

    camera.locator("button.capture-button").click()  # Stop
    time.sleep(4)  # past LIVE_IDLE_S: the stream is closed at the next request
    text = _streams_text(page)
    assert re.search(r"Live streams now: 0 of \d+ \(none of them is yours\); their clips hold 0\.0 MB", text), text
    context.close()
    ages = np.array([v[1] for v in seen.values()])
    assert np.median(ages) < 5000  # behind the camera by about one explanation, not a backlog
