"""Training: label mirroring, a resumable run, and a two-process DDP (gloo) smoke test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from core.models import load_checkpoint, load_model
from lab.data import CLASSES
from lab.data.ssv2 import write_dataset
from lab.train import flip_label_map, main


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("actions")
    write_dataset(root, n_train=13, n_val=13, n_test=0, seed=3,
                  render_options={"size": (64, 80), "fps": 8.0, "duration": 2.0})
    return root


def test_flip_swaps_left_and_right_only():
    m = flip_label_map(list(CLASSES))
    assert CLASSES[m[0]] == "Moving [something] from right to left"
    assert CLASSES[m[11]] == "Turning the camera right while filming [something]"
    assert [i for i in range(len(CLASSES)) if m[i] != i] == [0, 1, 11, 12]


def test_train_export_and_resume(tiny_data, tmp_path):
    out = tmp_path / "run"
    args = ["--data", str(tiny_data), "--out", str(out), "--batch-size", "4", "--eval-every", "2",
            "--cache-size", "64", "--threads", "1"]
    assert main([*args, "--max-steps", "2", "--export", str(tmp_path / "m")]) == 0
    _, meta = load_checkpoint(tmp_path / "m.safetensors")
    assert meta["categories"] == list(CLASSES) and meta["data"]["seed"] == 3
    assert meta["training_command"] == "python -m lab.train " + " ".join(
        [*args, "--max-steps", "2", "--export", str(tmp_path / "m")])
    assert meta["training_commands"] == [meta["training_command"]]
    # the checkpoint records the accuracy measured on the validation clips after its last step
    logged = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
    assert (meta["metrics"]["steps"], meta["metrics"]["val_top1"]) == (2, logged["val_top1"])
    model = load_model("i3d_tiny", weights=tmp_path / "m.safetensors")
    assert model.spec.categories == CLASSES
    # the export carries its training data's feature statistics (core.familiarity), from the same command
    stats = meta["feature_stats"]
    assert stats["fit_on"]["clips"] == 13 and stats["calibrated_on"]["clips"] == 13
    assert [r["name"] for r in stats["layers"]] == [*model.spec.layers, "head", "logits"]
    exp = __import__("core").Explainer(model).explain(torch.full((1, 3, 16, 112, 112), 5.0))
    assert exp.familiarity is not None and exp.familiarity.unfamiliar
    # resume continues from step 2 instead of starting over
    assert main([*args, "--max-steps", "3", "--resume"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 3]


def test_a_run_stopped_mid_epoch_and_resumed_is_the_run_that_never_stopped(tiny_data, tmp_path):
    """A run longer than a session: ``--stop-at`` ends the invocation with the schedule of the whole
    run, and ``--resume`` (from the one state file, which could have travelled to another machine)
    goes on with the same batches, augmentation draws and learning rates, to the same weights."""
    args = ["--data", str(tiny_data), "--batch-size", "4", "--eval-every", "2", "--cache-size", "64",
            "--threads", "1", "--max-steps", "5"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main([*args, "--out", str(straight)]) == 0
    assert main([*args, "--out", str(split), "--stop-at", "4"]) == 0  # 3 batches an epoch: mid-epoch
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in ("last.safetensors", "last.json"):
        (split / f).rename(moved / f)
    assert main([*args, "--out", str(moved), "--resume", "--export", str(tmp_path / "m")]) == 0
    a, meta_a = load_checkpoint(straight / "last.safetensors")
    b, meta_b = load_checkpoint(moved / "last.safetensors")
    assert meta_a["train_state"]["step"] == meta_b["train_state"]["step"] == 5
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [r["step"] for r in meta_b["history"]] == [2, 4, 5]
    _, exported = load_checkpoint(tmp_path / "m.safetensors")
    assert len(exported["training_commands"]) == 2 and "--resume" in exported["training_commands"][1]
    assert [r["step"] for r in exported["validation_curve"]] == [2, 4, 5]


@pytest.mark.slow
def test_a_few_steps_fit_the_clips_trained_on(tiny_data, tmp_path):
    """Training learns: validated on its own 13 training clips (one per class), three full-batch
    steps lower the loss and lift top-1 from chance (1 in 13) to at least 3 in 13."""
    data = tmp_path / "seen"
    shutil.copytree(tiny_data, data, ignore=shutil.ignore_patterns(".cache_*"))
    shutil.copy(data / "train.json", data / "validation.json")
    out = tmp_path / "run"
    assert main(["--data", str(data), "--out", str(out), "--batch-size", "13", "--max-steps", "3",
                 "--eval-every", "1", "--label-smoothing", "0", "--cache-size", "64",
                 "--threads", "1"]) == 0
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3]
    assert log[-1]["loss"] < log[0]["loss"] - 0.2, log
    assert log[-1]["val_top1"] >= 3 / 13 - 1e-6, log


def test_continued_training_records_the_whole_lineage(tiny_data, tmp_path):
    """A model trained further with --init must say every command that led to it, oldest first."""
    args = ["--data", str(tiny_data), "--batch-size", "4", "--cache-size", "64", "--threads", "1", "--max-steps", "1"]
    assert main([*args, "--out", str(tmp_path / "a"), "--export", str(tmp_path / "base")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--init", str(tmp_path / "base.safetensors"),
                 "--export", str(tmp_path / "more")]) == 0
    _, base = load_checkpoint(tmp_path / "base.safetensors")
    _, more = load_checkpoint(tmp_path / "more.safetensors")
    assert more["training_commands"] == [base["training_command"], more["training_command"]]
    assert "--init" in more["training_command"] and "--init" not in base["training_command"]


def test_several_data_sets_train_together_and_are_all_recorded(tiny_data, tmp_path):
    """--data A B trains on both sets' clips (and their masks) and records both manifests."""
    varied = tmp_path / "varied"
    write_dataset(varied, n_train=13, n_val=13, n_test=0, seed=4,
                  render_options={"size": (64, 80), "fps": 8.0, "style": "varied"})
    args = ["--batch-size", "4", "--cache-size", "64", "--threads", "1", "--max-steps", "1", "--cam-loss", "0.5"]
    # --data A --data B is --data A B
    assert main(["--data", str(tiny_data), *args, "--data", str(varied), "--out", str(tmp_path / "run"),
                 "--export", str(tmp_path / "m")]) == 0
    _, meta = load_checkpoint(tmp_path / "m.safetensors")
    assert meta["metrics"]["train_clips"] == 26
    assert meta["data"]["seed"] == 3 and [d["seed"] for d in meta["data_sets"]] == [3, 4]
    assert meta["data_sets"][1]["render_options"]["style"] == "varied"
    other = tmp_path / "other"
    shutil.copytree(tiny_data, other, ignore=shutil.ignore_patterns(".cache_*"))
    manifest = json.loads((other / "dataset.json").read_text())
    (other / "dataset.json").write_text(json.dumps({**manifest, "classes": manifest["classes"][::-1]}))
    with pytest.raises(SystemExit, match="other classes"):
        main([*args, "--out", str(tmp_path / "mixed"), "--data", str(tiny_data), str(other)])
    with pytest.raises(SystemExit, match="twice"):
        main([*args, "--out", str(tmp_path / "twice"), "--data", str(tiny_data), str(tiny_data / ".")])


