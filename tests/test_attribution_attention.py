"""Attention rollout and relevance (core.attribution) on tiny Hugging Face VideoMAE, TimeSformer
and ViViT models saved with ``save_pretrained`` into tmp_path, never the network; checked against
hand computations and an independent dense implementation written here."""

from __future__ import annotations

import copy
import weakref

import pytest
import torch
from tiny_hf import FAMILIES, saved
from torch import nn

import core
from core.attribution import relevance, rollout
from core.attribution.attention import Step
from core.attribution.rollout import rollout_vector
from core.cam import Explainer, Target
from core.errors import SettingsError

pytestmark = pytest.mark.usefixtures("hf_offline")


def _load(tmp_path, family: str, seed: int = 0):
    return core.load_model(str(saved(tmp_path, family, seed)))


def _stochastic(*shape) -> torch.Tensor:
    return torch.rand(*shape, dtype=torch.float64).softmax(-1)


# -- rollout ------------------------------------------------------------------------------------
def test_rollout_of_two_blocks_is_the_product_of_averaged_attention_plus_identity():
    """v^T (I + P2)/2 (I + P1)/2 from the class token, by hand, for hand-set attention."""
    torch.manual_seed(0)
    p1, p2 = _stochastic(1, 9, 9), _stochastic(1, 9, 9)
    eye = torch.eye(9, dtype=torch.float64)
    expected = ((eye + p2[0]) / 2 @ (eye + p1[0]) / 2)[0]
    got = rollout_vector([Step("full", p1), Step("full", p2)], eye[0], cls_weight=1.0)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_identity_attention_gives_a_uniform_map_when_read_from_the_mean():
    eye = torch.eye(8, dtype=torch.float64).unsqueeze(0)
    got = rollout_vector([Step("full", eye), Step("full", eye)], torch.full((8,), 1 / 8, dtype=torch.float64),
                         cls_weight=1.0)
    torch.testing.assert_close(got, torch.full((8,), 1 / 8, dtype=torch.float64))


def _dense_temporal(p: torch.Tensor, cls_self: float) -> torch.Tensor:
    """(S, T, T) per-position attention -> the (L, L) matrix over cls + (h, w, t)-ordered patches."""
    s, t = p.shape[:2]
    m = torch.zeros(1 + s * t, 1 + s * t, dtype=p.dtype)
    m[0, 0] = cls_self
    for i in range(s):
        for f in range(t):
            for g in range(t):
                m[1 + i * t + f, 1 + i * t + g] = p[i, f, g]
    return m


def _dense_spatial(p: torch.Tensor, cls_weight: float) -> torch.Tensor:
    """(T, 1 + S, 1 + S) per-frame attention (cls copy first) -> the (L, L) matrix."""
    t, n = p.shape[0], p.shape[1] - 1
    m = torch.zeros(1 + n * t, 1 + n * t, dtype=p.dtype)
    for f in range(t):
        m[0, 0] += cls_weight * p[f, 0, 0]
        for j in range(n):
            m[0, 1 + j * t + f] = cls_weight * p[f, 0, 1 + j]
            m[1 + j * t + f, 0] = p[f, 1 + j, 0]
            for k in range(n):
                m[1 + j * t + f, 1 + k * t + f] = p[f, 1 + j, 1 + k]
    return m


def test_timesformer_rollout_composes_temporal_then_spatial_per_block():
    """Two divided blocks: R = Â_s2 Â_t2 Â_s1 Â_t1 with dense matrices built token by token;
    the class token's spatial row is the mean of its T copies (rows stay stochastic)."""
    torch.manual_seed(1)
    s, t = 4, 3
    ps = [(_stochastic(s, t, t), _stochastic(t, 1 + s, 1 + s)) for _ in range(2)]
    steps = [Step(k, p) for pt, pp in ps for k, p in (("temporal", pt), ("spatial", pp))]
    eye = torch.eye(1 + s * t, dtype=torch.float64)
    r = eye
    for pt, pp in ps:
        mt, ms = _dense_temporal(pt, 1.0), _dense_spatial(pp, 1 / t)
        torch.testing.assert_close(ms.sum(1), torch.ones(1 + s * t, dtype=torch.float64))
        r = (eye + ms) / 2 @ (eye + mt) / 2 @ r
    got = rollout_vector(steps, eye[0], cls_weight=1 / t)
    torch.testing.assert_close(got, r[0], rtol=0, atol=1e-12)


