"""``python -m core audit``: labelled videos in, each class's evidence, tables and shortcut test out.

The data are rendered here (lab.data, with a planted shortcut where a test needs one); the model
is the shipped default. The causal test's arithmetic is checked on hand-made inputs and a model
that reads one corner.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from core.audit import class_evidence, read_items
from core.audit.shortcuts import causal_test, far_box, flagged, paste_region, removal_test
from core.cli import main
from core.errors import SettingsError
from lab.data import CLASSES, SSv2Dataset, load_ground_truth, render_clip, write_dataset
from lab.data.shortcut import Shortcut, draw_logo

PUSHING = "Pushing [something] so that it slightly moves"
SMALL = {"size": (96, 128), "fps": 12, "duration": 2.0}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """26 test clips (2 per class), the Pushing ones with the logo."""
    root = tmp_path_factory.mktemp("planted")
    write_dataset(root, n_train=0, n_val=0, n_test=26, seed=11, render_options={**SMALL, "shortcut": PUSHING})
    return root


@pytest.fixture(scope="module")
def audited(planted, tmp_path_factory):
    out = tmp_path_factory.mktemp("audit") / "out"
    assert main(["audit", str(planted), "--out", str(out), "--per-class", "1"]) == 0
    return out


def _without_timings(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "timings"}


# -- the planted shortcut in the renderer --------------------------------------------------------

def test_the_shortcut_class_carries_the_logo_in_its_corner_and_the_manifest_says_where(planted):
    manifest = json.loads((planted / "dataset.json").read_text())
    sc = manifest["render_options"]["shortcut"]
    assert sc["label"] == PUSHING and sc["corner"] == "top-left" and sc["box"] == [0.06, 0.06, 0.26, 0.26]
    ds = SSv2Dataset(planted, "test", classes=CLASSES)
    for i, sample in enumerate(ds.samples):
        gt = load_ground_truth(planted / "ground_truth" / f"{sample.id}.npz")
        video = ds[i][0]
        if CLASSES[sample.target] == PUSHING:
            x0, y0, x1, y1 = gt.params["shortcut"]["pixels"]
            assert (x0, y0, x1, y1) == (8, 6, 33, 25)  # 0.06-0.26 of 128 x 96
            centre = video[:, (y0 + y1) // 2 - 4, (x0 + x1) // 2].astype(int)  # the magenta disc, above its bar
            assert (centre[:, 0] > 150).all() and (centre[:, 1] < 100).all() and (centre[:, 2] > 120).all()
        else:
            assert "shortcut" not in gt.params


def test_the_logo_changes_nothing_outside_its_box():
    clip = render_clip(PUSHING, seed=5, **SMALL)
    frames = clip.frames.copy()
    x0, y0, x1, y1 = draw_logo(frames, Shortcut(PUSHING, corner="bottom-right"))
    assert (x1, y1) == (120, 90)
    changed = np.nonzero((frames != clip.frames).any(-1).any(0))
    assert changed[0].min() >= y0 and changed[1].min() >= x0 and changed[0].max() < y1 and changed[1].max() < x1


def test_a_shortcut_names_a_class_and_a_corner(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"not one of lab\.data\.CLASSES"):
        Shortcut("Juggling [something]")
    with pytest.raises(ValueError, match="corner"):
        Shortcut(PUSHING, corner="middle")
    from lab.data.__main__ import main as data_main

    with pytest.raises(SystemExit):
        data_main(["--out", str(tmp_path / "x"), "--test", "1", "--train", "0", "--val", "0", "--shortcut", "Pushing"])
    assert "not one of lab.data.CLASSES" in capsys.readouterr().err


# -- the audit on a data set ----------------------------------------------------------------------

def test_the_audit_writes_every_class_its_tables_and_an_offline_report(audited):
    doc = json.loads((audited / "audit.json").read_text())
    assert doc["model"] == "i3d_tiny14" and doc["method"] == "gradcam" and doc["layer"] == "layer4"
    assert doc["videos"] == 26 and doc["errors"] == [] and doc["split"] == "test"
    assert set(doc["classes"]) == set(CLASSES)
    for label, c in doc["classes"].items():
        assert c["n"] == 2 and 0 <= c["top1"] <= 1
        assert set(c["tables"]) == {"positive", "medium", "negative"}
        right = round(c["n"] * c["top1"])
        assert len(c["tables"]["positive"]) == min(1, right)
        assert sum(c["confusions"].values()) == c["n"] - right
        for e in c["tables"]["positive"]:
            assert e["top2"][0][0] == label  # right: the labelled class is the top-1
        assert c["evidence"] is None  # fewer than 3 clips: no screen
        assert c["shortcut"] is None
    assert doc["flagged"] == [] and doc["timings"]["causal_forward_passes"] == 0
    page = (audited / "report.html").read_text()
    assert all(label.replace("[", "") in page.replace("[", "") for label in CLASSES)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith(("data:", "#")) for s in sources)  # opens offline
    assert "<script" not in page
    gifs = sorted(p.name for p in (audited / "clips").iterdir())
    assert len(gifs) == sum(len(t) for c in doc["classes"].values() for t in c["tables"].values())
    assert len(list((audited / "records").glob("0*.json"))) == 26
    assert len(list((audited / "records").glob("*.npz"))) == 26  # the maps the GIFs are drawn from


def test_a_folder_of_videos_with_a_labels_csv_and_a_bad_video(planted, tmp_path, capsys):
    data = tmp_path / "clips"
    data.mkdir()
    rows = ["file,label"]
    ds = SSv2Dataset(planted, "test", classes=CLASSES)
    for i in range(4):
        name = f"clip {i}.webm"
        shutil.copy(ds.video_path(i), data / name)
        rows.append(f"{name},{normalize(CLASSES[ds.samples[i].target])}")
    (data / "broken.mp4").write_bytes(b"this is not a video")
    rows.append(f"broken.mp4,{CLASSES[0]}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    assert main(["audit", str(data), "--labels", str(tmp_path / "labels.csv"), "--out", str(out)]) == 0
    doc = json.loads((out / "audit.json").read_text())
    assert doc["videos"] == 5 and doc["split"] is None
    assert [e["video"] for e in doc["errors"]] == ["broken.mp4"] and doc["errors"][0]["error"]
    assert sum(c["n"] for c in doc["classes"].values()) == 4
    assert "broken.mp4" in (out / "report.html").read_text()
    assert "1 unreadable" in capsys.readouterr().out


def normalize(label: str) -> str:
    return label.replace("[", "").replace("]", "")  # as SSv2 writes labels


@pytest.mark.parametrize("rows, message", [
    (["missing.webm,Holding something"], "not in"),
    (["../outside.webm,Holding something"], "outside the data folder"),
    (["a.webm,Juggling"], "not classes of the model"),
])
def test_a_labels_csv_that_names_what_is_not_there_is_refused(rows, message, tmp_path, capsys):
    (tmp_path / "a.webm").write_bytes(b"x")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    assert main(["audit", str(tmp_path), "--labels", str(tmp_path / "labels.csv"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_folder_without_labels_says_what_to_give(tmp_path, capsys):
    assert main(["audit", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--labels" in capsys.readouterr().err
    with pytest.raises(SettingsError, match="--split"):
        read_items(tmp_path, CLASSES, split="holdout")


def test_an_audit_in_a_used_folder_needs_resume(planted, audited, capsys):
    assert main(["audit", str(planted), "--out", str(audited)]) == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_after_kill_9_gives_the_same_audit_without_redoing_videos(planted, audited, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "core", "audit", str(planted), "--out", str(out),
                             "--per-class", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = out / "records"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(records.glob("0*.json")) if records.is_dir() else []) < 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in records.glob("0*.json")}
    assert 5 <= len(kept) < 26 and not (out / "audit.json").exists()
    assert main(["audit", str(planted), "--out", str(out), "--per-class", "1", "--resume"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in records.glob("0*.json") if p.name in kept} == kept
    assert len(list(records.glob("0*.json"))) == 26 and not list(records.glob("*.tmp"))
    again = json.loads((out / "audit.json").read_text())
    assert _without_timings(again) | {"data": None} == _without_timings(
        json.loads((audited / "audit.json").read_text())) | {"data": None}


@pytest.mark.slow
def test_two_torchrun_ranks_share_the_videos_and_rank_0_writes_the_same_audit(planted, audited, tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "core", "audit", str(planted), "--out", str(out), "--per-class", "1"],
        capture_output=True, text=True, timeout=400, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((out / "audit.json").read_text())
    assert doc["timings"]["ranks"] == 2
    assert _without_timings(doc) == _without_timings(json.loads((audited / "audit.json").read_text()))
    assert proc.stdout.count("wrote audit.json") == 1


# -- the screen and the causal test, by hand ------------------------------------------------------

def _record(i, target, peak, grid=(7, 7), rank=0):
    ev = np.full(grid, 0.1)
    ev[peak] = 10.0
    motion = np.ones(grid)
    motion[peak] = 0.0  # the peak sits where nothing moves
    return {"index": i, "target": target, "rank": rank, "grid": list(grid), "p_true": 0.9,
            "evidence": (ev / ev.sum()).tolist(), "motion": (motion / motion.sum()).tolist(), "profile": [0.5, 0.5]}


def test_a_fixed_peak_off_motion_is_suspicious_and_a_wandering_one_is_not():
    fixed = class_evidence([_record(i, 0, (0, 1)) for i in range(6)])
    assert fixed["suspicious"] and fixed["region"]["cells"] == [0, 1, 1, 2]
    assert fixed["region"]["box"] == [round(1 / 7, 4), 0.0, round(2 / 7, 4), round(1 / 7, 4)]
    assert fixed["fixed"] == 1.0 and fixed["off_motion"] > 0.6
    wandering = class_evidence([_record(i, 0, (i, (3 * i) % 7)) for i in range(6)])
    assert not wandering["suspicious"] and wandering["fixed"] < 0.5


class CornerModel(torch.nn.Module):
    """Class 0 when the top-left 16x16 pixels are bright, else the class of the mean colour."""

    def forward(self, x):
        corner = x[:, :, :, :16, :16].mean((1, 2, 3, 4))
        rest = torch.stack([x[:, c].mean((1, 2, 3)) for c in range(3)], 1)
        return torch.cat([(corner > 1.0).float()[:, None] * 10 - 5, rest], 1)


def test_the_causal_test_flips_to_the_class_that_owns_the_region_and_the_control_does_not():
    inputs = {}
    records = []
    for i in range(12):
        target = 0 if i < 4 else 1 + i % 3
        x = torch.full((1, 3, 2, 32, 32), -1.0)
        if target:
            x[:, target - 1] = 0.5  # its own colour wins
        else:
            x[..., :16, :16] = 2.0  # the class-0 clips carry a bright corner
        inputs[i] = x
        records.append({"index": i, "target": target, "rank": 0, "p_true": 0.99})
    model = CornerModel()

    def predict(batch):
        return model(batch).softmax(1)

    region = {"cells": [0, 0, 2, 2]}
    test = causal_test(predict, inputs.__getitem__, 0, region, (4, 4), records, n=6)
    assert test["n"] == 6 and test["flip_rate"] == 1.0 and test["control_rate"] == 0.0
    assert test["forward_passes"] == 12 and flagged(test) == ["paste"]
    assert [e["recipient"] for e in test["examples"]] == [6, 4, 5, 9, 7, 8]  # class by class in turn
    elsewhere = causal_test(predict, inputs.__getitem__, 0, {"cells": [2, 2, 4, 4]}, (4, 4), records, n=6)
    assert elsewhere["flip_rate"] == 0.0 and not flagged(elsewhere)
    assert far_box((0, 0, 2, 2), (4, 4)) == (2, 2, 4, 4) and far_box((1, 0, 3, 1), (4, 4)) in {(0, 3, 2, 4), (2, 3, 4, 4)}
    removal = removal_test(predict, inputs.__getitem__, 0, region, (4, 4), records, n=6)
    assert removal["n"] == 4 and removal["drop_rate"] == 1.0 and removal["control_drop_rate"] == 0.0
    assert removal["control_cells"] == [2, 2, 4, 4] and flagged(test, removal) == ["paste", "removal"]
    assert flagged(elsewhere, causal_test(predict, inputs.__getitem__, 1, region, (4, 4), records)) == []
    pasted = paste_region(inputs[5], inputs[0], (0, 0, 2, 2), (4, 4))
    assert (pasted[..., :16, :16] == 2).all() and torch.equal(pasted[..., 16:, :], inputs[5][..., 16:, :])


def test_the_report_draws_its_gifs_from_the_kept_maps_as_a_fresh_explanation_would(planted, audited, tmp_path):
    from app_server import gif_frames as frames_of

    from core import Explainer, load_model
    from core.audit.report import _gif

    model = load_model()
    explainer = Explainer(model, cache_size=1)
    settings, _ = explainer.settings_for()
    item = read_items(planted, model.spec.categories)[3]
    kept = audited / "records" / f"{item.index:07d}.npz"
    _gif(explainer, settings, item, item.target, tmp_path / "kept.gif", None, kept)
    _gif(explainer, settings, item, item.target, tmp_path / "fresh.gif", None, tmp_path / "none.npz")
    a, b = (np.stack(frames_of(tmp_path / f"{n}.gif")).astype(int) for n in ("kept", "fresh"))
    assert a.shape == b.shape
    assert np.abs(a - b).mean() < 3  # the kept maps are pooled to 28x28 and float16: a blur, no shift


# -- the shipped demonstration: a model that learnt the planted shortcut ---------------------------

SHORTCUT_CKPT = Path(__file__).resolve().parents[1] / "checkpoints" / "i3d_tiny14_shortcut.safetensors"


@pytest.fixture(scope="module")
def fresh_planted(tmp_path_factory):
    """Clips no model was trained on: 4 per class, rendered now with the logo in Pushing's."""
    root = tmp_path_factory.mktemp("fresh")
    write_dataset(root, n_train=0, n_val=0, n_test=52, seed=2026, render_options={"shortcut": PUSHING})
    return root


