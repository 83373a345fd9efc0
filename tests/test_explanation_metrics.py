"""lab.benchmark's metrics, each against Quantus (PyPI, pinned in requirements-dev.txt) on inputs
it supports (one-frame clips, or a clip laid out as an image) where the definitions coincide,
and on toy maps and models whose answer is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from core.models.measured import TABLE_LINK
from lab.benchmark.board import write_measured
from lab.benchmark.metrics import complexity as cx
from lab.benchmark.metrics import faithfulness as fa
from lab.benchmark.metrics import localisation as lo
from lab.benchmark.metrics import randomisation as ra
from lab.benchmark.metrics import robustness as ro
from lab.benchmark.metrics.axiomatic import completeness_gap
from lab.benchmark.report import anchor
from lab.benchmark.stats import default_rule, interval, paired
from lab.evaluate.methods import record_default

quantus = pytest.importorskip("quantus")


def _one_frame(seed=0, H=12, W=15):
    rng = np.random.default_rng(seed)
    a = rng.random((1, H, W))
    s = np.zeros((1, H, W), bool)
    s[0, 3:7, 4:10] = True
    return a, s


def test_rank_accuracy_is_quantus_relevance_rank_accuracy_on_one_frame():
    for seed in range(5):
        a, s = _one_frame(seed)
        a[0, 3:7, 4:10] += seed * 0.2  # from chance to a map mostly on the mask
        q = quantus.RelevanceRankAccuracy(disable_warnings=True).evaluate_batch(a_batch=a[None], s_batch=s[None])
        assert lo.rank_accuracy(a, s) == pytest.approx(float(q[0]), abs=1e-12)


def test_top_region_iou_on_maps_with_known_overlap():
    s = np.zeros((2, 4, 4), bool)
    s[0, :2, :2] = True  # 4 voxels, all in frame 0
    assert lo.top_region_iou(s.astype(float), s) == 1.0
    half = np.zeros((2, 4, 4))
    half[0, :2, 1:3] = 1.0  # 2 of the top 4 in the mask: IoU 2 / 6
    assert lo.top_region_iou(half, s) == pytest.approx(2 / 6)
    assert lo.rank_accuracy(half, s) == pytest.approx(0.5)
    assert math.isnan(lo.top_region_iou(half, np.zeros_like(s)))


def test_gini_and_entropy_are_quantus_sparseness_and_complexity_on_one_frame():
    a, _ = _one_frame(3)
    sp = quantus.Sparseness(disable_warnings=True).evaluate_batch(x_batch=a[None], a_batch=a[None].copy())
    co = quantus.Complexity(disable_warnings=True).evaluate_batch(x_batch=a[None], a_batch=a[None].copy())
    assert cx.spatial(cx.gini, a) == pytest.approx(float(sp[0]), abs=1e-9)
    assert cx.spatial(cx.entropy, a) == pytest.approx(float(co[0]), abs=1e-9)


def test_temporal_complexity_of_a_map_in_one_frame():
    m = np.zeros((8, 5, 5))
    m[2] = 1.0
    assert cx.temporal(cx.gini, m) == pytest.approx(7 / 8, abs=1e-6)
    assert cx.temporal(cx.entropy, m) == pytest.approx(0.0, abs=1e-9)
    assert cx.temporal(cx.entropy, np.ones((8, 5, 5))) == pytest.approx(math.log(8))
    assert cx.spatial(cx.gini, m) == pytest.approx(cx.gini(m[2]))  # all-zero frames are left out


def test_imputation_on_one_frame_is_quantus_road_imputation():
    from quantus.functions.perturb_func import noisy_linear_imputation

    rng = np.random.default_rng(0)
    x = rng.random((3, 12, 15))
    removed = rng.random((12, 15)) < 0.4
    q = noisy_linear_imputation(x, np.flatnonzero(removed.ravel()), noise=0.0)
    ours = fa.impute(torch.from_numpy(x)[:, None], torch.from_numpy(removed)[None], tol=1e-7, iters=2000)
    np.testing.assert_allclose(ours[:, 0].numpy(), q, atol=1e-4)


def test_imputation_fills_a_removed_frame_from_the_frames_around_it():
    # a clip that brightens linearly over time: a removed frame is the mean of its neighbours
    t = torch.arange(6, dtype=torch.float32).view(1, 6, 1, 1).expand(2, 6, 8, 8).clone()
    removed = torch.zeros(6, 8, 8, dtype=torch.bool)
    removed[3] = True
    out = fa.impute(t, removed, tol=1e-7, iters=500)
    torch.testing.assert_close(out, t, atol=1e-4, rtol=0)
    # the temporal mean (deletion's baseline) would put 2.5 there instead
    assert not torch.allclose(t.mean(1, keepdim=True).expand_as(t)[:, 3], out[:, 3])


def _evidence_model(region):
    """A toy "model": class 0's probability is the mean of the clip over ``region``."""
    def predict(clips):
        p = clips[:, 0][:, region].mean(1).clamp(0, 1)
        return torch.stack([p, 1 - p], 1)
    return predict