@pytest.mark.slow
def test_ddp_two_gloo_processes(tiny_data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "lab.train", "--data", str(tiny_data), "--out", str(out), "--batch-size", "2",
           "--max-steps", "2", "--eval-every", "2", "--cache-size", "64", "--threads", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env,
                       cwd=os.path.dirname(os.path.dirname(__file__)))
    assert r.returncode == 0, r.stderr[-3000:]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 2  # rank 0 logged once, after averaging both ranks' accuracy


def test_masks_follow_the_frames_through_crop_resize_and_flip():
    """Frames that *are* the mask (grey = mask) must come out of the augmentation matching the mask
    they were given, for every random crop and flip: a mask cropped or flipped differently from its
    frames would train the localisation loss on the wrong pixels."""
    import torch

    from lab.train import _augment

    g = torch.Generator().manual_seed(0)
    masks = torch.zeros(8, 4, 64, 64, dtype=torch.uint8)
    for b in range(8):  # an off-centre box per clip, so a flip or a shifted crop shows
        y, x = 4 + 5 * b, 6 + 3 * b
        masks[b, :, y:y + 14, x:x + 9] = 255
    frames = masks[..., None].expand(-1, -1, -1, -1, 3).contiguous()
    labels = torch.zeros(8, dtype=torch.long)
    flips = torch.tensor(flip_label_map(list(CLASSES)))
    rgb, out_labels, out_masks = _augment(frames, labels, flips, 48, g, masks=masks)
    assert rgb.shape == (8, 3, 4, 48, 48) and out_masks.shape == (8, 4, 48, 48)
    for b in range(8):
        grey = rgb[b, 0]  # gain * mask + bias, clamped: the same ordering of pixels as the mask
        lo, hi = grey[out_masks[b] < 0.05], grey[out_masks[b] > 0.95]
        assert hi.numel() and lo.numel() and hi.min() > lo.max(), b
    assert set(out_labels.tolist()) <= {0, 1}  # class 0 mirrored to its partner on a flip
    # the same draws with and without masks: the RGB batch is the one training always saw
    again, labels_again = _augment(frames, labels, flips, 48, torch.Generator().manual_seed(0))
    assert torch.equal(again, rgb) and torch.equal(labels_again, out_labels)


