"""What one request may cost on the page and the API, and that its work ends with it (issue 37).

Work past ``demo/config.py``'s caps is refused before it runs, with a message naming the cap and
the command line; a run that is cancelled, or whose client is killed, stops at its next batch
(the server logs why) and the model is free for the next visitor at once. No timing is asserted
beyond generous sanity bounds: the figures are in docs/reliability.md (benchmarks.load).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import app_server
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from demo.config import REQUEST_MAX_PASSES

pytestmark = pytest.mark.slow

# a run that is accepted and takes minutes here: RISE's default 1000 masks (1001 forward passes)
LONG_RUN = ("i3d_tiny", "rise", "clip", None, 0.5, None, 1000)


def _clip() -> str:
    return str(app_server.samples()[0][0])


def _threads() -> int:
    with open(f"/proc/{app_server.pid()}/status") as fh:
        return int(next(line for line in fh if line.startswith("Threads:")).split()[1])


def _wait_for_log(text: str, before: int, timeout_s: float = 60.0) -> float:
    """Seconds until the server's log holds ``text`` more than ``before`` times."""
    t0 = time.monotonic()
    while app_server.log_text().count(text) <= before:
        assert time.monotonic() - t0 < timeout_s, f"the server never logged {text!r}:\n{app_server.log_text()[-2000:]}"
        time.sleep(0.2)
    return time.monotonic() - t0


def _running(job, timeout_s: float = 120.0) -> None:
    """Wait until ``job``'s forward passes are under way (the progress bar says so)."""
    t0 = time.monotonic()
    while True:
        st = job.status()
        if st.progress_data and "forward passes" in (st.progress_data[0].desc or ""):
            return
        assert time.monotonic() - t0 < timeout_s, f"the run never started: {st}"
        time.sleep(0.2)


@pytest.mark.parametrize(("method", "masks", "window", "stride"), [
    ("rise", 10**9, None, None),
    ("rise", 10**30, None, None),
    ("occlusion", None, "1 1 1", "1 1 1"),
])
def test_work_past_the_caps_is_refused_before_it_runs(client, method, masks, window, stride):
    t0 = time.monotonic()
    with pytest.raises(AppError) as e:
        client.predict(handle_file(_clip()), "", "i3d_tiny", method, "clip", None, 0.5, None, masks, window, stride,
                       api_name="/explain")
    text = str(e.value)
    assert f"at most {REQUEST_MAX_PASSES:,} per request" in text and "python -m core explain" in text
    assert "--" not in text and str(app_server.cache_dir()) not in text  # no flag, no server path
    assert time.monotonic() - t0 < 60  # refused, not run (sanity bound only)


def test_a_nan_opacity_sent_as_raw_json_is_a_message(app_url):
    """gradio_client cannot send NaN; a raw JSON body can, and it passes the slider's bounds."""
    import httpx

    api = f"{app_url}/gradio_api"
    with open(_clip(), "rb") as fh:
        path = httpx.post(f"{api}/upload", files={"files": fh}).json()[0]
    video = json.dumps({"path": path, "meta": {"_type": "gradio.FileData"}})
    body = f'{{"data": [{video}, "", "i3d_tiny", "gradcam", "clip", null, NaN, null, 1000, "4 28 28", "", "blur"]}}'
    event = httpx.post(f"{api}/call/explain", content=body, headers={"Content-Type": "application/json"}).json()
    answer = httpx.get(f"{api}/call/explain/{event['event_id']}", timeout=120).text
    assert "event: error" in answer and "opacity=nan; give a number from 0 to 1" in answer, answer


def test_a_cancelled_run_stops_and_the_model_is_free_for_the_next_request(client):
    stopped = app_server.log_text().count("stopped: it was cancelled")
    threads = _threads()
    job = client.submit(handle_file(_clip()), "", *LONG_RUN, api_name="/explain")
    _running(job)
    job.cancel()
    _wait_for_log("stopped: it was cancelled", stopped)  # before: the run went on to its end
    t0 = time.monotonic()
    app_server.explain(client, _clip())
    assert time.monotonic() - t0 < 60  # it waited for the whole RISE run before (minutes here)
    assert _threads() <= threads + 4  # no thread left running per cancelled request


def test_a_killed_client_s_run_stops(app_url):
    gone = app_server.log_text().count("went away")
    child = (
        "import time\n"
        "from gradio_client import Client, handle_file\n"
        f"job = Client({app_url!r}, verbose=False).submit(handle_file({_clip()!r}), '', *{LONG_RUN!r}, "
        "api_name='/explain')\n"
        "while not ((st := job.status()).progress_data and 'forward passes' in (st.progress_data[0].desc or '')):\n"
        "    time.sleep(0.2)\n"
        "print('running', flush=True)\n"
        "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        import selectors

        with selectors.DefaultSelector() as sel:  # a child that never gets there fails the test, not hangs it
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=300), "the client's run never reported its forward passes"
        assert proc.stdout.readline().strip() == "running"
    finally:
        proc.kill()
        proc.wait()
    _wait_for_log("stopped: the page or client that asked for it went away", gone)


@pytest.mark.parametrize(("model", "method", "menu"), [
    ("a/" + "x" * 5000, "gradcam", "'Model'"),
    ("i3d_tiny", "not-a-method", "'CAM method'"),
])
def test_a_value_outside_a_menu_is_a_message_without_a_traceback(client, model, method, menu):
    """Gradio's own menus log a full traceback for each such request (issue 37)."""
    tracebacks = app_server.log_text().count("Traceback")
    with pytest.raises(AppError) as e:
        client.predict(handle_file(_clip()), "", model, method, "clip", api_name="/explain")
    text = str(e.value)
    assert f"is not one of {menu}'s choices; give one of:" in text and len(text) < 1000, text
    _wait_for_log("refused a value outside", app_server.log_text().count("refused a value outside") - 1)
    assert app_server.log_text().count("Traceback") == tracebacks, app_server.log_text()[-3000:]