def test_srg_is_positive_for_the_right_map_and_negative_for_the_reversed_one():
    x = torch.zeros(1, 1, 4, 16, 16)
    region = torch.zeros(4, 16, 16, dtype=torch.bool)
    region[:, 4:8, 4:8] = True
    x[0, 0][region] = 1.0
    predict = _evidence_model(region)
    right = fa.road_curves(predict, x, 0, region.float(), noise=0.0)
    wrong = fa.road_curves(predict, x, 0, 1 - region.float(), noise=0.0)
    assert right["morf"].probs[0] == pytest.approx(1.0) and right["morf"].probs[-1] < 0.5
    assert fa.srg(right["morf"], right["lerf"]) > 0.3 > -0.3 > fa.srg(wrong["morf"], wrong["lerf"])
    a = fa.Curve((0.0, 0.5, 1.0), (1.0, 0.0, 0.0))
    b = fa.Curve((0.0, 0.5, 1.0), (1.0, 1.0, 1.0))
    assert fa.srg(a, b) == pytest.approx(1.0 - 0.25)


def test_robustness_changes_on_toy_explainers():
    x = torch.ones(1, 3, 4, 8, 8)
    assert ro.max_sensitivity(lambda z: torch.ones(4, 8, 8), x) == 0.0  # a map that ignores the input
    g = torch.Generator().manual_seed(7)
    draws = [torch.randn(x.shape, generator=g) * 0.1 for _ in range(3)]
    expect = max(float(e.norm() / x.norm()) for e in draws)
    assert ro.max_sensitivity(lambda z: z, x, samples=3, sigma=0.1, seed=7) == pytest.approx(expect, rel=1e-6)
    assert ro.relative_change(torch.ones(3), torch.zeros(3)) == 1.0
    assert ro.shifted([0, 4, 9], 10) == [1, 5, 9]
    nxt, shared = ro.overlapping([0, 2, 4, 6])
    assert nxt == [4, 6, 8, 10] and shared == 2
    weak = torch.zeros(2, 4, 4)
    weak[0, 1, 1] = 0.01  # a window whose evidence is elsewhere: scaled to its peak, not divided by ~0
    strong = weak * 90
    assert ro.flicker(weak, strong) == pytest.approx(0.0) and ro.relative_change(weak, strong) == pytest.approx(89)
    assert ro.flicker(weak, torch.roll(weak, 1, 1)) == pytest.approx(2 ** 0.5)


def test_a_low_quality_reencode_keeps_the_frames_but_not_their_detail():
    rng = np.random.default_rng(0)
    video = (rng.random((6, 32, 48, 3)) * 255).astype(np.uint8)
    low = ro.reencoded(video, 12.0)
    assert low.shape == video.shape and low.dtype == np.uint8
    err = np.abs(low.astype(float) - video).mean()
    assert 2 < err < 120  # noise does not survive crf 40; the frames are still the frames


def test_discrete_entropy_and_emprt():
    from quantus.functions.complexity_func import discrete_entropy

    a = np.random.default_rng(1).random((4, 9, 9))
    assert ra.discrete_entropy(a) == pytest.approx(discrete_entropy(a=a, x=a), abs=1e-12)
    peaked = np.zeros((4, 9, 9))
    peaked[1, 4, 4] = 1.0
    assert ra.emprt(peaked, a) > 1.0 and math.isnan(ra.emprt(np.ones(5), a))
    rng = np.random.default_rng(0)
    drawn = [ra.other_class(2, 4, rng) for _ in range(300)]
    assert set(drawn) == {0, 1, 3}


def test_completeness_of_gradient_times_input_on_a_linear_model():
    torch.manual_seed(0)
    lin = torch.nn.Linear(20, 3, bias=False)
    x = torch.randn(1, 20, requires_grad=True)
    y = lin(x)[0, 1]
    (g,) = torch.autograd.grad(y, x)
    assert completeness_gap((g * x).detach().numpy(), float(y.detach())) == pytest.approx(0.0, abs=1e-5)
    assert completeness_gap(np.ones(4), 2.0) == pytest.approx(1.0)


