"""Space-time occlusion and RISE (core.attribution): against captum's ``Occlusion``, on a
hand-built model whose logit sees one space-time region only, and their batching, progress,
cancelling and settings."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from benchmarks.rise_mass import REGION, RegionModel, clip_with_region, mass_in_region
from core.attribution import (
    Cancelled,
    Perturbation,
    baseline_clip,
    forward_passes,
    occlusion,
    occlusion_pixels,
    rise,
)
from core.attribution.rise import Masks
from core.cam import Explainer, Target
from core.errors import SettingsError


class Counting(nn.Module):
    """A model that records how many clips each forward pass took."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.batches = net, []

    def forward(self, x):
        self.batches.append(len(x))
        return self.net(x)


def _conv(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv3d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(8, 4)).eval()


@pytest.mark.parametrize(("window", "stride", "baseline", "contrast"), [
    ((2, 4, 4), (1, 2, 2), "blur", False),  # overlapping, the last windows cut at the edges
    ((2, 4, 4), (2, 4, 4), "mean", False),  # tiling
    ((2, 4, 4), (1, 2, 2), "mean", True),  # a contrast: logit 1 - logit 3
])
def test_occlusion_equals_captum(window, stride, baseline, contrast):
    """captum puts each window's drop on every pixel it covers and divides by the windows covering
    the pixel; ours keeps one value per stride cell (all its pixels are covered by the same
    windows, since the stride divides the window) and occlusion_pixels repeats it over them."""
    from captum.attr import Occlusion

    model = _conv()
    torch.manual_seed(1)
    x = torch.rand(1, 3, 5, 13, 11)
    params = Perturbation(window=window, stride=stride, baseline=baseline, batch_size=7)
    target = Target(1, "b", 3, "d") if contrast else Target(1, "b")
    maps, info = occlusion(Explainer(model), x, [target], params)
    assert info["forward_passes"] == forward_passes("occlusion", params, x.shape)

    def probs(z):
        p = model(z).softmax(-1)
        return (p[:, 1].log() - p[:, 3].log()).unsqueeze(1) if contrast else p

    with torch.no_grad():
        expected = Occlusion(probs).attribute(
            x, sliding_window_shapes=(3, *window), strides=(1, *stride), target=0 if contrast else 1,
            baselines=baseline_clip(x, params.baseline), perturbations_per_eval=7)
    pixels = occlusion_pixels(maps, stride, x.shape[2:])
    for c in range(3):
        torch.testing.assert_close(pixels[0], expected[0, c], rtol=0, atol=1e-5)


def test_occlusion_and_rise_put_the_mass_where_the_model_looks():
    """Occlusion: all of it (no window outside REGION changes the score). RISE: its map is the
    true one blurred by its smooth masks (about one cell of spill) plus sampling noise, which
    balanced masks cancel; with cells of 2x4x4 and N = 2000, 0.71 of the mass is in REGION
    (0.66 with independent masks), and REGION's mean is many times the rest's. The issue asks
    90% for RISE too: the spill keeps it below at any cell size (at most 0.87, cells 1x2x2 and
    4096 balanced masks; the table: ``python -m benchmarks.rise_mass``, docs/trust.md)."""
    explainer = Explainer(RegionModel())
    x = clip_with_region()  # the evidence: a bright block in REGION
    target = [Target(0, "a")]
    occ, _ = occlusion(explainer, x, target, Perturbation(window=(2, 4, 4), baseline="mean"))
    pixels = occlusion_pixels(occ, (2, 4, 4), (8, 32, 32))[0]
    assert mass_in_region(pixels) >= 0.9
    maps, _ = rise(explainer, x, target, Perturbation(masks=2000, window=(2, 4, 4), baseline="mean", batch_size=250))
    m = maps[0].clamp(min=0)
    inside = torch.zeros_like(m, dtype=torch.bool)
    inside[REGION] = True
    assert mass_in_region(m) >= 0.65
    assert float(m[inside].mean()) >= 10 * float(m[~inside].mean())