def test_rollout_on_a_model_with_uniform_attention_is_the_hand_value(tmp_path):
    """ViViT with zero query and key weights attends uniformly (P = J/L): two blocks give
    (I/2 + J/2L)^2 = I/4 + 3J/4L, so every patch gets 0.75 / L from the class token."""
    model = _load(tmp_path, "vivit")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if any(k in name for k in ("q_proj", "k_proj")):
                p.zero_()
    maps, info = rollout(Explainer(model), torch.rand(1, 3, 4, 32, 32), [Target(0, "a"), Target(1, "b")])
    assert maps.shape == (2, 2, 2, 2) and info["forward_passes"] == 1 and not info["class_specific"]
    torch.testing.assert_close(maps, torch.full_like(maps, 0.75 / 9), rtol=0, atol=1e-6)


# -- relevance against an independent dense implementation ------------------------------------------
def _independent_relevance(model, x: torch.Tensor, target: Target) -> torch.Tensor:
    """Chefer et al. 2021 with dense (L x L) matrices, from HF's own ``output_attentions`` on a copy
    of the model (TimeSformer's temporal weights by calling its attention with output_attentions)."""
    hf = copy.deepcopy(model.model)
    family = hf.config.model_type
    temporal = []
    if family == "timesformer":
        for block in hf.timesformer.encoder.layer:
            attn = block.temporal_attention.attention

            def forward(h, output_attentions=False, _f=attn.forward):
                context, weights = _f(h, True)
                temporal.append(weights)
                return (context,)

            attn.forward = forward
    else:
        hf.set_attn_implementation("eager")
    out = hf(pixel_values=x.transpose(1, 2), output_attentions=True)
    score = out.logits[0, target.index] - (0 if target.minus is None else out.logits[0, target.minus])
    if family == "timesformer":  # per block: temporal, then spatial
        layers = [a for pair in zip(temporal, out.attentions, strict=True) for a in pair]
    else:
        layers = list(out.attentions)
    grads = torch.autograd.grad(score, layers)
    cams = [(g * a).clamp(min=0).mean(1).double() for g, a in zip(grads, layers, strict=True)]
    if family == "timesformer":
        mats = [_dense_temporal(c, 0.0) if i % 2 == 0 else _dense_spatial(c, 1.0) for i, c in enumerate(cams)]
    else:
        mats = [c[0] for c in cams]
    n = mats[0].shape[0]
    r = torch.eye(n, dtype=torch.float64)
    for m in mats:
        r = r + m @ r
    row = r.mean(0) if family == "videomae" else r[0]
    t, h, w = model.spec.token_grid
    if family == "timesformer":
        return row[1:].view(h, w, t).permute(2, 0, 1).float().detach()
    return row[n - t * h * w:].view(t, h, w).float().detach()


@pytest.mark.parametrize("family", FAMILIES)
def test_relevance_equals_a_dense_autograd_implementation(tmp_path, family):
    model = _load(tmp_path, family)
    torch.manual_seed(2)
    x = torch.randn(1, 3, 4, 32, 32)
    targets = [Target(1, "b"), Target(2, "c", 0, "a")]  # a class, and a contrast
    maps, info = relevance(Explainer(model), x, targets)
    assert info["forward_passes"] == 1 and info["backward_passes"] == 2
    for k, target in enumerate(targets):
        expected = _independent_relevance(model, x, target)
        assert float(expected.detach().abs().max()) > 0
        torch.testing.assert_close(maps[k], expected, rtol=0, atol=1e-5)
    assert not torch.allclose(maps[0], maps[1]), "a class and a contrast gave the same map"


# -- the shared model is left as it was ------------------------------------------------------------------
def _state(model):
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    grads = [p.requires_grad for p in model.parameters()]
    return model.model.config._attn_implementation, hooks, grads, model.training


