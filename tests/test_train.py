"""Training: label mirroring, a resumable run, and a two-process DDP (gloo) smoke test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from core.data import CLASSES
from core.data.ssv2 import write_dataset
from core.models import load_checkpoint, load_model
from core.train import flip_label_map, main


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
    assert meta["training_command"] == "python -m core.train " + " ".join(
        [*args, "--max-steps", "2", "--export", str(tmp_path / "m")])
    assert meta["training_commands"] == [meta["training_command"]]
    # the checkpoint records the accuracy measured on the validation clips after its last step
    logged = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
    assert (meta["metrics"]["steps"], meta["metrics"]["val_top1"]) == (2, logged["val_top1"])
    model = load_model("i3d_tiny", weights=tmp_path / "m.safetensors")
    assert model.spec.categories == CLASSES
    # resume continues from step 2 instead of starting over
    assert main([*args, "--max-steps", "3", "--resume"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [2, 3]


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


@pytest.mark.slow
def test_ddp_two_gloo_processes(tiny_data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "core.train", "--data", str(tiny_data), "--out", str(out), "--batch-size", "2",
           "--max-steps", "2", "--eval-every", "2", "--cache-size", "64", "--threads", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env,
                       cwd=os.path.dirname(os.path.dirname(__file__)))
    assert r.returncode == 0, r.stderr[-3000:]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 2  # rank 0 logged once, after averaging both ranks' accuracy
