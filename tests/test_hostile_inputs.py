"""Hostile and odd files (tests/hostile.py) through the command line and through the app.

Each gets a result or one readable line naming the file, never a traceback, and the server keeps
serving. How long each takes is measured by benchmarks/hostile_inputs.py (docs/reliability.md),
not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import app_server
import pytest
from gradio_client.exceptions import AppError
from hostile import CASES, OK

pytestmark = pytest.mark.slow

CLI_OUTPUTS = {"combined.gif", "heatmap.mp4", "cam.npy", "result.json"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return {case.id: case.build(folder) for case in CASES}


@pytest.fixture(scope="module")
def cli_runs(request, corpus, default_checkpoint, tmp_path_factory):
    """The selected files through ``python -m core explain``, one process each, two at a time."""
    cases = [item.callspec.params["case"] for item in request.session.items
             if item.originalname == test_cli_explains_or_exits_2_with_one_line.__name__]
    out = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "VIDEOCAM_CHECKPOINTS": str(default_checkpoint)}

    def run(case):
        cmd = [sys.executable, "-m", "core", "explain", str(corpus[case.id]), "--out", str(out / case.id)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env,
                           cwd=app_server.ROOT)
        return case.id, (r, out / case.id)

    with ThreadPoolExecutor(2) as pool:  # one per core: the startup (torch import) dominates
        return dict(pool.map(run, cases))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cli_explains_or_exits_2_with_one_line(case, cli_runs):
    r, out = cli_runs[case.id]
    if case.cli == OK:
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        assert {p.name for p in out.iterdir()} >= CLI_OUTPUTS
        result = json.loads((out / "result.json").read_text())
        assert len(result["frame_indices"]) == 16 and result["top_k"]
    else:
        assert r.returncode == 2, r.stderr
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith(f"error: {case.file}: ") and case.cli in lines[0]
        assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_app_explains_or_says_why(case, corpus, client):
    video = corpus[case.id]
    if case.expect_app == OK:
        out = app_server.explain(client, video)
        combined = next(f for f in out["files"] if f.endswith("combined.gif"))
        # identical consecutive frames are merged (a still one-colour clip leaves one frame)
        assert 1 <= len(app_server.gif_frames(combined)) <= 16
        assert os.path.getsize(out["heatmap"]) > 0 and "16 frames" in out["info"]
        return
    with pytest.raises(AppError) as e:
        app_server.explain(client, video)
    message = str(e.value)
    assert case.expect_app in message, message
    assert case.file in message and "Traceback" not in message
    assert str(app_server.cache_dir()) not in message  # the file's name, not where it is


def test_the_server_still_serves_after_the_corpus(client):
    video, label = app_server.samples()[0]
    assert label in app_server.explain(client, video, label)["truth"]
    assert "Traceback" not in app_server.log_text()