def test_cam_loss_is_low_only_when_the_map_is_on_the_object_and_in_the_action():
    import torch

    from lab.cam_loss import cam_localisation_loss

    fc = torch.eye(2, 3)  # class k's map is channel k
    masks = torch.zeros(1, 2, 8, 8)
    masks[0, :, 4:, 4:] = 1  # bottom-right quarter of the 2x2 grid
    inside = torch.tensor([[False, True]])  # the action is the second frame
    on = torch.zeros(1, 3, 2, 2, 2)
    on[0, 0, 1, 1, 1] = 5.0  # on the object, in the action's frame
    off = torch.zeros(1, 3, 2, 2, 2)
    off[0, 0, :, 0, 0] = 5.0  # beside the object, in both frames
    y, use = torch.tensor([0]), torch.tensor([True])
    (where_on, when_on), (where_off, when_off) = (cam_localisation_loss(f, fc, y, masks, use, inside) for f in (on, off))
    assert float(where_on) < 2.6 < 5.0 < float(where_off)  # frame 0 of `on` is flat: log(4) there
    assert float(when_on) == pytest.approx(0.0) and float(when_off) == pytest.approx(float(torch.log(torch.tensor(2.0))))
    # the other class's map (channel 1, all zero) is judged instead: flat, log(4) per frame
    where_other, _ = cam_localisation_loss(on, fc, torch.tensor([1]), masks, use, inside)
    assert float(where_other) == pytest.approx(float(torch.log(torch.tensor(4.0))))
    # camera classes or no ground truth (use False, no interval) and empty masks add nothing
    feats = off.clone().requires_grad_(True)
    where, when = cam_localisation_loss(feats, fc, y, masks, torch.tensor([False]), torch.zeros(1, 2, dtype=torch.bool))
    (where + when).backward()
    assert where.item() == when.item() == 0.0 and feats.grad is not None and not feats.grad.any()
    assert float(cam_localisation_loss(off, fc, y, torch.zeros_like(masks), use, inside)[0]) == 0.0


