"""The page in a real browser: Playwright driving Debian's chromium (apt-get install chromium;
``playwright install`` needs a download this project does not rely on).

Without chromium the tests skip, except under CI (the CI env var set), where they fail.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urljoin

import app_server
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOT = app_server.screenshot_path("screenshot.png")  # screenshots/, or VIDEOCAM_SCREENSHOTS=docs
TRUST_SCREENSHOT = app_server.screenshot_path("screenshot_trust.png")


def _missing(why: str):
    if os.environ.get("CI"):
        pytest.fail(f"{why}; CI must run the browser tests")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        _missing("Debian chromium is not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("#explain")
    yield page
    page.close()


def _src(page, selector: str) -> str | None:
    img = page.locator(f"{selector} img")
    return img.first.get_attribute("src") if img.count() else None


def _wait_loaded(page, selector: str, other_than: str | None = None) -> float:
    """Wait until ``selector``'s image shows a new, fully loaded file; ms since the last click."""
    return page.wait_for_function(
        """([sel, old]) => { const i = document.querySelector(sel + ' img');
             return i && i.src !== old && i.complete && i.naturalWidth > 0
               ? performance.now() - (window.__clicked || 0) : false; }""",
        arg=[selector, other_than], polling=10).json_value()


def _error_badges(page) -> int:
    """Gradio's red "Error" marks painted over components (a toast's own parts are not counted)."""
    return page.evaluate("() => [...document.querySelectorAll('.error')].filter(e => !e.closest('.toast-wrap')"
                         " && e.getClientRects().length > 0).length")


def _explain_first_sample(page) -> str:
    """Pick the first sample, press Explain, wait for both GIFs; the sample's true label."""
    _, label = app_server.samples()[0]
    page.locator("#samples").get_by_text(label).first.click()
    page.wait_for_selector("#video video", state="attached")
    page.click("#explain")
    _wait_loaded(page, "#original")
    _wait_loaded(page, "#heatmap")
    return label


def test_pick_a_sample_explain_and_change_the_class(page):
    label = _explain_first_sample(page)
    scores = page.locator("#scores")
    scores.get_by_text("%").first.wait_for()  # the top-2 bars
    top1 = page.locator("#target input").input_value()
    assert top1.split("  ·  ")[0] in scores.inner_text()
    assert label in page.locator("#truth").inner_text()

    before = _src(page, "#heatmap")
    page.evaluate("() => document.addEventListener('pointerdown', "
                  "() => { window.__clicked = performance.now(); }, true)")
    page.locator("#target input").click()
    page.get_by_role("option").nth(1).click()
    ms = _wait_loaded(page, "#heatmap", other_than=before)
    print(f"\nclass change in the browser: {ms:.0f} ms from click to the new heatmap loaded")
    assert page.locator("#target input").input_value() != top1

    page.locator("#top5 img").nth(4).wait_for()  # the top-5 gallery is filled in after Explain
    page.wait_for_timeout(500)  # let the chained export redraw the plot before the picture
    # the sample thumbnails are videos that decode lazily: seek each to a frame so all are painted
    page.evaluate("""() => Promise.all([...document.querySelectorAll('#samples video')].map(v =>
        new Promise(done => { v.addEventListener('seeked', done, {once: true}); v.preload = 'auto';
                              v.currentTime = 0.05; })))""")
    page.locator("#top5 img").nth(4).scroll_into_view_if_needed()  # lazy images load when near
    page.wait_for_function("() => [...document.querySelectorAll('#top5 img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", polling=100)
    page.wait_for_timeout(300)
    page.screenshot(path=SCREENSHOT, full_page=True)