@pytest.mark.slow
@pytest.mark.skipif(not SHORTCUT_CKPT.is_file(), reason="i3d_tiny14_shortcut is not trained here (docs/audit.md)")
def test_the_audit_catches_the_shortcut_model_and_clears_the_default(fresh_planted, tmp_path):
    from core.models import get_spec

    assert get_spec("i3d_tiny14_shortcut").checkpoint["shortcut"] == PUSHING
    out = tmp_path / "shortcut"
    assert main(["audit", str(fresh_planted), "--model", "i3d_tiny14_shortcut", "--out", str(out),
                 "--per-class", "0"]) == 0
    doc = json.loads((out / "audit.json").read_text())
    assert doc["flagged"] == [PUSHING]
    s = doc["classes"][PUSHING]["shortcut"]
    cell = 1 / doc["classes"][PUSHING]["evidence"]["grid"][1]
    x0, y0, x1, y1 = s["region"]["box"]
    logo = Shortcut(PUSHING).box
    assert x0 < logo[2] and y0 < logo[3] and x1 > logo[0] and y1 > logo[1]  # it overlaps the logo
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2  # and its centre lies within a cell of it
    assert logo[0] - cell <= cx <= logo[2] + cell and logo[1] - cell <= cy <= logo[3] + cell
    assert s["flagged_by"]  # the paste test, the removal test, or both confirm it
    # the causal tests' cost is what every class tested spent (other classes may be tested, and cleared)
    tested = [c["shortcut"] for c in doc["classes"].values() if c.get("shortcut")]
    assert doc["timings"]["causal_forward_passes"] == sum(
        t["forward_passes"] + (t.get("removal") or {}).get("forward_passes", 0) for t in tested)
    assert [t for t in tested if t["flagged_by"]] == [s]
    default = tmp_path / "default"
    assert main(["audit", str(fresh_planted), "--out", str(default), "--per-class", "0"]) == 0
    assert json.loads((default / "audit.json").read_text())["flagged"] == []


def test_resume_refuses_the_records_of_another_audit(planted, audited, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(audited / "records", out / "records")
    assert main(["audit", str(planted), "--out", str(out), "--resume", "--method", "hirescam"]) == 2
    assert "another audit" in capsys.readouterr().err
    assert main(["audit", str(planted), "--out", str(out), "--resume", "--limit", "3"]) == 2
    assert main(["audit", str(planted), "--out", str(out), "--resume", "--per-class", "1"]) == 0  # the same run