def test_cam_loss_training_logs_the_loss_and_refuses_a_model_without_a_pooled_head(tiny_data, tmp_path):
    out = tmp_path / "cam"
    args = ["--data", str(tiny_data), "--batch-size", "4", "--cache-size", "64", "--threads", "1",
            "--max-steps", "2", "--eval-every", "2", "--cam-loss", "1.0"]
    assert main([*args, "--out", str(out)]) == 0
    rec = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
    assert rec["cam_where"] > 0 and rec["cam_when"] >= 0
    import numpy as np

    from core.video import uniform_indices
    from lab.cam_loss import load_cached_ground_truth
    from lab.data import load_ground_truth

    entries = json.loads((tiny_data / "train.json").read_text())
    covers = ("Covering [something] with [something]", "Uncovering [something]")
    truth = load_cached_ground_truth(tiny_data, "train", list(CLASSES), 16, 64, skip=covers)  # cached by main()
    for i, e in enumerate(entries):
        camera = e["template"].startswith(("Approaching", "Moving away", "Turning"))
        assert bool(truth.use[i]) == (not camera and e["template"] not in covers), e["template"]
        assert truth.masks[i].any()  # every clip's masks are kept; `use` says which the loss reads
        # the interval, at the 16 frames uniform sampling picks
        gt = load_ground_truth(tiny_data / "ground_truth" / f"{e['id']}.npz")
        idx = np.array(uniform_indices(len(gt.masks), 16))
        assert (truth.inside[i].numpy() == ((idx >= gt.interval[0]) & (idx <= gt.interval[1]))).all()
    with pytest.raises(SystemExit, match="not a class of"):
        main([*args, "--out", str(tmp_path / "typo"), "--cam-skip", "Covering something"])
    with pytest.raises(SystemExit, match="average pool and one linear layer"):
        main([*args, "--arch", "r2plus1d_18", "--out", str(tmp_path / "r2")])


def test_a_hugging_face_transformer_trains_exports_and_explains(tiny_data, tmp_path, hf_offline):
    """``--arch videomae_tiny`` (transformers' own VideoMAE, built from the config in
    core/models/hf_shipped.py, with its convolutional stem) trains, exports a
    checkpoint that loads under its registered name, and is explained by Grad-CAM on its token
    grid and by the attention methods."""
    import torch

    import core

    out, ckpt = tmp_path / "run", tmp_path / "videomae"
    args = ["--data", str(tiny_data), "--arch", "videomae_tiny", "--out", str(out), "--batch-size", "4",
            "--max-steps", "2", "--eval-every", "2", "--cache-size", "64", "--threads", "1"]
    with pytest.raises(SystemExit, match="takes 16x112x112 clips, the student 8x112x112"):
        main([*args, "--distill", "i3d_tiny"])  # a teacher must see the student's clip
    assert main([*args, "--export", str(ckpt)]) == 0
    _, meta = load_checkpoint(ckpt.with_suffix(".safetensors"))
    assert meta["arch"] == "videomae_tiny"
    model = load_model("videomae_tiny", weights=ckpt.with_suffix(".safetensors"))
    assert model.spec.categories == CLASSES and model.spec.token_grid == (4, 7, 7)
    explainer = core.Explainer(model)
    frames = torch.randn(1, 3, 8, 112, 112, generator=torch.Generator().manual_seed(0))
    for method in ("gradcam", "rollout", "relevance"):
        e = explainer.explain(frames, settings=core.Settings(method=method))
        assert e.maps.shape[1] == 8 and e.raw_maps.shape[-3:] == (4, 7, 7), method



def test_reinit_draws_the_named_modules_afresh_and_keeps_the_rest():
    import torch

    from core.models import load_model
    from lab.train import _reinit

    model = load_model("i3d_tiny14")  # the shipped weights
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _reinit(model, ["layer4", "fc"], seed=0)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("layer4.", "fc.")) for k in changed)
    assert "fc.weight" in changed and any(k.startswith("layer4.") and k.endswith("weight") for k in changed)
    with pytest.raises(SystemExit, match="not modules of the model"):
        _reinit(model, ["layer9"], seed=0)