def test_rise_puts_90_percent_of_its_mass_in_a_region_many_cells_across():
    """Issue 23's >= 90% for RISE: the spill of its smooth masks is about a cell past each face
    of the region, so the share in the region grows with the region's size in cells. A 32x32x32
    clip whose region is 16 frames x 16 x 16 pixels (16 x 8 x 8 cells of 1x2x2) with one block
    of 16384 balanced masks: 0.92 measured (independent masks: 0.69; docs/trust.md)."""
    size = (32, 32, 32)
    explainer, x, target = Explainer(RegionModel(size)), clip_with_region(size=size), [Target(0, "a")]
    maps, info = rise(explainer, x, target, Perturbation(masks=16384, window=(1, 2, 2), baseline="mean", batch_size=512))
    assert info["design"] == "balanced"
    assert mass_in_region(maps[0]) >= 0.9
    occ, _ = occlusion(explainer, x, target, Perturbation(window=(4, 8, 8), baseline="mean"))
    assert mass_in_region(occlusion_pixels(occ, (4, 8, 8), size)[0]) >= 0.9


@pytest.mark.parametrize("design", ["balanced", "independent"])
def test_rise_masks_are_the_grids_upsampled_trilinearly_and_cut_at_their_shifts(design):
    """The three 1-D products equal F.interpolate (trilinear) of each grid to (cells + 1) *
    window, cut at the mask's shift; and masks do not depend on how many are taken at a time."""
    size, params = (5, 20, 24), Perturbation(window=(2, 6, 8), seed=4, design=design)
    masks = Masks(size, params).take(70)
    grids, shifts = Masks(size, params).grids(70)
    cells = grids.shape[1:]
    assert tuple(cells) == (3, 4, 3)
    big = [(g + 1) * c for g, c in zip(cells, params.window, strict=True)]
    up = torch.nn.functional.interpolate(grids[:, None].float(), size=big, mode="trilinear", align_corners=False)[:, 0]
    for i, (t, h, w) in enumerate(shifts.tolist()):
        assert all(0 <= v < c for v, c in zip((t, h, w), params.window, strict=True))
        torch.testing.assert_close(masks[i], up[i, t:t + 5, h:h + 20, w:w + 24], rtol=0, atol=1e-6)
    piecewise = Masks(size, params)
    torch.testing.assert_close(torch.cat([piecewise.take(n) for n in (1, 30, 39)]), masks, rtol=0, atol=1e-6)


def test_balanced_masks_keep_each_cell_half_the_time_and_pairs_of_cells_independent():
    """Over a block, as +-1 the grids' columns are orthogonal: each cell kept in exactly half the
    masks and any two cells agree exactly as often as they differ; one shift per block."""
    params = Perturbation(window=(2, 4, 4), seed=7)
    m = Masks((4, 12, 8), params)  # 2 x 3 x 2 = 12 cells => blocks of 16
    assert m.block == 16
    grids, shifts = m.grids(32)
    for block in (slice(0, 16), slice(16, 32)):
        signs = grids[block].flatten(1).float() * 2 - 1  # (16, 12)
        torch.testing.assert_close(signs.T @ signs, 16 * torch.eye(12), rtol=0, atol=0)
        assert (shifts[block] == shifts[block][0]).all()
    assert not torch.equal(grids[:16], grids[16:]), "every block draws its own rows, keys and flips"
    with pytest.raises(SettingsError, match="independent"):
        Perturbation(keep=0.3)
    assert Perturbation(keep=0.3, design="independent").keep == 0.3
    with pytest.raises(SettingsError, match="balanced, independent"):
        Perturbation(design="sobol")