def test_a_new_method_in_the_settings_redraws_the_heatmap_and_prices_the_next_run(page):
    """The settings travel as one record (demo/settings.py) rebuilt when a choice changes: a new
    method redraws the heatmap with it, and occlusion's cost is said beside Explain."""
    _explain_first_sample(page)
    page.get_by_role("button", name="Settings ▼").click()  # open the accordion
    before = _src(page, "#heatmap")
    page.get_by_label("HiResCAM", exact=True).check()
    _wait_loaded(page, "#heatmap", other_than=before)
    page.wait_for_function("() => document.querySelector('#info').innerText.includes('HiResCAM')")
    before = _src(page, "#heatmap")
    page.get_by_label("Window (frames height width)").fill("16 112 112")  # the whole clip: one pass
    page.get_by_label("Occlusion", exact=True).check()
    page.wait_for_function("() => document.querySelector('#cost').innerText.includes('forward passes')",
                           timeout=120_000)  # the estimate runs the method's own batches
    _wait_loaded(page, "#heatmap", other_than=before)
    page.wait_for_function("() => document.querySelector('#info').innerText.includes('Occlusion')")
    assert _error_badges(page) == 0


def test_can_i_trust_this_panel(page):
    _explain_first_sample(page)
    page.get_by_text("Can I trust this heatmap?").click()  # open the accordion
    page.click("#trust-check")
    page.evaluate("() => { window.__clicked = performance.now(); }")
    page.locator("#stop").wait_for(state="visible")  # while the checks run, Stop can end them
    ms = _wait_loaded(page, "#trust-curves")
    _wait_loaded(page, "#trust-sanity")
    page.locator("#stop").wait_for(state="hidden")
    print(f"\ntrust panel in the browser: {ms / 1e3:.1f} s from click to the curves")
    text = page.locator("#trust").inner_text()
    assert all(s in text for s in ("Reversing time", "reversed in time", "middle frame frozen",
                                   "correlation"))
    page.locator("#trust").screenshot(path=TRUST_SCREENSHOT)


def test_a_bad_upload_shows_the_readable_error(page, tmp_path):
    bad = tmp_path / "holiday.mp4"
    bad.write_text("this is a shopping list, not a video\n" * 20)
    page.locator("#video input[type=file]").set_input_files(bad)
    page.wait_for_selector("#video video", state="attached")
    page.click("#explain")
    page.get_by_text("holiday.mp4: is a text file, not a video").wait_for()
    assert "Traceback" not in page.content()