def test_intervals_and_paired_differences():
    assert interval([0.5]) == {"mean": 0.5, "lo": 0.5, "hi": 0.5, "n": 1}
    assert interval([None, float("nan")])["n"] == 0
    v = np.random.default_rng(0).normal(1.0, 0.1, 200)
    iv = interval(v)
    assert iv["lo"] < 1.0 < iv["hi"] and iv["hi"] - iv["lo"] < 0.05
    a = {i: float(x) for i, x in enumerate(v)}
    assert paired(a, {i: x - 0.1 for i, x in a.items()})["real"]
    noise = np.random.default_rng(1).normal(0, 0.05, 200)
    same = paired(a, {i: x + float(noise[i]) for i, x in a.items()})
    assert not same["real"] and same["lo"] < 0 < same["hi"]


def _row(key, mean, lo_, hi, *, sanity=0.1, passes=1, interactive=True):
    method, _, layer = key.partition("@")
    f = {"pointing": {"mean": mean, "lo": lo_, "hi": hi, "n": 9},
         "pointing_near": {"mean": mean, "lo": lo_, "hi": hi, "n": 9},
         "sanity_head": {"mean": sanity, "lo": sanity, "hi": sanity, "n": 9}}
    return {"key": key, "method": method, "layer": layer or None, "passes": passes, "interactive": interactive,
            "figures": f}


def test_the_default_rule_takes_the_cheapest_row_not_below_the_best():
    rows = [_row("layercam@layer3", 0.70, 0.60, 0.80),  # as good as the best by the intervals, cheapest, listed first
            _row("gradcampp@layer4", 0.85, 0.75, 0.92, passes=2),  # the best mean, but dearer
            _row("gradcam@layer4", 0.80, 0.70, 0.90),  # as good, cheapest, and the better of the cheapest
            _row("hirescam@layer2", 0.60, 0.50, 0.68),  # below: its interval ends under the best's
            _row("gradcam@layer1", 0.95, 0.90, 0.99, sanity=0.9),  # ignores the weights
            _row("occlusion", 0.99, 0.98, 1.0, passes=65, interactive=False)]
    d = default_rule(rows)
    assert (d["method"], d["layer"]) == ("gradcam", "layer4") and d["best"] == "gradcampp@layer4"
    assert d["as_good"] == ["layercam@layer3", "gradcampp@layer4", "gradcam@layer4"]
    # row order decides only between exact equals
    assert default_rule([rows[2], {**rows[2], "key": "xgradcam@layer4", "method": "xgradcam"}])["method"] == "gradcam"


def test_the_default_is_written_where_measured_json_keeps_it(tmp_path):
    rows = [_row("gradcam@layer3", 0.5, 0.4, 0.6), _row("gradcam@layer4", 0.8, 0.7, 0.9)]
    board = {"model": "toy", "split": "test", "clips": 9, "data": "/d", "rows": rows, "default": default_rule(rows)}
    path = tmp_path / "measured.json"
    # lab.evaluate's table measured more layers first, on its own clips
    evaluated = {"model": "toy", "split": "test", "clips": 39, "data": "/d", "default": {
        "method": "hirescam", "layer": "layer2", "rule": "evaluate's rule"}, "rows": [
        {"method": m, "layer": la, "pointing_game": p, "pointing_game_near": p, "sanity_head": 0.1}
        for m, la, p in (("gradcam", "layer2", 0.3), ("hirescam", "layer2", 0.9), ("gradcam", "layer4", 0.2))]}
    record_default(evaluated, path=path)
    rec = write_measured(board, "docs/benchmark.md#toy-on-d-test-split", path=path)
    assert (rec["method"], rec["layer"], rec["layers"]) == ("gradcam", "layer4", ["layer3", "layer4"])
    # a file from before each record named its table: its records take the file's rule and table
    legacy = tmp_path / "legacy.json"
    legacy.write_text(json.dumps({"models": {"other": {"method": "gradcam", "rows": {}}}, "rule": "old rule",
                                  "source": "docs/old.md#t"}))
    write_measured(board, "docs/benchmark.md#toy", path=legacy)
    data = json.loads(legacy.read_text())
    assert "rule" not in data and data["models"]["other"] == {"method": "gradcam", "rows": {}, "rule": "old rule",
                                                            "source": "docs/old.md#t"}
    assert rec["rows"]["gradcam@layer3"][0] == 0.5 and rec["rows"]["gradcam@layer4"][0] == 0.8
    assert (rec["source"], rec["rule"]) == ("docs/benchmark.md#toy-on-d-test-split", board["default"]["rule"])
    # the layers the benchmark did not measure keep the earlier table's rows, under its name
    [earlier] = rec["earlier"]
    assert (earlier["source"], earlier["clips"]) == (TABLE_LINK, 39)
    assert set(earlier["rows"]) == {"gradcam@layer2", "hirescam@layer2"}
    # a rerun of the same table keeps them; a rerun of the earlier one takes its rows back
    assert write_measured(board, rec["source"], path=path)["earlier"] == [earlier]
    # lab.evaluate run again (keep_other_default, as its command does): the benchmark's default
    # stays, and its rows of the other layers are the new ones
    evaluated["rows"][0]["pointing_game"] = 0.35
    kept = record_default(evaluated, path=path, keep_other_default=True)
    assert {k: kept[k] for k in ("method", "layer", "source", "rows")} == {k: rec[k] for k in ("method", "layer", "source", "rows")}
    assert [(e["source"], e["rows"]["gradcam@layer2"][0]) for e in kept["earlier"]] == [(TABLE_LINK, 0.35)]
    # asked to set the default, it does, and the benchmark's other rows are kept in turn
    back = record_default(evaluated, path=path)
    assert (back["source"], back["method"], back["rows"]["gradcam@layer4"][0]) == (TABLE_LINK, "hirescam", 0.2)
    assert back["earlier"] == [{"split": "test", "clips": 9, "data": "/d", "source": rec["source"],
                                "rows": {"gradcam@layer3": rec["rows"]["gradcam@layer3"]}}]


