"""The "Whole video" tab through the API: scan a multi-action video, then explain one moment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from media import ACTIONS, action_sequence

from harness import EXPLAIN_OUTPUTS

pytestmark = pytest.mark.slow


def test_scan_a_long_video_then_explain_a_moment_as_a_short_clip(client, tmp_path):
    video = action_sequence(tmp_path / "four actions.mp4")
    plot, heatmap, moment, files, info = client.predict(handle_file(video), api_name="/timeline")
    assert 0 < moment["value"] < moment["maximum"] == 24.0  # the surest window of the top class
    names = {Path(f).name: Path(f) for f in files}
    assert set(names) == {"timeline.json", "timeline.csv", "timeline.png", "heatmap_full.mp4"}
    doc = json.loads(names["timeline.json"].read_text())
    assert doc["video"] == "four actions.mp4"  # the upload's name, never the server's path
    assert doc["duration_s"] == pytest.approx(24.0, abs=0.1) and doc["windows"][-1]["end_s"] == pytest.approx(24.0, abs=0.2)
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


def test_a_moment_before_any_scan_says_what_to_do(client, tmp_path):
    video = action_sequence(tmp_path / "v.mp4", ACTIONS[:1], seconds=3.0, clips=1)
    with pytest.raises(AppError, match="Scan the whole video first"):
        client.predict(handle_file(video), 1.0, api_name="/explain_moment")
