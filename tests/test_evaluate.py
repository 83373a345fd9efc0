"""python -m lab.evaluate and python -m lab.samples: the explanation scores on hand-made maps,
then the report, the demo samples and the post's tables from a few rendered clips and the shipped
model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import core
from lab.data import write_dataset
from lab.evaluate import explanation_scores, fuse, join_report, split_report
from lab.evaluate.__main__ import main as evaluate_main
from lab.samples import main as samples_main


def _mask(T=4, H=28, W=28, box=(10, 14, 10, 14)):
    masks = np.zeros((T, H, W), bool)
    y0, y1, x0, x1 = box
    masks[:, y0:y1, x0:x1] = True
    return masks


def test_a_map_peaked_on_the_object_scores_every_frame():
    masks = _mask()
    maps = np.zeros(masks.shape, np.float32)
    maps[:, 12, 12] = 1.0
    s = explanation_scores(maps, masks, np.array([True, True, False, False]), cell=(4, 4))
    assert s["pointing"] == [True] * 4 and s["pointing_near"] == [True] * 4
    assert s["energy"] == [1.0] * 4
    assert s["energy_uniform"][0] == pytest.approx(16 / 28**2)
    assert s["interval_mass"] == pytest.approx(0.5) and s["interval_uniform"] == 0.5


def test_a_peak_one_cell_away_counts_only_with_the_tolerance():
    masks = _mask()
    maps = np.zeros(masks.shape, np.float32)
    maps[:, 12, 17] = 1.0  # 4 px right of the box (x 10..13): inside one 4-px cell, not the mask
    maps[3, 12, 25] = 2.0  # frame 3: 12 px away
    s = explanation_scores(maps, masks, np.ones(4, bool), cell=(4, 4))
    assert s["pointing"] == [False] * 4
    assert s["pointing_near"] == [True, True, True, False]
    assert s["pointing_near_uniform"][0] == pytest.approx(12 * 12 / 28**2)  # the box grown by 4 px


def test_frames_where_the_object_is_hidden_are_left_out():
    masks = _mask()
    masks[1] = False  # covered
    s = explanation_scores(np.ones(masks.shape, np.float32), masks, np.ones(4, bool), cell=(4, 4))
    assert len(s["pointing"]) == 3


def test_layercam_fusion_keeps_the_finer_layers_detail():
    """torch-cam's fuse_cams: scale each map to [0, 1], tanh(2x), max on the finest grid."""
    coarse = torch.zeros(2, 2, 2)
    coarse[:, 0, 0] = 4.0  # one hot quadrant at 2x2
    fine = torch.zeros(2, 4, 4)
    fine[:, 3, 3] = 0.5  # one hot cell at 4x4, in another quadrant, weaker in absolute terms
    fused = fuse([coarse, fine])
    assert fused.shape == (2, 4, 4)
    assert fused[0, 3, 3] == pytest.approx(np.tanh(2.0))  # each map is scaled on its own
    assert fused[0, 0, 0] == pytest.approx(np.tanh(2.0))
    assert fused[0, 2, 1] < fused[0, 0, 0] and fused.min() >= 0
    assert fuse([torch.zeros(2, 4, 4)]).abs().max() == 0  # a flat map stays flat, never NaN


def test_the_methods_x_layers_section_is_replaced_and_the_report_kept():
    report = "# Evaluation\n\n## Accuracy\n\n| 95% |\n"
    notes = "## Notes\n\nwritten by hand\n"
    doc = join_report(report, "## Methods x layers\n\n| old |\n", notes)
    head, section, rest = split_report(doc)
    assert (head.strip(), section.strip(), rest.strip()) == (report.strip(), "## Methods x layers\n\n| old |", notes.strip())
    # --grid replaces the section only; a regenerated report keeps the section and the notes after it
    head, _, rest = split_report(doc)
    assert join_report(head, "## Methods x layers\n\n| new |\n", rest) == doc.replace("| old |", "| new |")
    _, section, rest = split_report(doc)
    assert join_report(report.replace("95%", "96%"), section, rest) == doc.replace("95%", "96%")
    assert split_report(report) == (report, "", "")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_dataset(root, n_train=0, n_val=0, n_test=13, seed=5,
                  render_options={"size": (96, 128), "fps": 12, "duration": 1.5})
    return root


