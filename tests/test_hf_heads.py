"""TimeSformer's and ViViT's class-token head (core.models.hf_heads): at the default layer the
engine stops the forward pass there and differentiates the head instead of the last block. The
maps must be the ones autograd through the whole model gives (and captum's LayerGradCam), for
every method, pooling and kind of target; any other layer goes through the whole model.
Tiny random models saved with ``save_pretrained`` into tmp_path, loaded as a user would, offline."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import core
from core.cam import METHODS, POOLINGS, Explainer
from core.cam.layouts import to_cthw

transformers = pytest.importorskip("transformers")

SMALL = {"hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 37,
         "num_frames": 4, "image_size": 32, "num_labels": 5}
FAMILIES = ("timesformer", "vivit")


pytestmark = pytest.mark.usefixtures("hf_offline")


def _load(tmp_path, family: str) -> nn.Module:
    config = (transformers.TimesformerConfig(patch_size=8, **SMALL) if family == "timesformer" else
              transformers.VivitConfig(tubelet_size=[2, 8, 8], qkv_bias=True, **SMALL))
    torch.manual_seed(0)
    hf = transformers.AutoModelForVideoClassification.from_config(config)
    with torch.no_grad():  # ViViT starts with a zero class token and positions: make them count
        for name, p in hf.named_parameters():
            if "cls_token" in name or "position_embeddings" in name:
                p.normal_(0, 0.5)
    hf.save_pretrained(tmp_path / family)
    return core.load_model(str(tmp_path / family))


def _blocks(model) -> list[nn.Module]:
    paths = model.spec.layer_paths
    return [model.get_submodule(paths[name]) for name in model.spec.layers]


def _calls(module: nn.Module) -> tuple[list, object]:
    calls: list = []
    return calls, module.register_forward_hook(lambda *_: calls.append(1))


def _clip():
    return torch.randn(1, 3, 4, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("family", FAMILIES)
def test_the_head_gives_the_models_own_logits(tmp_path, family):
    model = _load(tmp_path, family)
    blocks = _blocks(model)
    assert model.spec.default_layer == "layer.1" and model.logits_from_layer(blocks[1]) is not None
    assert model.logits_from_layer(blocks[0]) is None and model.logits_from_layer(blocks[2]) is None
    seen = {}
    handle = blocks[1].register_forward_hook(lambda _m, _i, out: seen.setdefault("x", out))
    with torch.no_grad():
        try:
            logits = model(_clip())
        finally:
            handle.remove()
        x = seen["x"][0] if isinstance(seen["x"], tuple) else seen["x"]
        torch.testing.assert_close(model.logits_from_layer(blocks[1])(x), logits, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_fast_path_gives_autograds_maps_for_every_method_pooling_and_target(tmp_path, family, monkeypatch):
    model = _load(tmp_path, family)
    x = _clip()
    fast, slow = Explainer(model), Explainer(model)
    last, kept = _calls(_blocks(model)[-1])
    try:
        for kwargs in ({"targets": [0, 3, 4]}, {"contrast": (1, 2)}, {"top_k": 2}):
            for pooling in POOLINGS:
                scale = None
                for method in ("gradcam", *(m for m in METHODS if m != "gradcam")):
                    a = fast.explain(x, method=method, pooling=pooling, **kwargs)
                    with monkeypatch.context() as m:  # the same model without the head: autograd
                        m.setattr(model, "logits_from_layer", lambda layer: None)
                        b = slow.explain(x, method=method, pooling=pooling, **kwargs)
                    assert a.targets == b.targets and a.settings == b.settings
                    torch.testing.assert_close(a.logits, b.logits, rtol=1e-5, atol=1e-6)
                    top = float(b.raw_maps.abs().max())
                    scale = scale or top
                    if method == "hirescam":
                        # HiResCAM sums G * A over channels, which is ~0 at the input of a block that
                        # starts with a LayerNorm (it ignores its input's scale; ViViT's patch tokens
                        # reach the class token only through it): both paths give rounding noise,
                        # so compare at the size of the terms it sums (Grad-CAM's map, same G and A).
                        torch.testing.assert_close(a.raw_maps, b.raw_maps, rtol=1e-5, atol=1e-5 * scale)
                        continue
                    torch.testing.assert_close(a.raw_maps, b.raw_maps, rtol=1e-5, atol=1e-5 * top)
                    torch.testing.assert_close(a.maps, b.maps, rtol=1e-5, atol=1e-5)
    finally:
        kept.remove()
    # the slow explainer ran the last block once (then its cache answered); the fast one never did
    assert len(last) == 1
    assert fast.explain(x, 2).cached_forward


class _Grid(nn.Module):
    """An identity on (N, C, t, h, w): where captum's LayerGradCam hooks the block's patch tokens."""

    def forward(self, g):
        return g


def _tap(model, block: nn.Module) -> _Grid:
    """Route ``block``'s patch tokens through a :class:`_Grid` as (N, C, t, h, w) and back."""
    spec, tap, original = model.spec, _Grid(), block.forward

    def forward(*args, **kwargs):
        out = original(*args, **kwargs)
        tokens = out[0] if isinstance(out, tuple) else out
        g = tap(to_cthw(tokens, spec.layout, "", spec.token_grid))
        # the inverse of the layout: (N, C, t, h, w) => (N, t*h*w, C), or (N, h*w*t, C) for TimeSformer
        perm = (0, 3, 4, 2, 1) if spec.layout == "tokens_hwt" else (0, 2, 3, 4, 1)
        patches = g.permute(*perm).reshape(tokens.shape[0], -1, tokens.shape[-1])
        tokens = torch.cat([tokens[:, :tokens.shape[1] - patches.shape[1]], patches], 1)
        return (tokens, *out[1:]) if isinstance(out, tuple) else tokens

    block.forward = forward
    return tap


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("layer", "cls"), [("layer.1", 0), ("layer.1", 4), ("layer.0", 4)])
def test_maps_equal_captums_layergradcam(tmp_path, family, layer, cls):
    """layer.1 (the default) takes the head, layer.0 the whole model: both are captum's maps."""
    from captum.attr import LayerGradCam

    model = _load(tmp_path, family)
    x = _clip()
    ours = core.explain(model, x, cls, layer=layer).raw_maps[0]
    block = model.get_submodule(model.spec.layer_paths[layer])
    tap = _tap(model, block)
    try:
        ref = LayerGradCam(model, tap).attribute(x, target=cls, relu_attributions=True)[0, 0].detach()
    finally:
        del block.forward
    assert float(ref.max()) > 0 and ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5 * float(ref.max()))


