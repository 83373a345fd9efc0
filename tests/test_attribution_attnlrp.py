"""AttnLRP (core.attribution.attnlrp) on tiny Hugging Face VideoMAE, TimeSformer and ViViT models
saved with ``save_pretrained`` into tmp_path, and on a tiny Hugging Face image ViT: relevance is
conserved layer by layer where the rules say it must be, and the maps equal the explicit
relevance rules of the ``lxt`` package (the paper authors'), run in float64."""

from __future__ import annotations

import pytest
import torch
from tiny_hf import FAMILIES, saved
from torch import nn

import core
from core.attribution import attnlrp
from core.attribution.attention import TransformerInfo
from core.attribution.attnlrp import attnlrp_forward, lrp_rules
from core.cam import Explainer, Target
from core.errors import SettingsError
from core.trust import trust_check

pytestmark = pytest.mark.usefixtures("hf_offline")
transformers = pytest.importorskip("transformers")

ATTENTION_BRANCH = ("VideoMAEAttention", "TimeSformerAttention", "VivitAttention")


def _load(tmp_path, family: str, seed: int = 0):
    return core.load_model(str(saved(tmp_path, family, seed)))


def _no_bias_no_attention_scores(model) -> None:
    """Every bias, position and time embedding and the class token zero (they keep a share of the
    relevance under LRP-epsilon), and the queries and keys zero: the softmax then sees constant
    scores, its Taylor decomposition at them hands on nothing, and the half of each attention
    output's relevance that the uniform rule gives the attention weights is all the rules lose."""
    hf = model.model
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if name.endswith(("bias", "cls_token", "position_embeddings", "time_embeddings",
                              "query.weight", "key.weight", "q_proj.weight", "k_proj.weight")):
                p.zero_()
            elif name.endswith("qkv.weight"):  # TimeSformer: rows q, k, v
                p[: 2 * p.shape[0] // 3].zero_()
        emb = hf.base_model.embeddings
        if not isinstance(emb.position_embeddings, nn.Parameter):  # VideoMAE's fixed sin-cos table
            emb.position_embeddings = torch.zeros_like(emb.position_embeddings)


def _relevance_probes(model, blocks, sums: dict):
    """Forward hooks (the test's own) that add ``sum(t ⊙ g)`` of each block's input and output and
    each attention branch's output to ``sums`` when the backward pass reaches them."""
    handles = []

    def probe(key):
        def hook(module, args, output):
            t = output[0] if isinstance(output, tuple) else output
            t.register_hook(lambda g: sums.__setitem__(key, float((t.detach() * g).sum())))
            if key[0] == "out":
                x = args[0]
                x.register_hook(lambda g: sums.__setitem__(("in", key[1]), float((x.detach() * g).sum())))
        return hook

    for i, block in enumerate(blocks):
        handles.append(block.register_forward_hook(probe(("out", i))))
        for j, m in enumerate(m for m in block.modules() if type(m).__name__ in ATTENTION_BRANCH):
            handles.append(m.register_forward_hook(probe(("attention", i, j))))
    return handles


@pytest.mark.parametrize("family", FAMILIES)
def test_relevance_is_conserved_block_by_block_down_to_the_patch_embeddings(tmp_path, family):
    """With nothing to absorb relevance but the softmax (see :func:`_no_bias_no_attention_scores`):
    per block, R(input) = R(output) - 1/2 R(each attention output); the last block's output holds
    the score (LayerNorm, head and the mean over tokens conserve it); the map sums to what reaches
    the first block. float64: to 1e-9 relative (the float32 map to 1e-6)."""
    model = _load(tmp_path, family).double()
    _no_bias_no_attention_scores(model)
    blocks = [model.get_submodule(p) for p in model.spec.layer_paths.values()]
    sums: dict = {}
    handles = _relevance_probes(model, blocks, sums)
    try:
        torch.manual_seed(1)
        maps, info = attnlrp(Explainer(model), torch.randn(1, 3, 4, 32, 32, dtype=torch.float64), [Target(1, "b")])
    finally:
        for h in handles:
            h.remove()
    score = info["score"][0]
    assert abs(score) > 1e-4
    assert sums[("out", len(blocks) - 1)] == pytest.approx(score, rel=1e-9)
    lost = 0.0
    for i in range(len(blocks)):
        halves = 0.5 * sum(v for k, v in sums.items() if k[0] == "attention" and k[1] == i)
        assert sums[("in", i)] == pytest.approx(sums[("out", i)] - halves, rel=1e-9, abs=1e-12)
        lost += halves
    assert abs(lost) > 1e-3 * abs(score)  # the attention took part
    # the map is float32; its sum in float64 is info["conserved"] x score
    assert info["conserved"][0] * score == pytest.approx(sums[("in", 0)], rel=1e-9)
    assert info["conserved"][0] * score == pytest.approx(score - lost, rel=1e-9)
    assert float(maps.double().sum()) == pytest.approx(score - lost, rel=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_attnlrp_per_class_and_contrast_and_the_sanity_cascade(tmp_path, family):
    model = _load(tmp_path, family)
    ex, x = Explainer(model), torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        logits = model(x)
    # the rules change gradients only: the forward pass under them is the model's own
    torch.testing.assert_close(attnlrp_forward(ex, x).logits.detach(), logits, rtol=1e-5, atol=1e-6)
    exp = ex.explain(x, [0, 1], method="attnlrp")
    t = model.spec.token_grid
    assert exp.raw_maps.shape == (2, *t) and exp.maps.shape == (2, 4, 32, 32)
    # one forward pass, which also predicted the classes, then one backward pass per class
    assert exp.to_dict()["forward_passes"] == 1 == ex.forward_passes(x, core.Settings(method="attnlrp"))
    assert exp.to_dict()["method_params"]["backward_passes"] == 2
    assert not torch.allclose(exp.raw_maps[0], exp.raw_maps[1])
    alone, info = attnlrp(ex, x, [Target(0, "a"), Target(1, "b")])  # its own forward pass: the same maps
    torch.testing.assert_close(alone, exp.raw_maps, rtol=1e-5, atol=1e-7)
    assert info["forward_passes"] == 1
    # Gradient x Input is linear in the score: the contrast's map is the difference of the two
    contrast, _ = attnlrp(ex, x, [Target(0, "a", minus=1)])
    torch.testing.assert_close(contrast[0], exp.raw_maps[0] - exp.raw_maps[1], rtol=1e-4, atol=1e-6)
    report = trust_check(ex, x, ex.explain(x, 0, method="attnlrp"), steps=3, sanity_depth=1)
    assert report.sanity[0]["spearman"] < 0.99  # randomising the head changes the map


def _state(model):
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    patched = sum("forward" in m.__dict__ for m in model.modules())
    grads = [p.requires_grad for p in model.parameters()]
    return model.model.config._attn_implementation, hooks, patched, grads, model.training


@pytest.mark.parametrize("family", ["videomae", "timesformer"])
def test_the_model_is_put_back_after_a_normal_and_a_failing_call(tmp_path, family):
    model = _load(tmp_path, family)
    before = _state(model)
    explainer, x = Explainer(model), torch.rand(1, 3, 4, 32, 32)
    with torch.no_grad():
        logits = model(x)
    attnlrp(explainer, x, [Target(0, "a")])
    assert _state(model) == before
    with pytest.raises(RuntimeError):  # 3 frames: the model raises mid-call
        attnlrp(explainer, torch.rand(1, 3, 3, 32, 32), [Target(0, "a")])
    assert _state(model) == before
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits, rtol=0, atol=0)


def test_a_model_without_attention_is_refused_naming_the_methods_that_apply():
    model = nn.Sequential(nn.Conv3d(3, 4, 3), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3))
    with pytest.raises(SettingsError, match="occlusion or rise"):
        attnlrp(Explainer(model), torch.rand(1, 3, 4, 8, 8), [Target(0, "a")])


