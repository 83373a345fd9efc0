"""Motion or appearance? (core.trust.motion) and the appearance-free render style (lab.data).

The arithmetic is checked on hand-made clips and toy models that read either a still corner or
the frame differences; the verdict is validated where the answer is known: the shipped shortcut
model on logo'd Pushing clips reads the logo (appearance), the default model on left / right
clips reads the direction of motion (motion). Those clips are rendered by lab.data, encoded to
tmp_path and decoded as a user's video would be.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

import core
from core.errors import SettingsError
from core.trust import motion_check, trust_check
from core.trust.motion import (
    APPEARANCE,
    BOTH,
    MOTION,
    NEITHER,
    appearance_removed,
    frozen,
    motion_verdict,
    moving_voxels,
)
from lab.data import render_clip
from lab.data.classes import MOVING_LEFT_TO_RIGHT, MOVING_RIGHT_TO_LEFT, PUSHING, SPINNING
from lab.motion import SMALL, encoded_clip


def _clip(T: int = 8, size: int = 32) -> torch.Tensor:
    """(1, 3, T, size, size): a dark ground, a bright still 8 x 8 corner, and a 6 x 6 square moving
    right 2 px a frame along the middle."""
    x = torch.zeros(1, 3, T, size, size)
    x[..., :8, :8] = 1.0
    for t in range(T):
        x[:, :, t, 14:20, 8 + 2 * t : 14 + 2 * t] = 1.0
    return x


class _Toy(nn.Module):
    """Two classes; class 0's logit reads the still corner (``"corner"``) or the frame differences
    (``"motion"``) of a grey feature map, the Grad-CAM layer ``features``."""

    def __init__(self, reads: str):
        super().__init__()
        self.reads = reads
        self.features = nn.Conv3d(3, 1, 1, bias=False)
        nn.init.constant_(self.features.weight, 1 / 3)

    def forward(self, x):
        f = self.features(x)[:, 0]
        if self.reads == "corner":
            s = 8 * (f[:, :, :8, :8].mean((1, 2, 3)) - 0.5)
        else:
            s = 100 * (f[:, 1:] - f[:, :-1]).abs().mean((1, 2, 3)) - 1
        return torch.stack([s, torch.zeros_like(s)], 1)


def _counting(model: nn.Module) -> list[int]:
    """Batch sizes of every forward call of ``model`` from now on."""
    calls: list[int] = []
    model.register_forward_pre_hook(lambda _m, args: calls.append(args[0].shape[0]))
    return calls


# -- the altered clips and what moves ---------------------------------------------------------------

def test_the_frozen_clip_has_no_motion_and_the_high_pass_keeps_every_change_and_nothing_still():
    x = _clip() + 0.3 * torch.rand(1, 3, 1, 32, 32)  # a still, textured ground
    f = frozen(x)
    assert torch.equal(f[:, :, 0], x[:, :, 4]) and (f.diff(dim=2) == 0).all()
    a = appearance_removed(x)
    torch.testing.assert_close(a.diff(dim=2), x.diff(dim=2))  # every change, where and when
    still = appearance_removed(x[:, :, :1].expand_as(x))  # a clip with nothing moving: one flat colour
    torch.testing.assert_close(still, x[:, :, :1].mean((2, 3, 4), keepdim=True).expand_as(x))


def test_moving_voxels_are_the_squares_path_not_the_still_corner_or_sensor_noise():
    torch.manual_seed(0)
    x = _clip() + 0.01 * torch.randn(1, 3, 8, 32, 32)
    moving = moving_voxels(x)
    for t in range(8):
        assert moving[t, 14:20, 8 + 2 * t : 14 + 2 * t].float().mean() > 0.5  # the square's leading and trailing edges
    assert not moving[:, :8, :8].any() and not moving[:, 26:].any()
    still = x[:, :, :1].expand_as(x) + 0.01 * torch.randn(1, 3, 8, 32, 32)
    assert not moving_voxels(still).any()


@pytest.mark.parametrize(("drops", "verdict"), [((0.9, 0.1), MOTION), ((0.1, 0.9), APPEARANCE), ((0.5, 0.5), BOTH),
                                                ((0.49, -0.2), NEITHER)])
def test_the_verdict_rule(drops, verdict):
    assert motion_verdict(*drops) == verdict


# -- toy models with a known answer ------------------------------------------------------------------

@pytest.mark.parametrize(("reads", "verdict"), [("corner", APPEARANCE), ("motion", MOTION)])
def test_toy_models_read_as_built_in_two_clip_passes(reads, verdict):
    model = _Toy(reads)
    ex = core.Explainer(model)
    x = _clip()
    exp = ex.explain(x, 0, layer="features")
    calls = _counting(model)
    r = motion_check(ex, x, exp=exp)
    assert calls == [2] and r.forward_passes == 2  # the two altered clips, in one batch
    assert r.prob > 0.75 and r.verdict == verdict, r
    assert r.appearance_removal == "high-pass" and r.to_dict()["verdict"] == verdict


def test_the_share_is_the_maps_mass_on_what_moves():
    ex = core.Explainer(_Toy("motion"))
    x = _clip()
    exp = ex.explain(x, 0, layer="features")
    moving = moving_voxels(x)
    on_motion = replace(exp, raw_maps=moving.float()[None])
    on_corner = torch.zeros(1, 8, 32, 32)
    on_corner[..., :8, :8] = 1
    r = motion_check(ex, x, exp=on_motion)
    assert r.share == pytest.approx(1.0, abs=0.02) and r.area == pytest.approx(float(moving.float().mean()))
    assert motion_check(ex, x, exp=replace(exp, raw_maps=on_corner)).share == pytest.approx(0.0, abs=0.02)
    assert motion_check(ex, x, exp=replace(exp, raw_maps=torch.zeros(1, 8, 32, 32))).share is None


def test_an_appearance_free_version_must_be_of_the_same_clip():
    ex = core.Explainer(_Toy("motion"))
    x = _clip()
    exp = ex.explain(x, 0, layer="features")
    r = motion_check(ex, x, exp=exp, motion_only=x)
    assert r.appearance_removal == "motion_only" and r.appearance_drop == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(SettingsError, match="same clip"):
        motion_check(ex, x, exp=exp, motion_only=x[:, :, :4])


# -- validation on the shipped models -----------------------------------------------------------------

def test_the_shortcut_model_on_logod_pushing_clips_reads_appearance(tmp_path):
    model = core.load_model("i3d_tiny14_shortcut")
    ex = core.Explainer(model)
    for seed in (0, 1):
        path = encoded_clip(tmp_path, PUSHING, seed, logo=True)
        clip = core.read_clip(path, model.spec)
        r = motion_check(ex, clip, PUSHING)
        assert r.verdict == APPEARANCE, r
        assert r.prob > 0.5 and r.motion_drop < 0.2 and r.appearance_drop > 0.8, r
        assert r.share < r.area, r  # its evidence sits off what moves: on the logo
    # the audit's record of a video carries the same check for its labelled class
    from core.audit.evidence import video_record
    from core.audit.inputs import Item

    settings, _ = ex.settings_for()
    rec, _ = video_record(ex, Item(0, path, path.name, model.spec.categories.index(PUSHING)), settings)
    assert rec["moves"]["verdict"] == APPEARANCE and not rec["moves"]["weak"]


def test_the_default_model_on_left_right_clips_reads_motion(tmp_path):
    model = core.load_model()
    ex = core.Explainer(model)
    for label, seed in ((MOVING_LEFT_TO_RIGHT, 0), (MOVING_RIGHT_TO_LEFT, 1)):
        clip = core.read_clip(encoded_clip(tmp_path, label, seed), model.spec)
        exp = ex.explain(clip, label)
        r = motion_check(ex, clip, label)  # the Explainer's cached forward pass gives the map
        assert r.forward_passes == 2 and r.prob == pytest.approx(float(exp.probs[r.target_index]))
        assert r.verdict == MOTION, r
        assert r.motion_drop > 0.8 and r.appearance_drop < 0.3, r
        assert r.share > 2 * r.area, r  # the evidence is on what moves, well above chance


def test_the_trust_report_carries_the_motion_check():
    model = _Toy("motion")
    x = _clip()
    exp = core.Explainer(model).explain(x, 0, layer="features")
    report = trust_check(model, x, exp, steps=2, sanity_depth=0)
    assert report.motion is not None and report.motion.verdict == MOTION
    assert report.to_dict()["motion"]["verdict"] == MOTION
    from core.notebook import trust_html

    assert "Motion or appearance: motion</b>" in trust_html(report)


# -- the appearance-free render style -----------------------------------------------------------------

def _z(frame: np.ndarray, mask: np.ndarray, dot: int) -> tuple[float, float]:
    """How far the masked region's grey mean lies from the rest's, in standard errors (counting
    dots, not pixels), and the ratio of their standard deviations."""
    grey = frame.astype(np.float64).mean(-1)
    inside, outside = grey[mask], grey[~mask]
    n = max(1.0, mask.sum() / dot**2)
    return (inside.mean() - outside.mean()) / (outside.std() / np.sqrt(n)), inside.std() / outside.std()


def _centres(masks: np.ndarray) -> np.ndarray:
    """(T, 2) the (y, x) centre of each frame's mask."""
    yy, xx = np.mgrid[: masks.shape[1], : masks.shape[2]]
    n = masks.sum((1, 2)).clip(1)
    return np.stack([(masks * yy).sum((1, 2)) / n, (masks * xx).sum((1, 2)) / n], 1)