@pytest.mark.parametrize("family", FAMILIES)
def test_other_layers_run_the_whole_model(tmp_path, family):
    model = _load(tmp_path, family)
    x = _clip()
    blocks = _blocks(model)
    last, kept = _calls(blocks[-1])
    try:
        core.explain(model, x, 1)
        core.explain(model, x, 1, layer=blocks[1])  # the same layer given as a module
        assert len(last) == 0
        for layer in ("layer.0", "layer.2"):
            core.explain(model, x, 1, layer=layer)
        assert len(last) == 2
    finally:
        kept.remove()


def test_hooks_and_flags_are_restored_when_the_head_fails(tmp_path, monkeypatch):
    model = _load(tmp_path, "timesformer")
    model.train()
    blocks = _blocks(model)

    def broken(layer):
        def head(_x):
            raise RuntimeError("head failed")
        return head

    monkeypatch.setattr(model, "logits_from_layer", broken)
    with pytest.raises(RuntimeError, match="head failed"):
        core.explain(model, _clip(), 0)
    assert model.training and all(p.requires_grad for p in model.parameters())
    assert not any(b._forward_hooks for b in blocks)


def test_a_timesformer_without_divided_attention_gets_no_head(tmp_path):
    """Only divided space-time attention (every released TimeSformer) is written out."""
    hf = transformers.AutoModelForVideoClassification.from_config(
        transformers.TimesformerConfig(patch_size=8, attention_type="space_only", **SMALL))
    hf.save_pretrained(tmp_path / "space_only")
    model = core.load_model(str(tmp_path / "space_only"))
    assert model.logits_from_layer(_blocks(model)[1]) is None