def test_the_anchor_of_a_board_is_the_one_its_heading_gets():
    board = {"model": "i3d_tiny14", "data": "/work/data/actions13/", "split": "test"}
    assert anchor(board) == "i3d_tiny14-on-actions13-test-split"
    # the same data under another path: the second section of that heading gets "-1", as on GitHub
    other, third = {**board, "data": "data/actions13"}, {**board, "model": "i3d_tiny"}
    boards = [board, third, other]
    assert [anchor(b, boards) for b in boards] == [
        "i3d_tiny14-on-actions13-test-split", "i3d_tiny-on-actions13-test-split", "i3d_tiny14-on-actions13-test-split-1"]


def test_the_report_says_each_figure_from_its_best_row():
    """With dozens of rows the pairs run to hundreds: the report names the best row of a figure,
    the rows it really beats (the difference turned to read best − other) and those it cannot be
    told from; a figure with no better direction gets its count only."""
    from lab.benchmark.report import _differences

    def fig(mean):
        return {"pointing": {"mean": mean, "n": 5}, "gini_spatial": {"mean": mean, "n": 5}}

    rows = [{"key": k, "figures": fig(m)} for k, m in (("a", 0.2), ("b", 0.6), ("c", 0.5), ("d", 0.4))]
    pairs = [{"a": "a", "b": "b", "mean": -0.4, "lo": -0.5, "hi": -0.3, "real": True},
             {"a": "a", "b": "c", "mean": -0.3, "lo": -0.4, "hi": -0.2, "real": True},
             {"a": "b", "b": "c", "mean": 0.1, "lo": -0.1, "hi": 0.3, "real": False},
             {"a": "b", "b": "d", "mean": 0.2, "lo": 0.1, "hi": 0.3, "real": True}]
    board = {"rows": rows, "pairs": {"pointing": pairs, "gini_spatial": pairs}}
    assert _differences(board, "pointing") == (
        "- **pointing**: 3 of 4 pairs differ really; best, higher is better: b (0.600); "
        "really above: a +0.400 [+0.300, +0.500]; d +0.200 [+0.100, +0.300]; not told apart from: c")
    assert _differences(board, "gini_spatial") == "- **gini_spatial**: 3 of 4 pairs differ really"
    assert _differences({"rows": rows, "pairs": {}}, "srg") == "- **srg**: not recorded"
    # lower is better: the best is the lowest mean, and its differences read below 0
    noise = {"rows": [{"key": r["key"], "figures": {"noise": r["figures"]["pointing"]}} for r in rows],
             "pairs": {"noise": pairs}}
    assert _differences(noise, "noise") == (
        "- **noise**: 3 of 4 pairs differ really; best, lower is better: a (0.200); "
        "really below: b -0.400 [-0.500, -0.300]; c -0.300 [-0.400, -0.200]")
    # a real difference against the best row's mean (on the clips both have) is said apart
    odd = {**board, "pairs": {"pointing": [{"a": "b", "b": "c", "mean": -0.1, "lo": -0.2, "hi": -0.05, "real": True}]}}
    assert "yet on the clips both have, really behind: c -0.100 [-0.200, -0.050]" in _differences(odd, "pointing")