@pytest.mark.slow
def test_report_on_rendered_clips(default_checkpoint, rendered, tmp_path):
    root = rendered
    out = tmp_path / "report" / "evaluation"
    assert evaluate_main(["--data", str(root), "--split", "test", "--sanity-clips", "2", "--out", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["clips"] == 13 and np.asarray(result["confusion"]).sum() == 13
    assert 0 <= result["top1"] <= result["top2"] <= 1
    assert len(result["mirror_pairs"]) == 5
    spatial = result["explanations"]["object_classes"]
    assert 0 <= spatial["pointing_game"] <= spatial["pointing_game_near"] <= 1
    assert [r["randomized"][0] for r in result["sanity"]] == ["fc"] * len(result["sanity"])
    assert result["sanity"][-1]["clips"] == 2
    text = out.with_suffix(".md").read_text()
    assert "Time-mirrored pairs" in text and "evaluation_confusion.png" in text
    assert (out.parent / "evaluation_confusion.png").stat().st_size > 1000


@pytest.mark.slow
def test_samples_and_the_posts_tables(default_checkpoint, rendered, tmp_path):
    assert samples_main(["--data", str(rendered), "--out", str(tmp_path)]) == 0
    index = json.loads((tmp_path / "samples" / "index.json").read_text())
    model = core.load_model()
    for s in index:  # one clip per class the model gets right *as shipped*: re-encoded small
        path = tmp_path / "samples" / s["file"]
        assert path.stat().st_size < 200_000
        assert core.explain(model, core.read_clip(path, model.spec)).topk(1)[0][0] == s["label"], s["file"]
    assert sorted(p.name for p in (tmp_path / "samples").glob("*.mp4")) == sorted(s["file"] for s in index)
    assert len({s["label"] for s in index}) == len(index)
    gallery = json.loads((tmp_path / "gallery" / "gallery.json").read_text())
    assert gallery, "every clip lands in one of the three tables"
    for g in gallery:
        assert g["table"] in ("positive", "medium", "negative") and len(g["top2"]) == 2
        right = g["top2"][0][0] == g["true"]
        assert (g["table"] == "positive") <= right and (g["table"] == "negative") <= (g["true"] not in dict(g["top2"]))
        assert (tmp_path / "gallery" / g["gif"]).is_file()
    assert "## Positive" in (tmp_path / "gallery" / "gallery.md").read_text()
    # another shipped model's tables go beside the default's, and the samples stay as they were
    index_before = (tmp_path / "samples" / "index.json").read_text()
    assert samples_main(["--data", str(rendered), "--out", str(tmp_path), "--model", "i3d_tiny", "--gallery-only"]) == 0
    assert (tmp_path / "samples" / "index.json").read_text() == index_before
    from demo.catalog import load_gallery, load_model_galleries

    others = load_model_galleries(tmp_path / "gallery")
    assert list(others) == ["i3d_tiny"] and any(others["i3d_tiny"].values())
    assert load_gallery(tmp_path / "gallery") != others["i3d_tiny"]


@pytest.mark.slow
def test_methods_x_layers_grid_on_rendered_clips(default_checkpoint, rendered, tmp_path):
    out = tmp_path / "evaluation"
    out.with_suffix(".md").write_text("# Evaluation of `i3d_tiny`\n\nkept\n")
    assert evaluate_main(["--data", str(rendered), "--split", "test", "--grid", "i3d_tiny", "--limit", "2",
                          "--sanity-clips", "1", "--out", str(out)]) == 0
    (res,) = json.loads((tmp_path / "evaluation_layers.json").read_text())
    cells = {(g["method"], g["layer"]) for g in res["grid"]}
    assert cells == {(m, la) for m in ("gradcam", "gradcampp", "hirescam", "layercam")
                     for la in ("layer3", "layer4")} | {("layercam", "fused")}
    assert all(len(g["sanity"]) == 6 and g["sanity"][0]["randomized"] == ["fc"] for g in res["grid"])
    by = {(g["method"], g["layer"]): g for g in res["grid"]}
    # a global-average-pooled head gives every position the same gradient: HiResCAM == Grad-CAM
    assert by["hirescam", "layer4"]["energy_in_mask"] == pytest.approx(by["gradcam", "layer4"]["energy_in_mask"])
    text = out.with_suffix(".md").read_text()
    assert text.startswith("# Evaluation of `i3d_tiny`\n\nkept\n") and "## Methods x layers" in text
    assert text.count("| `i3d_tiny` (") == 9


def test_the_default_rule_takes_the_best_pointing_among_sane_maps():
    from lab.evaluate.methods import best_default

    def row(method, layer, exact, sanity, passes=1, near=0.5):
        return {"method": method, "layer": layer, "pointing_game": exact, "pointing_game_near": near,
                "sanity_head": sanity, "forward_passes": passes}

    rows = [row("gradcam", "layer3", 0.25, 0.1), row("gradcampp", "layer4", 0.45, 0.8),  # insane: ignored
            row("gradcam", "layer4", 0.35, 0.1), row("hirescam", "layer4", 0.351, 0.1),  # a tie: row order
            row("layercam", "layer4", 0.1, 0.1, near=0.9),  # a coarse map's wide target does not rank it
            row("rise", None, 0.36, 0.0, passes=251), row("rollout", None, 0.5, float("nan"))]
    d = best_default(rows)
    assert (d["method"], d["layer"]) == ("gradcam", "layer4")
    assert best_default([row("gradcam", "layer4", 0.7, 0.9)], core.get_spec("i3d_tiny"))["rule"] == "no row passed the sanity bar"


def test_the_methods_section_is_replaced_and_what_follows_kept():
    from lab.evaluate.methods import replace_section

    doc = "# E\n\n## Methods x architectures\n\nold\n\n## Notes\n\nkept\n"
    new = replace_section(doc, "## Methods x architectures\n\nnew\n")
    assert new == "# E\n\n## Methods x architectures\n\nnew\n\n## Notes\n\nkept\n"
    assert replace_section("# E\n", "## Methods x architectures\n\nx\n") == "# E\n\n## Methods x architectures\n\nx\n"


@pytest.mark.slow
def test_methods_x_architectures_on_rendered_clips(default_checkpoint, rendered, tmp_path):
    """Every method that applies, scored on rendered clips: the CNN gets no attention rows, every
    row has its deletion and sanity numbers and its cost, and the default follows the rule."""
    out = tmp_path / "evaluation"
    out.with_suffix(".md").write_text("# Evaluation\n\nkept\n")
    assert evaluate_main(["--data", str(rendered), "--split", "test", "--methods", "i3d_tiny", "--limit", "2",
                          "--checks-per-class", "3", "--masks", "4", "--perturbation-sanity-clips", "1", "--out", str(out)]) == 0
    (res,) = json.loads((tmp_path / "evaluation_methods.json").read_text())
    rows = {(r["method"], r["layer"]): r for r in res["rows"]}
    assert ("rollout", None) not in rows and ("occlusion", None) in rows and ("rise", None) in rows
    assert {la for _, la in rows} == {"stem", "layer1", "layer2", "layer3", "layer4", "fused", None}
    for r in res["rows"]:
        assert r["clips"] == 2 and r["deletion_clips"] == 2, r
        assert 0 <= r["deletion_auc"] <= 1 and 0 <= r["deletion_auc_random"] <= 1
        assert r["sanity_clips"] == (1 if r["method"] in ("occlusion", "rise") else 2)
        assert r["forward_passes"] >= 1 and r["seconds"] > 0
    # the method's passes and the one that classified the clip, as result.json counts them
    assert rows["occlusion", None]["forward_passes"] == 64 + 1 + 1 and rows["rise", None]["forward_passes"] == 4 + 1
    # a global-average-pooled head: HiResCAM == Grad-CAM, so the rule (row order) keeps Grad-CAM
    assert rows["hirescam", "layer4"]["pointing_game"] == pytest.approx(rows["gradcam", "layer4"]["pointing_game"])
    assert res["default"]["method"] != "hirescam" or res["default"]["layer"] != "layer4"
    text = out.with_suffix(".md").read_text()
    assert text.startswith("# Evaluation\n\nkept\n") and "## Methods x architectures" in text
    assert "rollout, relevance, attnlrp | does not apply" in text and "Default by the rule" in text