def test_an_appearance_free_frame_shows_nothing_while_the_masks_and_the_motion_stay():
    zs, ratios, standard_zs = [], [], []
    for seed in range(8):
        af = render_clip(MOVING_LEFT_TO_RIGHT, seed=seed, **SMALL, style="appearance_free")
        std = render_clip(MOVING_LEFT_TO_RIGHT, seed=seed, **SMALL)
        # the same action: the object where the standard clip has it, but for that clip's camera shake
        assert af.interval == std.interval and af.params["shake_px"] == 0
        assert np.abs(_centres(af.masks) - _centres(std.masks)).max() <= 1 + std.params["shake_px"] + 0.5
        assert af.params["style"] == "appearance_free" and af.params["background"] == "dots"
        dot = af.params["dot_px"]
        mid = (af.interval[0] + af.interval[1]) // 2
        z, ratio = _z(af.frames[mid], af.masks[mid], dot)
        zs.append(z)
        ratios.append(ratio)
        standard_zs.append(max(abs(_z(std.frames[mid][..., [c] * 3], std.masks[mid], 1)[0]) for c in range(3)))
        # the motion is there: the object's pixels change from frame to frame, the still dots do not
        a, b = af.frames[mid - 1].astype(float), af.frames[mid].astype(float)
        either = af.masks[mid - 1] | af.masks[mid]
        assert np.abs(b - a).mean(-1)[either].mean() > 5 * np.abs(b - a).mean(-1)[~either].mean() + 5
    # one frame's object region has the backdrop's statistics (z of 8 frames ~ N(0, 1): their mean within
    # 4 standard errors), where the same test finds every standard clip's object at once
    assert abs(np.mean(zs)) < 4 / np.sqrt(len(zs)), zs
    assert all(0.85 < r < 1.15 for r in ratios), ratios
    assert min(standard_zs) > 6, standard_zs


