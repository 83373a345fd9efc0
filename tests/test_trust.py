"""Trust checks on a hand-built model whose answer is known: class 1 lives in one frame."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import core
from core.cam import explain
from core.trust import (
    Curve,
    TrustReport,
    randomize_top_down,
    sanity_order,
    spearman,
    trust_check,
    verdicts,
)

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


# --- which layers the sanity check randomises, and how ---------------------------------------

@pytest.mark.parametrize("name, first", [("r3d_18", ["fc", "layer4"]), ("s3d", ["classifier", "mixed_5c"]),
                                         ("mvit_v2_s", ["head", "blocks.15"]), ("swin3d_t", ["head", "stage4"])])
def test_the_sanity_cascade_starts_with_each_torchvision_familys_head(name, first):
    model = core.load_model(name, weights=None)  # random weights: no download
    order = sanity_order(model, depth=2)
    assert order == first
    head = model.get_submodule(first[0])
    before = [p.clone() for p in head.parameters()]
    steps = [names for names, _ in randomize_top_down(model, order)]  # aliases resolve via model.spec
    assert steps[-1] == first
    assert all(not torch.equal(a, b) for a, b in zip(before, head.parameters(), strict=True))


def test_the_sanity_check_randomises_a_hugging_face_models_classifier_first(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.VideoMAEConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                         intermediate_size=37, num_frames=4, image_size=32, patch_size=16,
                                         tubelet_size=2, num_labels=3, use_mean_pooling=True)
    torch.manual_seed(0)
    transformers.AutoModelForVideoClassification.from_config(config).save_pretrained(tmp_path / "mae")
    model = core.load_model(str(tmp_path / "mae"))
    assert model.spec.head == "model.classifier"
    assert sanity_order(model) == ["model.classifier", "layer.1", "layer.0"]
    x = torch.rand(1, 3, 4, 32, 32)
    exp = explain(model, x, 0)
    sanity = trust_check(model, x, exp, sanity_depth=2).sanity
    assert [s["randomized"] for s in sanity] == [["model.classifier"], ["model.classifier", "layer.1"]]


class _OwnHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Conv3d(3, 4, 1)
        self.scores = nn.Linear(4, 2)
        self.fc = nn.Linear(2, 2)  # not the head: a name is not enough, the spec says which

    def forward(self, x):
        return self.fc(self.scores(self.body(x).mean((2, 3, 4))))


def test_a_users_own_head_comes_from_the_spec():
    spec = core.ModelSpec(name="own", categories=("a", "b"), num_frames=4, input_size=(8, 8), mean=(0.0,) * 3,
                          std=(1.0,) * 3, layers=("body",), default_layer="body", head="scores")
    model = _OwnHead()
    assert sanity_order(model, spec) == ["scores", "body"]
    assert sanity_order(model) == ["fc", "scores", "body"]  # no spec: the children, a known head name first
    with pytest.raises(core.SettingsError, match="head='nope'"):
        sanity_order(model, dataclasses.replace(spec, head="nope"))


def test_randomising_a_norm_layer_keeps_its_bias_near_zero_and_its_scale_near_one():
    model = nn.Sequential(nn.Conv3d(3, 64, 1), nn.BatchNorm3d(64), nn.LayerNorm(64))
    with torch.no_grad():
        for norm in (model[1], model[2]):
            norm.weight.fill_(5.0)
            norm.bias.fill_(5.0)
    for _ in randomize_top_down(model, ["1", "2"], seed=0):
        pass
    for norm in (model[1], model[2]):
        assert abs(float(norm.weight.detach().mean()) - 1.0) < 0.1 and float(norm.weight.detach().std()) > 0.02
        assert abs(float(norm.bias.detach().mean())) < 0.1 and float(norm.bias.detach().std()) > 0.02


class _S3DLike(nn.Module):
    """Like torchvision's S3D: the layers are ``features`` children offered under aliases, and
    the head is ``classifier``, not ``fc``."""

    def __init__(self, n: int):
        super().__init__()
        self.features = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv3d(8, 8, 3, padding=1))
        self.classifier = nn.Linear(8, n)

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3, 4)))


def test_evaluate_runs_the_sanity_check_on_a_model_without_fc(tmp_path):
    from lab.data import CLASSES, write_dataset
    from lab.evaluate import evaluate

    write_dataset(tmp_path, n_train=0, n_val=0, n_test=1, seed=5,
                  render_options={"size": (48, 64), "fps": 8, "duration": 1.0})
    model = _S3DLike(len(CLASSES)).eval()
    model.spec = core.ModelSpec(name="s3d_like", categories=tuple(CLASSES), num_frames=4, input_size=(32, 32),
                                mean=(0.5,) * 3, std=(0.5,) * 3, layers=("mixed_a", "mixed_b"),
                                default_layer="mixed_b", layer_paths={"mixed_a": "features.0", "mixed_b": "features.2"})
    result = evaluate(model, tmp_path, "test", limit=1, sanity_clips=1)
    assert [r["randomized"] for r in result["sanity"]] == [
        ["classifier"], ["classifier", "mixed_b"], ["classifier", "mixed_b", "mixed_a"]]
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
