"""The CAM engine against hand computations, captum and pytorch-grad-cam."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.cam import METHODS, Explainer, cam_from_gradients, capture_activation, explain
from core.models import load_model


class TinyVideoNet(nn.Module):
    """Conv3d -> ReLU -> GAP -> Linear: small enough to reason about on paper."""

    def __init__(self, classes: int = 4, channels: int = 3):
        super().__init__()
        self.conv = nn.Conv3d(2, channels, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(self.pool(self.relu(self.conv(x))).flatten(1))


class FrameGatedNet(nn.Module):
    """Logits depend on a per-frame product, so gradients differ frame by frame."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 1)
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        a = self.conv(x)  # (N, 2, T, H, W)
        gate = torch.linspace(0.0, 1.0, a.shape[2]).view(1, 1, -1, 1, 1)
        return self.fc((a * a * gate).mean((2, 3, 4)))


def _minmax(x: torch.Tensor) -> torch.Tensor:
    dims = tuple(range(1, x.dim()))
    lo, hi = x.amin(dims, keepdim=True), x.amax(dims, keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(1e-12)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return TinyVideoNet().eval(), torch.randn(1, 2, 6, 8, 8)


def test_gradcam_on_gap_linear_head_equals_classic_cam(tiny):
    model, x = tiny
    acts = model.relu(model.conv(x))[0]  # (C, T, H, W)
    for c in range(4):
        cam = torch.einsum("k,kthw->thw", model.fc.weight[c], acts).clamp(min=0)
        e = explain(model, x, c, layer=model.relu)
        torch.testing.assert_close(_minmax(e.raw_maps)[0], _minmax(cam[None])[0], atol=1e-5, rtol=1e-5)


def test_pooling_modes_match_hand_computation():
    torch.manual_seed(1)
    A = torch.rand(3, 4, 2, 2)
    G = torch.randn(2, 3, 4, 2, 2)
    clip = cam_from_gradients(A, G, "gradcam", "clip")
    frame = cam_from_gradients(A, G, "gradcam", "frame")
    for k in range(2):
        w = G[k].mean((1, 2, 3))  # one weight per channel
        torch.testing.assert_close(clip[k], torch.einsum("c,cthw->thw", w, A).clamp(min=0))
        for t in range(4):
            wt = G[k, :, t].mean((1, 2))  # one weight per channel per frame
            torch.testing.assert_close(frame[k, t], torch.einsum("c,chw->hw", wt, A[:, t]).clamp(min=0))


def test_frame_pooling_differs_when_gradients_vary_in_time():
    torch.manual_seed(2)
    model, x = FrameGatedNet().eval(), torch.randn(1, 1, 5, 4, 4)
    a = explain(model, x, 0, layer=model.conv, pooling="clip").raw_maps
    b = explain(model, x, 0, layer=model.conv, pooling="frame").raw_maps
    assert not torch.allclose(a, b)
    # The gate is 0 at frame 0, so per-frame weights there are 0: no evidence in that frame.
    assert b[0, 0].abs().max() == 0


@pytest.mark.parametrize("cls", [0, 1, 3])
def test_gradcam_matches_captum_on_tiny_net(tiny, cls):
    from captum.attr import LayerGradCam

    model, x = tiny
    ours = explain(model, x, cls, layer=model.conv).raw_maps[0]
    ref = LayerGradCam(model, model.conv).attribute(x, target=cls, relu_attributions=True)[0, 0]
    torch.testing.assert_close(_minmax(ours[None]), _minmax(ref[None].detach()), atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def r3d():
    torch.manual_seed(0)
    model = load_model("r3d_18", weights=None)
    return model, torch.randn(1, 3, 8, 64, 64)


@pytest.mark.parametrize("cls", [0, 7, 399])
def test_gradcam_matches_captum_on_r3d18_layer4(r3d, cls):
    from captum.attr import LayerGradCam

    model, x = r3d
    ours = explain(model, x, cls, layer="layer4").raw_maps[0]
    ref = LayerGradCam(model, model.layer4).attribute(x, target=cls, relu_attributions=True)[0, 0].detach()
    assert ours.shape == ref.shape == (1, 4, 4)
    torch.testing.assert_close(_minmax(ours[None]), _minmax(ref[None]), atol=1e-5, rtol=1e-5)


_PGC = {
    "gradcam": "GradCAM",
    "gradcampp": "GradCAMPlusPlus",
    "hirescam": "HiResCAM",
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
}


@pytest.mark.parametrize("method", METHODS)
def test_methods_match_pytorch_grad_cam_layer_maps(r3d, method):
    """Compare at the layer's resolution: pytorch-grad-cam upsamples with a cubic spline."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, x = r3d
    cls = 5
    cam = getattr(pytorch_grad_cam, _PGC[method])(model=model, target_layers=[model.layer3])
    try:
        targets = [ClassifierOutputTarget(cls)]
        cam(input_tensor=x, targets=targets)
        acts = cam.activations_and_grads.activations[0].cpu().numpy()
        grads = cam.activations_and_grads.gradients[0].cpu().numpy()
        ref = np.maximum(cam.get_cam_image(x, model.layer3, targets, acts, grads, False), 0)[0]
    finally:
        cam.activations_and_grads.release()
    ours = explain(model, x, cls, layer="layer3", method=method).raw_maps[0]
    torch.testing.assert_close(_minmax(ours[None]), _minmax(torch.from_numpy(ref)[None]), atol=1e-5, rtol=1e-4)


def test_hooks_and_state_restored_after_success_and_failure(tiny):
    model, x = tiny
    model.train()
    model.fc.weight.requires_grad_(True)
    model.conv.bias.requires_grad_(False)
    before = [p.requires_grad for p in model.parameters()]
    explain(model, x, 0, layer=model.conv)
    assert model.training and [p.requires_grad for p in model.parameters()] == before
    assert not model.conv._forward_hooks

    class Boom(RuntimeError):
        pass

    with pytest.raises(Boom), capture_activation(model, model.conv):
        assert model.conv._forward_hooks and not model.training
        assert not any(p.requires_grad for p in model.parameters())
        raise Boom
    assert not model.conv._forward_hooks and model.training
    assert [p.requires_grad for p in model.parameters()] == before

    def bad_forward(_x):
        raise Boom("forward failed")

    broken = TinyVideoNet()
    broken.forward = bad_forward
    with pytest.raises(Boom):
        explain(broken, x, 0, layer=broken.conv)
    assert not broken.conv._forward_hooks and broken.training
    model.eval()


def test_second_class_reuses_forward_pass(r3d):
    model, x = r3d
    calls = []
    handle = model.register_forward_hook(lambda *a: calls.append(1))
    try:
        ex = Explainer(model)  # the cache lives in the Explainer its owner keeps
        first = ex.explain(x, 3)
        second = ex.explain(x, 4, method="gradcampp", pooling="frame")
        top5 = ex.explain(x, top_k=5)
    finally:
        handle.remove()
    assert len(calls) == 1
    assert not first.cached_forward and second.cached_forward and top5.cached_forward
    assert not torch.allclose(first.maps, second.maps)
    assert [t.index for t in top5.targets] == top5.probs.topk(5).indices.tolist()


def test_parameters_get_no_gradients(r3d):
    model, x = r3d
    for p in model.parameters():
        p.grad = None
    explain(model, x, top_k=2)
    assert all(p.grad is None for p in model.parameters())


def test_contrast_is_difference_of_logit_gradients(tiny):
    model, x = tiny
    e = explain(model, x, contrast=(1, 2), layer=model.conv, method="hirescam")
    acts = model.conv(x)[0]
    w = model.fc.weight[1] - model.fc.weight[2]
    # d(logit1 - logit2)/dA = (w1 - w2) * relu'(A) / (T*H*W)
    grad = (w.view(-1, 1, 1, 1) * (acts > 0)) / acts[0].numel()
    want = (grad * acts).sum(0).clamp(min=0)
    torch.testing.assert_close(e.raw_maps[0], want, atol=1e-6, rtol=1e-5)
    assert e.targets[0].name.endswith("minus class 2")


def test_maps_are_normalised_and_upsampled_in_time(r3d):
    model, x = r3d
    e = explain(model, x, top_k=2, normalize="frame")
    # r3d_18's layer4 map: time 8 -> 1 (layer2..4 halve it), space 64 -> 4 (stem and layer2..4)
    assert e.raw_maps.shape == (2, 1, 4, 4)
    assert e.maps.shape == (2, 8, 64, 64)
    assert float(e.maps.min()) >= 0 and float(e.maps.max()) <= 1
    torch.testing.assert_close(e.temporal_importance.sum(-1), torch.ones(2))


def test_bad_arguments_say_what_to_do(tiny):
    model, x = tiny
    with pytest.raises(ValueError, match="method='nope'"):
        explain(model, x, 0, layer=model.conv, method="nope")
    with pytest.raises(ValueError, match="out of range"):
        explain(model, x, 9, layer=model.conv)
    with pytest.raises(ValueError, match="no layer 'layer9'"):
        explain(model, x, 0, layer="layer9")
    with pytest.raises(ValueError, match="pooling"):
        explain(model, x, 0, layer=model.conv, pooling="time")


def test_a_clips_cached_model_input_follows_the_model_to_another_device(monkeypatch):
    """Bug d: the prepared input was cached by the frames alone, so after ``model.to(device)``
    the same clip's next explanation fed the model an input on the old device. The Explainer's
    ``device`` is moved to "meta" here (no GPU needed): a cached input must not outlive it."""
    from core.video import clip_from_frames

    model = load_model()
    clip = clip_from_frames(torch.randint(0, 256, (16, 48, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)))
    ex = Explainer(model)
    first = ex.model_input(clip)
    assert first.device.type == "cpu" and ex.model_input(clip) is first  # cached while the device stays
    monkeypatch.setattr(Explainer, "device", property(lambda self: torch.device("meta")))
    monkeypatch.setattr("core.cam.engine._digest", lambda x: "a meta tensor has no bytes to hash")
    moved = ex.model_input(clip)
    assert moved.device.type == "meta" and moved.shape == first.shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_explaining_after_model_to_cuda_uses_an_input_on_the_gpu():
    """Bug d as a user meets it: explain, move the model to the GPU, explain the same clip."""
    from core.video import clip_from_frames

    model = load_model()
    clip = clip_from_frames(torch.randint(0, 256, (16, 48, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)))
    ex = Explainer(model)
    on_cpu = ex.explain(clip, 1)
    model.to("cuda")
    try:
        on_gpu = ex.explain(clip, 1)
    finally:
        model.to("cpu")
    torch.testing.assert_close(on_gpu.probs, on_cpu.probs, atol=1e-4, rtol=0)
    torch.testing.assert_close(on_gpu.maps, on_cpu.maps, atol=1e-3, rtol=0)


def test_the_forward_pass_cache_is_bounded_by_bytes_as_well_as_by_count():
    """Bug (issue 37): the app kept 16 passes a model whatever their size; a big model's graph
    is hundreds of MB. Each pass counts what autograd saved after the layer, not the weights."""
    model = load_model()
    spec = model.spec
    g = torch.Generator().manual_seed(0)
    clips = [torch.randn(1, 3, spec.num_frames, *spec.input_size, generator=g) for _ in range(3)]
    free = Explainer(model, cache_size=8)
    for x in clips:
        free.explain(x)
    one = free.cached_bytes() / 3
    assert len(free._cache) == 3 and one > 1e6  # megabytes of graph and layer output, not bytes
    capped = Explainer(model, cache_size=8, cache_bytes=int(2.5 * one))
    for x in clips:
        capped.explain(x)
    assert len(capped._cache) == 2 and capped.cached_bytes() <= 2.5 * one
    assert capped.explain(clips[-1]).cached_forward and capped.explain(clips[1]).cached_forward
    assert not capped.explain(clips[0]).cached_forward  # the oldest went first
    tiny = Explainer(model, cache_bytes=1)  # the newest pass always stays: more classes stay cheap
    tiny.explain(clips[0])
    assert tiny.explain(clips[0], top_k=3).cached_forward