def test_a_spinning_object_stays_in_dots_and_the_cli_writes_the_style(tmp_path):
    af = render_clip(SPINNING, seed=2, **SMALL, style="appearance_free")
    values = np.unique(af.frames[len(af.frames) // 2])
    assert af.params["noise_sigma"] > 0 or len(values) <= 12  # black and white, times the sensor's gains
    std = render_clip(SPINNING, seed=2, **SMALL)
    assert np.abs(_centres(af.masks) - _centres(std.masks)).max() <= 1 + std.params["shake_px"] + 0.5
    from lab.data.__main__ import main

    assert main(["--out", str(tmp_path / "af"), "--train", "0", "--val", "0", "--test", "13", "--style",
                 "appearance_free", "--size", "64x64", "--fps", "8", "--duration", "1"]) == 0
    import json

    assert json.loads((tmp_path / "af" / "dataset.json").read_text())["render_options"]["style"] == "appearance_free"


# -- per class in the audit --------------------------------------------------------------------------

def test_the_audit_judges_each_class_by_its_median_drops():
    from core.audit import judge

    def record(i, target, moves):
        return {"index": i, "video": f"{i}.webm", "target": target, "rank": 0, "p_true": 0.9,
                "top2": [["a", 0.9], ["b", 0.1]], "moves": moves}

    def moves(md, ad, share=0.5):
        return {"share": share, "area": 0.1, "motion_drop": md, "appearance_drop": ad,
                "verdict": motion_verdict(md, ad)}

    records = [record(0, 0, moves(0.9, 0.1)), record(1, 0, moves(0.8, 0.6, None)),
               record(2, 1, moves(0.1, 0.9, 0.05)), {**record(3, 1, None), "moves": None}]  # made without it
    classes = judge(records, ["a", "b"], per_class=1)["classes"]
    a, b = classes["a"]["motion"], classes["b"]["motion"]
    assert a["verdict"] == MOTION and a["verdicts"] == {BOTH: 1, MOTION: 1} and a["share"] == 0.5
    assert a["motion_drop"] == pytest.approx(0.85) and a["appearance_drop"] == pytest.approx(0.35)
    assert b["verdict"] == APPEARANCE and b["n"] == 1 and b["share"] == pytest.approx(0.05)
    assert judge([{**record(0, 0, None)}], ["a"], per_class=1)["classes"]["a"]["motion"] is None