def test_rise_is_reproducible_across_seeds_and_independent_of_batch_size():
    explainer = Explainer(_conv(4))
    torch.manual_seed(5)
    x = torch.rand(1, 3, 4, 16, 16)
    target = [Target(2, "c")]
    a, info = rise(explainer, x, target, Perturbation(masks=2000, window=(2, 8, 8), seed=1, batch_size=500))
    b, _ = rise(explainer, x, target, Perturbation(masks=2000, window=(2, 8, 8), seed=2, batch_size=500))
    assert info["forward_passes"] == 2000
    corr = torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1]
    assert corr >= 0.9, f"two seeds correlate {float(corr):.3f}"
    small = Perturbation(masks=60, window=(2, 8, 8), seed=1, batch_size=7)
    c, _ = rise(explainer, x, target, small)
    d, _ = rise(explainer, x, target, Perturbation(masks=60, window=(2, 8, 8), seed=1, batch_size=60))
    torch.testing.assert_close(c, d, rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", ["occlusion", "rise"])
def test_batches_progress_and_cancel(method):
    model = Counting(_conv())
    explainer = Explainer(model)
    x = torch.rand(1, 3, 4, 8, 8)
    params = Perturbation(masks=23, window=(2, 4, 4), stride=(1, 2, 2), batch_size=5)
    total = forward_passes(method, params, x.shape)
    seen = []
    run = occlusion if method == "occlusion" else rise
    run(explainer, x, [Target(0, "a")], params, progress=lambda done, n: seen.append((done, n)))
    assert sum(model.batches) == total and max(model.batches) <= 5, "memory is bounded by the batch"
    assert seen[-1] == (total, total) and all(n == total for _, n in seen)
    calls = iter(range(100))
    with pytest.raises(Cancelled, match=f"of {total} forward passes"):
        run(explainer, x, [Target(0, "a")], params, cancel=lambda: next(calls) >= 2)


def test_cancelled_is_one_class_of_the_error_family():
    import core
    from core import errors

    assert Cancelled is errors.Cancelled is core.Cancelled
    assert issubclass(Cancelled, errors.UserError)


def test_settings_are_checked_once_with_a_fix():
    with pytest.raises(SettingsError, match="does not divide"):
        Perturbation(window=(2, 8, 8), stride=(2, 3, 4))
    with pytest.raises(SettingsError, match="blur, mean"):
        Perturbation(baseline="zeros")
    with pytest.raises(SettingsError, match="three positive whole numbers"):
        Perturbation(window=(2, 8))
    with pytest.raises(SettingsError, match="masks"):
        Perturbation(masks=0)
    with pytest.raises(SettingsError, match="--window 4 16 16"):
        forward_passes("occlusion", Perturbation(window=(8, 28, 28)), (1, 3, 4, 16, 16))


# -- the time estimate (issue 39): the method's own batches, not forward passes alone -------------------
@pytest.mark.parametrize("method", ["occlusion", "rise"])
def test_the_time_estimate_times_the_methods_own_batches_and_adds_what_runs_once(monkeypatch, method):
    import sys
    import time

    import core.attribution.cost as est_mod
    from core.attribution import estimate
    from core.cam import Settings
    from core.cam.registry import resolve

    model = Counting(_conv())
    ex = Explainer(model)
    shape = (1, 3, 4, 16, 16)
    settings = resolve(ex, Settings(method=method, perturbation=Perturbation(window=(1, 4, 4), masks=50,
                                                                             batch_size=4, baseline="blur")))
    slow = 0.02  # seconds added to each batch's work (RISE's masks, occlusion's scoring) and to the baseline
    take, fill = Masks.take, est_mod.baseline_clip
    monkeypatch.setattr(Masks, "take", lambda self, n: time.sleep(slow) or take(self, n))
    monkeypatch.setattr(est_mod, "baseline_clip", lambda *a: time.sleep(slow) or fill(*a))
    if method == "occlusion":  # slow down each batch's scoring (its windows are plain copies)
        occ_mod = sys.modules["core.attribution.occlusion"]  # the package's name is the function's
        scored = occ_mod.scores
        monkeypatch.setattr(occ_mod, "scores", lambda *a: time.sleep(slow) or scored(*a))
    e = estimate(ex, settings, shape)
    single = 2 if method == "occlusion" else 1  # the classifying pass (occlusion: and its clean clip's)
    assert e.passes == ex.forward_passes(torch.zeros(shape), settings) and e.perturbed == e.passes - single
    assert e.seconds == pytest.approx(e.fixed + e.per_pass * e.perturbed)
    # the method's batches ran (a warm-up and the timed ones), each with the method's own work in its time
    assert model.batches.count(4) == est_mod.PROBE_BATCHES and e.per_pass >= slow / 4
    assert e.fixed >= slow  # the baseline clip is counted once
    # kept by the Explainer: RISE's N or another seed changes how many batches run, not what one costs
    again = estimate(ex, replace(settings, perturbation=replace(settings.perturbation, masks=80, seed=3)), shape)
    assert model.batches.count(4) == est_mod.PROBE_BATCHES and again.per_pass == e.per_pass