@pytest.mark.parametrize("method", [rollout, relevance])
def test_eager_attention_and_hooks_are_put_back_after_a_normal_and_a_failing_call(tmp_path, method):
    model = _load(tmp_path, "videomae")
    before = _state(model)
    assert before[0] == "sdpa"
    explainer = Explainer(model)
    x = torch.rand(1, 3, 4, 32, 32)
    with torch.no_grad():
        logits = model(x)
    method(explainer, x, [Target(0, "a")])
    assert _state(model) == before
    with pytest.raises(RuntimeError):  # 3 frames: the tubelets do not fit, the model raises mid-call
        method(explainer, torch.rand(1, 3, 3, 32, 32), [Target(0, "a")])
    assert _state(model) == before
    with torch.no_grad():
        torch.testing.assert_close(model(x), logits, rtol=0, atol=0)


def test_a_model_without_attention_is_refused_naming_the_methods_that_apply():
    model = nn.Sequential(nn.Conv3d(3, 4, 3), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3))
    for method in (rollout, relevance):
        with pytest.raises(SettingsError, match="occlusion or rise"):
            method(Explainer(model), torch.rand(1, 3, 4, 8, 8), [Target(0, "a")])


# -- one forward pass classifies and attributes; another class runs none (issue 39) ------------------
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", [rollout, relevance])
def test_one_forward_pass_gives_classes_and_maps_and_another_class_runs_no_forward(tmp_path, monkeypatch, family,
                                                                                   method):
    model = _load(tmp_path, family)
    torch.manual_seed(3)
    x = torch.randn(1, 3, 4, 32, 32)
    # the old path: a no-grad forward pass for the classes, then the method's own pass
    with torch.no_grad():
        logits = model(x)[0]
    old = {k: method(Explainer(model), x, [Target(k, "")])[0][0] for k in (0, 2)}

    backwards, grad = [], torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **kw: backwards.append(1) or grad(*a, **kw))
    outputs = []  # weak references to what each forward pass returned (its graph hangs on it)
    handle = model.register_forward_hook(lambda module, args, out: outputs.append(weakref.ref(out)))
    try:
        explainer = Explainer(model, cache_size=1)
        first = explainer.explain(x, targets=0, method=method.__name__)
        assert len(outputs) == 1 and first.to_dict()["forward_passes"] == 1
        assert len(backwards) == (method is relevance)
        torch.testing.assert_close(first.logits, logits, rtol=0, atol=1e-5)  # the scores come from that pass
        again = explainer.explain(x, targets=2, method=method.__name__)
        assert len(outputs) == 1 and again.to_dict()["forward_passes"] == 0 and again.cached_forward
        assert len(backwards) == 2 * (method is relevance)  # relevance: its backward pass only
        for exp, k in ((first, 0), (again, 2)):
            torch.testing.assert_close(exp.raw_maps[0], old[k], rtol=0, atol=1e-7)
        # the pass (relevance: with its graph) is the Explainer's: bounded by its cache, freed with it
        assert (outputs[0]() is not None) == (method is relevance)
        explainer.explain(x * 0.5, targets=0, method=method.__name__)  # another clip: cache_size=1
        assert outputs[0]() is None and len(outputs) == 2
        del explainer
        assert outputs[1]() is None
    finally:
        handle.remove()


def test_an_explainer_keeps_only_the_newest_two_relevance_graphs_whatever_its_cache_size(tmp_path):
    """A relevance pass is kept with the whole model's graph for more classes; the app's
    Explainers keep 16 clips, which for a base-size transformer would be many GB of graphs."""
    model = _load(tmp_path, "videomae")
    explainer = Explainer(model, cache_size=16)
    g = torch.Generator().manual_seed(0)
    T = model.spec.num_frames
    H, W = model.spec.input_size
    clips = [torch.randn(1, 3, T, H, W, generator=g) for _ in range(4)]
    for clip in clips:
        explainer.explain(clip, method="relevance")
    assert sum(k[1] == "relevance" for k in explainer._classified) == 2
    newest = explainer.explain(clips[-1], method="relevance", top_k=3)  # classes not asked before
    assert newest.method_info["forward_passes"] == 0  # the newest stay: more classes are a backward only
    oldest = explainer.explain(clips[0], method="relevance", top_k=3)
    assert oldest.method_info["forward_passes"] == 1 and not oldest.cached_forward  # the oldest went
