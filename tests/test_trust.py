"""Trust checks on a hand-built model whose answer is known: class 1 lives in one frame."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.cam import explain
from core.trust import Curve, TrustReport, spearman, trust_check, verdicts

KEY_FRAME = 5


class Gate(nn.Module):
    def __init__(self, frame: int):
        super().__init__()
        self.frame = frame

    def forward(self, x):
        mask = torch.zeros(x.shape[2], device=x.device)
        mask[self.frame] = 1
        return x * mask.view(1, 1, -1, 1, 1)


class OneFrameNet(nn.Module):
    """Logit 1 = how red frame KEY_FRAME is; logit 0 = a constant."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 1, 1)
        self.gate = Gate(KEY_FRAME)
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0] = 1.0
            self.conv.bias.zero_()
            self.fc.weight.copy_(torch.tensor([[0.0], [40.0 * 16]]))
            self.fc.bias.copy_(torch.tensor([0.0, -2.0]))

    def forward(self, x):
        a = self.gate(torch.relu(self.conv(x)))
        return self.fc(a.mean((2, 3, 4)))


@pytest.fixture
def setup():
    model = OneFrameNet().eval()
    x = torch.zeros(1, 3, 16, 8, 8)
    x[0, 0, KEY_FRAME, 2:6, 2:6] = 1.0  # a red square in the key frame only
    exp = explain(model, x, 1, layer="gate")
    return model, x, exp


def test_cam_points_at_the_key_frame(setup):
    _, _, exp = setup
    assert int(exp.temporal_importance[0].argmax()) == KEY_FRAME
    assert float(exp.temporal_importance[0, KEY_FRAME]) > 0.9


def test_deleting_the_top_frame_removes_the_score(setup):
    model, x, exp = setup
    report = trust_check(model, x, exp, sanity_depth=1)
    cam, rnd = report.curves["frames_deletion_cam"], report.curves["frames_deletion_random"]
    assert cam.probs[0] > 0.9  # the untouched clip is class 1
    assert cam.probs[1] < 0.5 * cam.probs[0]  # the first deletion step takes out the key frame
    assert cam.auc < rnd.auc
    ins = report.curves["frames_insertion_cam"]
    assert ins.probs[1] > 0.9  # putting the key frame back first restores the score
    assert ins.auc > report.curves["frames_insertion_random"].auc


def test_counterfactuals_flip_when_the_key_frame_moves(setup):
    model, x, exp = setup
    cf = trust_check(model, x, exp, sanity_depth=1).counterfactuals
    assert cf["original"]["top1"] == "class 1"
    assert cf["reversed"]["flipped"] and cf["frozen_middle"]["flipped"]  # frame 5 is now empty
    assert cf["top_frames_blurred"]["target_prob"] < cf["original"]["target_prob"]


def test_sanity_correlation_falls_when_layers_are_randomised(setup):
    model, x, exp = setup
    sanity = trust_check(model, x, exp, sanity_depth=2).sanity
    assert [s["randomized"] for s in sanity] == [["fc"], ["fc", "conv"]]
    assert all(s["spearman"] < 0.99 for s in sanity)


def test_spearman_basics():
    a = torch.arange(10.0)
    assert spearman(a, a * 3 + 1) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, torch.zeros(10)) == 0.0


# -- the verdicts: read in core.trust (the page and result.json show them) --------------------

def _report(aucs: dict[str, tuple[float, float]], flipped: set[str], rho: float | None) -> TrustReport:
    """A report whose curves have the given (heatmap order, random order) areas: flat curves
    over [0, 1] at that height."""
    curves = {}
    for test, (cam, rnd) in aucs.items():
        curves[f"{test}_cam"] = Curve((0.0, 1.0), (cam, cam))
        curves[f"{test}_random"] = Curve((0.0, 1.0), (rnd, rnd))
    cf = {name: {"top1": "a", "top1_prob": 0.9, "target_prob": 0.9, "flipped": name in flipped}
          for name in ("original", "reversed", "shuffled", "frozen_middle", "top_frames_blurred")}
    sanity = [] if rho is None else [{"randomized": ["fc"], "spearman": 0.9},
                                     {"randomized": ["fc", "conv"], "spearman": rho}]
    return TrustReport("a", 0, curves, cf, sanity)


def test_verdicts_read_the_numbers_with_the_thresholds_of_core_trust():
    tie = verdicts.AUC_TIE
    v = _report({"frames_deletion": (0.2, 0.5), "frames_insertion": (0.8, 0.5),
                 "regions_deletion": (0.5, 0.5 * (1 + tie / 2)),  # within the tie: neither better nor worse
                 "regions_insertion": (0.4, 0.5)}, {"reversed"}, -0.2).verdicts
    assert v.tests == {"frames_deletion": "better", "frames_insertion": "better",
                       "regions_deletion": "tie", "regions_insertion": "worse"}
    assert (v.passed, v.faithfulness) == (2, "partly faithful")
    assert v.flips == ("reversed",) and v.sanity == "depends on the weights"
    better = {t: (0.2, 0.5) if t.endswith("deletion") else (0.8, 0.5) for t in verdicts.TESTS}
    v = _report(better, set(), verdicts.SANITY_RHO).verdicts  # |rho| not below the threshold
    assert (v.faithfulness, v.flips, v.sanity) == ("faithful", (), "independent of the weights")
    worse = {t: (0.8, 0.5) if t.endswith("deletion") else (0.2, 0.5) for t in verdicts.TESTS}
    report = _report(worse, {"shuffled", "frozen_middle"}, None)
    assert report.verdicts.faithfulness == "not faithful" and report.verdicts.sanity is None
    assert report.to_dict()["verdicts"] == {
        "faithfulness": "not faithful", "passed": 0, "tests": dict.fromkeys(verdicts.TESTS, "worse"),
        "flips": ["shuffled", "frozen_middle"], "sanity": None,
        "thresholds": {"auc_tie": verdicts.AUC_TIE, "sanity_rho": verdicts.SANITY_RHO}}


def test_the_one_frame_net_is_judged_faithful_and_time_sensitive(setup):
    model, x, exp = setup
    v = trust_check(model, x, exp, sanity_depth=1).verdicts
    assert v.tests["frames_deletion"] == v.tests["frames_insertion"] == "better"
    assert "reversed" in v.flips and "frozen_middle" in v.flips