def test_the_first_screen_shows_upload_model_explain_samples_and_results(browser, app_url):
    """At 1366x768 the upload box, the model, Explain, every sample clip and the result panels are
    all above the fold, without scrolling; the samples say what the demonstration model knows and
    its note follows them. Explain with no clip warns, and paints no "Error" on the panels; Stop
    is not shown while nothing runs; "README" is a link that opens it."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        page.goto(app_url)
        page.wait_for_selector("#explain")
        page.wait_for_timeout(500)  # let the page settle (fonts, the samples' grid)
        assert page.evaluate("() => window.scrollY") == 0
        for selector in ("#video", "#model", "#explain", "#original", "#heatmap", "#samples"):
            box = page.locator(selector).first.bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 768, (selector, box)
        samples = page.locator("#samples button")
        assert samples.count() == len(app_server.samples())
        for i in range(samples.count()):  # each sample's button on screen, not cut off
            box = samples.nth(i).bounding_box()
            assert box["y"] + box["height"] <= 768 and box["x"] + box["width"] <= 1366, box
        assert "13 rendered actions" in page.locator("#samples").inner_text()
        assert "13 rendered actions" in page.locator("#model-note").inner_text()
        assert not page.locator("#stop").is_visible()
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOT.with_name("screenshot_first_screen.png"))

        page.click("#explain")  # no clip yet
        page.get_by_text("Upload a video or pick a sample clip first.").wait_for()
        page.wait_for_timeout(1000)  # an error would have reached the panels by now
        assert page.get_by_text("Error", exact=True).count() == 0 and _error_badges(page) == 0
        assert not page.locator("#stop").is_visible()

        link = page.locator("#intro a", has_text="README")
        href = link.get_attribute("href")
        assert href and href != "#"
        page.goto(urljoin(page.url, href))
        page.get_by_role("heading", level=1).first.wait_for()
        assert "videocam" in page.locator("body").inner_text().lower()
    finally:
        page.close()


def test_the_load_box_refuses_in_a_toast_without_markdown_or_an_error_badge(page):
    page.locator("#load-model").get_by_role("button").first.click()  # open the accordion
    note = page.locator("#load-model").get_by_text("Registered, but without weights on this machine")
    if note.count():  # one line of names, not a row with a cache path per model
        assert "/" not in note.inner_text() and note.inner_text().count("\n") <= 1
    page.locator("#hub-id textarea, #hub-id input").first.fill("../checkpoints")
    page.click("#load")
    toast = page.get_by_text("'../checkpoints' is not a Hugging Face Hub id")
    toast.wait_for()
    page.wait_for_timeout(500)
    assert "`" not in toast.inner_text()
    assert _error_badges(page) == 0  # the toast says it; nothing painted over the box


def test_whole_video_timeline_then_a_moment_explained(page, tmp_path):
    """Upload a video of four actions, scan it, watch the marker follow the video and the slider,
    then explain one moment: its heatmap appears on the Explain tab."""
    from media import ACTIONS, action_sequence

    video = action_sequence(tmp_path / "four actions.mp4")
    page.get_by_role("tab", name="Whole video").click()
    page.locator("#long-video input[type=file]").set_input_files(video)
    page.wait_for_selector("#long-video video", state="attached")
    page.click("#scan")
    page.wait_for_selector("#timeline-plot .vc-timeline img", timeout=120_000)
    page.wait_for_selector("#timeline-video video", state="attached")
    assert "windows of 3.00 s" in page.locator("#timeline-info").inner_text()
    # the heatmap's burned-in label bar is not covered: the video has no title of its own (the
    # *Heatmap of* dropdown above it is its title), so nothing lies over the video's top edge
    video = page.locator("#timeline-video video").bounding_box()
    title = page.locator("#heatmap-of").bounding_box()
    assert title["y"] + title["height"] <= video["y"] + 1, (title, video)
    assert not page.locator("#timeline-video [data-testid='block-label']").is_visible()
    assert page.locator("#heatmap-of input").input_value() == "Each moment's top class"
    # another class: the video is drawn again from the scan (a new file), then back to each moment's
    for choice in (ACTIONS[0], "Each moment's top class"):
        src = page.locator("#timeline-video video").get_attribute("src")
        page.locator("#heatmap-of input").click()
        page.get_by_role("option", name=choice, exact=True).click()
        page.wait_for_function("(old) => { const v = document.querySelector('#timeline-video video');"
                               " return v && v.getAttribute('src') !== old; }", arg=src, timeout=60_000)
    # playing position -> marker: seek the heatmap video and the marker moves to that time
    page.evaluate("""() => { const v = document.querySelector('#timeline-video video');
                             v.currentTime = 12.0; v.dispatchEvent(new Event('timeupdate')); }""")
    page.wait_for_function("() => document.querySelector('.vc-marker').dataset.time === '12.00'")
    left = page.evaluate("() => parseFloat(document.querySelector('.vc-marker').style.left)")
    box = page.evaluate("() => { const b = document.querySelector('.vc-timeline').dataset;"
                        " return [parseFloat(b.left), parseFloat(b.width)]; }")
    assert left == pytest.approx(100 * (box[0] + box[1] * 12.0 / 24.0), abs=0.5)
    # pick a moment inside the third action with the slider, then explain it
    number = page.locator("#moment input[type=number]")
    number.fill("13.4")
    number.press("Enter")
    page.wait_for_function("() => document.querySelector('.vc-marker').dataset.time === '13.40'")
    page.click("#explain-moment")
    _wait_loaded(page, "#heatmap")
    _wait_loaded(page, "#original")
    assert ACTIONS[2] in page.locator("#scores").inner_text()
    assert "5.33 per second" in page.locator("#info").inner_text()
    page.get_by_role("tab", name="Whole video").click()
    page.locator("#whole-video").screenshot(path=SCREENSHOT.with_name("screenshot_whole_video.png"))