# -- the lxt oracle ----------------------------------------------------------------------------
def _tiny_vit():
    torch.manual_seed(0)
    config = transformers.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                                    image_size=32, patch_size=8, num_labels=5)
    vit = transformers.ViTForImageClassification(config).double().eval()
    with torch.no_grad():  # weights of a trained scale, so every rule moves relevance visibly
        for p in vit.parameters():
            p.normal_(0, 0.3)
        for m in vit.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
    return vit


def _lxt_relevance(vit, tokens: torch.Tensor, target: int) -> torch.Tensor:
    """The relevance of ``tokens`` (the patch embedding's output) by lxt's explicit rules
    (``lxt.explicit.functional``: each backward returns relevance, nothing is a gradient),
    the ViT's forward pass written with them: LRP-epsilon linear layers and residual sums, the
    softmax's Taylor decomposition, the uniform-epsilon rule for both matrix products, LayerNorm
    with the standard deviation held constant, the identity rule for GELU."""
    lf = pytest.importorskip("lxt.explicit.functional")
    from lxt.explicit.rules import identity

    eps = 1e-12

    def linear(x, layer):
        return lf.linear_epsilon(x, layer.weight, layer.bias, epsilon=eps)

    def norm(x, ln):
        return lf.layer_norm_grad_fn.apply(x, ln.weight, ln.bias, ln.eps, eps)

    emb = vit.vit.embeddings
    h = torch.cat([emb.cls_token.detach().expand(len(tokens), 1, -1), tokens], 1)
    h = lf.add2(h, emb.position_embeddings.detach(), epsilon=eps)
    heads = vit.config.num_attention_heads
    for layer in vit.vit.layers:
        att = layer.attention
        n = norm(h, layer.layernorm_before)
        shape = (*n.shape[:2], heads, n.shape[2] // heads)  # (B, L, D) => (B, heads, L, D / heads)
        q, k, v = (linear(n, p).view(shape).transpose(1, 2) for p in (att.q_proj, att.k_proj, att.v_proj))
        s = lf.matmul(q, k.transpose(-1, -2), epsilon=eps)
        a = lf.softmax(s, -1, temperature=1 / att.scaling)
        o = lf.matmul(a, v, epsilon=eps).transpose(1, 2).reshape(n.shape)
        h = lf.add2(h, linear(o, att.o_proj), epsilon=eps)
        m = linear(norm(h, layer.layernorm_after), layer.mlp.fc1)
        m = linear(identity(nn.functional.gelu, m), layer.mlp.fc2)
        h = lf.add2(h, m, epsilon=eps)
    logits = linear(norm(h, vit.vit.layernorm)[:, 0], vit.classifier)
    out = torch.zeros_like(logits)
    out[0, target] = logits[0, target]  # the relevance put in: the logit itself
    (r,) = torch.autograd.grad(logits, tokens, out)
    return r.sum(-1)


def test_the_rules_equal_lxt_on_a_hugging_face_vit():
    """Our gradient form (one forward, one backward, fused attention) against lxt's explicit
    relevance rules on the same ViT, in float64: equal to 1e-8 relative to the largest token's
    relevance. (lxt's efficient mode cannot be imported under transformers 5: see docs/trust.md.)"""
    vit = _tiny_vit()
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        tokens = vit.vit.embeddings.patch_embeddings(x).requires_grad_(True)
    target = 3
    expected = _lxt_relevance(vit, tokens, target)
    info = TransformerInfo(vit, "vit", (), "class token", "tokens", (1, 4, 4))
    with torch.enable_grad(), lrp_rules(info) as store:
        logits = vit(pixel_values=x).logits
    (g,) = torch.autograd.grad(logits[0, target], store["tokens"])
    ours = (store["tokens"] * g).sum(-1)
    scale = expected.abs().max()
    assert scale > 1e-3 * abs(float(logits[0, target].detach()))
    torch.testing.assert_close(ours / scale, expected / scale, rtol=0, atol=1e-8)
    # and not by accident: plain Gradient x Input is far from it
    plain_tokens = tokens.detach().requires_grad_(True)
    handle = vit.vit.embeddings.patch_embeddings.register_forward_hook(lambda m, i, o: plain_tokens)
    try:
        (g0,) = torch.autograd.grad(vit(pixel_values=x).logits[0, target], plain_tokens)
    finally:
        handle.remove()
    assert ((plain_tokens * g0).sum(-1) / scale - expected / scale).abs().max() > 1e-2


def test_the_page_offers_attnlrp_for_a_transformer_and_says_what_it_costs(tmp_path):
    from demo.explain_tab import model_box as handlers
    from demo.settings import PageSettings

    folder = str(saved(tmp_path, "vivit"))
    choices = [v for _, v in handlers.method_choice(core.get_spec(folder)).choices]
    assert "attnlrp" in choices
    assert handlers.cost(folder, PageSettings("attnlrp"))["explain_cost"].startswith("**1 forward pass**, which also classifies")
