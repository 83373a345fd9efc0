"""The app's "Can I trust this heatmap?" panel through its API (/trust), after /explain."""

from __future__ import annotations

import time
from pathlib import Path

import app_server
import pytest

pytestmark = pytest.mark.slow

VARIANTS = ["as is", "reversed in time", "frames shuffled", "middle frame frozen",
            "top-heatmap frames blurred"]


def test_trust_panel_for_the_class_shown_then_from_the_session_cache(client):
    video, label = app_server.samples()[0]
    second = app_server.explain(client, video, label)["all"]["confidences"][1]["label"]  # not the top-1: the panel follows the class

    t0 = time.perf_counter()
    heading, curves, faithfulness, table, reading, sanity, sanity_md = client.predict(
        second, api_name="/trust")
    first_s = time.perf_counter() - t0
    assert second in heading and "computed in" in heading
    assert Path(curves).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the curves, drawn
    assert "of 4 tests" in faithfulness
    assert [row[0] for row in table["data"]] == VARIANTS
    assert table["headers"] == ["clip", "top-1", "P(top-1)", "P(class)", "flipped"]
    assert all(row[4] in ("✓", "✗") for row in table["data"]) and table["data"][0][4] == "✗"
    assert "Reversing time" in reading
    picture = app_server.gif_frames(sanity)  # one still picture: the frame where the evidence peaks
    assert len(picture) == 1 and picture[0].shape[1] > 3 * picture[0].shape[0] // 2  # panels side by side
    trained = picture[0][40:, : picture[0].shape[1] // 4 - 6].astype(int)  # under its title bar
    red, blue = trained[..., 0] - trained[..., 2], trained[..., 2] - trained[..., 0]
    assert (red > 60).mean() > 0.01 and (blue > 60).mean() < 0.95  # not one all-blue frame
    assert "correlation" in sanity_md

    t0 = time.perf_counter()
    again = client.predict(second, api_name="/trust")
    cached_s = time.perf_counter() - t0
    print(f"\ntrust panel {first_s:.2f} s, again from the session cache {cached_s:.2f} s "
          "(client round trips)")
    assert "from this session's cache" in again[0]
    assert again[3]["data"] == table["data"]
    assert Path(again[1]).is_file() and Path(again[5]).is_file()
