"""The app on a ZeroGPU Space (issue 35), played here with the real ``spaces`` package.

tests/zerogpu_app.py runs app.py as ZeroGPU's main process (SPACES_ZERO_GPU=true) with only the
device scheduler replaced by counters; spaces forks its GPU worker and pickles every call across,
as on a Space. Every tab's model work goes through it; no slot and no worker is left behind, and
no request touches CUDA outside a ``spaces.GPU`` call.
"""

from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path

import pytest

spaces = pytest.importorskip("spaces")
# played on the CPU: with a real GPU here, spaces' emulation and the preloaded models would meet it
pytestmark = pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a CUDA GPU is present")

from gradio_client import handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402
from zerogpu_app import ZeroGPUApp, alive, children  # noqa: E402


def _error(client, *args, **kwargs) -> str:
    with pytest.raises(AppError) as e:
        client.predict(*args, **kwargs)
    return str(e.value)


@pytest.mark.slow
def test_every_tab_runs_its_model_work_in_zerogpus_worker(tmp_path):
    from media import action_sequence

    from harness import EXPLAIN_OUTPUTS, samples

    space = ZeroGPUApp(tmp_path, patch_torch=False)
    try:
        c = space.client
        video, label = samples()[0]
        out = dict(zip(EXPLAIN_OUTPUTS, c.predict(handle_file(str(video)), label, api_name="/explain"), strict=True))
        assert label in out["truth"] and Path(out["heatmap"]).is_file()
        ranked = [x["label"] for x in out["all"]["confidences"]]
        second, sixth = ranked[1], ranked[5]
        booked = space.counts()["schedule"]
        t0 = time.perf_counter()
        heatmap, info = c.predict(second, api_name="/retarget")
        print(f"\nclass change, top-5: {1e3 * (time.perf_counter() - t0):.0f} ms (client round trip)")
        assert Path(heatmap).is_file() and "cached forward pass" in info
        assert len(c.predict(api_name="/top5")) == 5
        assert space.counts()["schedule"] == booked  # both cut from what the first call brought back
        t0 = time.perf_counter()
        heatmap, info = c.predict(sixth, api_name="/retarget")
        print(f"class change, 6th class: {1e3 * (time.perf_counter() - t0):.0f} ms (client round trip)")
        assert "cached forward pass" in info  # spaces reused the idle worker, whose Explainer kept it
        assert space.counts()["schedule"] == booked + 1
        heading, *_ = c.predict(second, api_name="/trust")
        assert second in heading and "computed in" in heading
        # a method that does not apply is refused before booking; a user's error inside the GPU
        # function (a file that is no video, found out by the scan) comes back as the usual message
        booked = space.counts()["schedule"]
        assert "attention" in _error(c, second, method="rollout", api_name="/retarget")
        assert space.counts()["schedule"] == booked
        (tmp_path / "notes.mp4").write_text("not a video\n" * 100)
        message = _error(c, handle_file(str(tmp_path / "notes.mp4")), api_name="/timeline")
        assert "notes.mp4" in message and "went wrong" not in message
        assert space.counts()["schedule"] == booked + 1
        # a call over the page's caps is refused before any slot is booked (a booking over ZeroGPU's
        # own cap as well: test_each_gpu_call_sends_and_returns_plain_picklable_data)
        before = space.counts()["schedule"]
        assert "at most 10,000 per request" in _error(c, second, method="rise", masks=100000, api_name="/retarget")
        assert space.counts()["schedule"] == before
        scan = c.predict(handle_file(str(action_sequence(tmp_path / "four actions.mp4"))), api_name="/timeline")
        assert "windows of" in scan[-1]
        summary, *_ = c.predict(api_name="/audit_sample")
        assert "shortcut" in summary.lower() or "%" in summary
        counts = space.counts()
        assert counts["schedule"] == counts["release"] >= 6 and counts["failed"] == 0, counts
        assert all(0 < d <= 120 for d in counts["durations"]), counts["durations"]  # each call booked its own
        assert len(children(space.proc.pid)) <= 1  # one worker, reused
    finally:
        workers = space.stop()
    deadline = time.monotonic() + 15  # a worker's exit is reaped a little after the app's
    while [w for w in workers if alive(w)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [w for w in workers if alive(w)], "a ZeroGPU worker outlived the app"
    assert "Traceback" not in space.log.read_text()


@pytest.mark.slow
def test_no_request_touches_cuda_outside_a_gpu_call(tmp_path):
    """spaces' CUDA emulation on, as on a Space: the shipped models go to the (emulated) GPU at
    start-up in the main thread, and the first Explain reaches ``spaces.GPU`` (whose worker then
    finds no GPU on this machine) instead of failing in Gradio's handler thread."""
    from harness import samples

    space = ZeroGPUApp(tmp_path, patch_torch=True)
    try:
        video, label = samples()[0]
        message = _error(space.client, handle_file(str(video)), label, api_name="/explain")
        counts = space.counts()
        assert counts["schedule"] == counts["release"] == 1, counts
        assert message == "RuntimeError"  # spaces' "ZeroGPU worker error" toast: the worker's GPU move
    finally:
        space.stop()
    log = space.log.read_text()
    assert "Low-level CUDA init" not in log, log[-3000:]
    assert "ZeroGPU tensors packing" in log  # the shipped models went to the (emulated) GPU at start-up
    assert "Found no NVIDIA driver" in log  # where the worker moved them to the GPU it was given


@pytest.mark.slow
def test_each_gpu_call_sends_and_returns_plain_picklable_data(monkeypatch, tmp_path):
    """Each function the page runs through ``spaces.GPU``, with the arguments the page gives it,
    through demo.space's boundary, with spaces' step (pickle the call, run it, pickle the result
    back) played in this process: what crosses is names, CPU tensors and records."""
    from media import action_sequence

    import core
    from demo import audit_tab, space
    from demo.config import AUDIT_SAMPLE_DIR, AUDIT_SAMPLE_MODEL
    from demo.explain_tab import clip as handlers
    from demo.explain_tab import trust as trust_panel
    from demo.models import get_explainer
    from demo.state import Stop
    from demo.whole_video_tab import view as timeline_view
    from harness import samples

    crossed = []

    def remote(*call):
        sent = pickle.loads(pickle.dumps(call))
        assert not any(isinstance(a, core.Explainer) for a in (*sent[3], *sent[4].values()))
        value = pickle.loads(pickle.dumps(space._in_worker(*sent)))
        crossed.append(sent[2])
        return value

    monkeypatch.setattr(space, "ON_ZERO_GPU", True)
    monkeypatch.setattr(space, "_remote", remote)
    monkeypatch.setattr(space, "MAX_SECONDS", 10**6)  # this CPU's speed is not what is tested
    progress = lambda fraction, desc=None: None  # noqa: E731 (the handlers' gr.Progress)
    ex = get_explainer(core.DEFAULT_MODEL)
    clip = core.read_clip(str(samples()[0][0]), ex.spec)
    settings = core.Settings(method="gradcam")
    run = space.gpu(handlers._run, seconds=space.explain_cost, kept=space.Kept())
    exp = run(ex, clip, settings, Stop(), progress)
    assert isinstance(exp, core.Explanation) and len(exp.targets) == 1 and not exp.cached_forward
    second = exp.ranked_labels()[1]
    assert run(ex, clip, settings, Stop(), targets=second).cached_forward and len(crossed) == 1  # cut here
    with pytest.raises(core.UserError, match="unknown class"):
        run(ex, clip, settings, Stop(), targets="no such class")  # raised in the worker, as itself
    # Stop, pressed on this side while the worker runs RISE, stops it there before its next batch
    stop = Stop()
    threading.Timer(0.5, lambda: setattr(stop, "requested", True)).start()
    with pytest.raises(core.Cancelled):
        run(ex, clip, core.Settings(method="rise", perturbation={"masks": 400}), stop, progress)
    monkeypatch.setattr(space, "MAX_SECONDS", 5)  # a call that would book more is refused before it crosses
    with pytest.raises(core.SettingsError, match="GPU time"):
        run(ex, clip, core.Settings(method="rise", perturbation={"masks": 400}), Stop(), progress)
    monkeypatch.setattr(space, "MAX_SECONDS", 10**6)
    report = space.gpu(trust_panel._check, seconds=space.trust_cost)(ex, clip, exp, lambda f, what: None)
    assert report.target == exp.targets[0].name
    video = action_sequence(tmp_path / "two actions.mp4", core.get_spec(core.DEFAULT_MODEL).categories[:2],
                            seconds=2.0, clips=1)
    scanned = space.gpu(timeline_view.scan, seconds=space.scan_cost)(
        video, core.DEFAULT_MODEL, ex, settings, tmp_path, progress)
    assert "windows of" in scanned["tl_info"]
    shortcut = get_explainer(AUDIT_SAMPLE_MODEL)
    items = core.audit.read_items(AUDIT_SAMPLE_DIR, shortcut.spec.categories, split="test")[:2]
    audited = space.gpu(audit_tab._run, seconds=space.audit_cost)(
        shortcut, items, tmp_path / "audit", "sample", progress, split="test")
    assert Path(audited["audit_files"][0]).is_file()
    assert [k.rsplit(".", 1)[-1] for k in crossed] == ["_run", "_run", "_run", "_check", "scan", "_run"]


def test_a_class_cut_from_the_top_five_is_what_the_worker_would_return():
    """demo/kept.py's cut of one class from a top-5 explanation equals that class explained alone
    (each map computed and normalised on its own), for every Grad-CAM-family method."""
    import torch

    import core
    from demo.kept import _cut
    from demo.models import get_explainer
    from harness import samples

    ex = get_explainer(core.DEFAULT_MODEL)
    clip = core.read_clip(str(samples()[0][0]), ex.spec)
    for method in ("gradcam", "gradcampp", "layercam"):
        settings = core.Settings(method=method, pooling="frame")
        top = ex.explain(clip, settings=settings, top_k=5)
        third = top.targets[2].label
        alone, cut = ex.explain(clip, targets=third, settings=settings), _cut(top, {"targets": third})
        assert cut.targets == alone.targets and cut.cached_forward
        torch.testing.assert_close(cut.maps, alone.maps)
        torch.testing.assert_close(cut.temporal_importance, alone.temporal_importance)
        assert _cut(top, {"top_k": 5}).targets == top.targets
        assert _cut(top, {"targets": top.ranked_labels()[6]}) is None  # not there: a GPU call
