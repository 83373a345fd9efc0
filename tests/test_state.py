"""Explanation state: no hidden cache, one copy of each model, one settings record, and the error
policy (what the user can fix is shown as it is; a bug is reported as a bug)."""

from __future__ import annotations

import gc
import json
import weakref
from collections import OrderedDict
from pathlib import Path

import gradio as gr
import pytest
import torch
from torch import nn

import core
from core.cam import Explainer, Method, Normalize, Pooling, Settings, explain
from core.errors import SettingsError, UserError
from core.video import Sampling

ROOT = Path(__file__).resolve().parents[1]


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3, 4)))


def _spec(**kw) -> core.ModelSpec:
    return core.ModelSpec(name="net", categories=("a", "b", "c"), num_frames=4, input_size=(16, 16),
                          mean=(0.5,) * 3, std=(0.25,) * 3, layers=("conv",), default_layer="conv", **kw)


def _sample() -> tuple[str, str]:
    first = json.loads((ROOT / "demo" / "samples" / "index.json").read_text())[0]
    return str(ROOT / "demo" / "samples" / first["file"]), first["label"]


# -- 1. no process-global cache ------------------------------------------------------------------

def test_explain_keeps_nothing_alive_once_the_caller_drops_the_model():
    model, x = _Net(), torch.randn(1, 3, 4, 16, 16)
    exp = explain(model, x, top_k=2, layer="conv")
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None, "core.explain kept the model (and its autograd graphs) alive"
    assert exp.maps.shape == (2, 4, 16, 16) and not exp.maps.requires_grad


def test_an_explainer_owns_its_cache_and_frees_it_with_itself():
    model, x = _Net(), torch.randn(1, 3, 4, 16, 16)
    ex = Explainer(model, _spec())
    assert not ex.explain(x, 0).cached_forward and ex.explain(x, 1).cached_forward
    graph = weakref.ref(ex._cache[next(iter(ex._cache))].run.logits)
    alive = weakref.ref(model)
    del ex, model
    gc.collect()
    assert alive() is None and graph() is None


# -- 2. one copy of each model: the trust checks go through the same Explainer ---------------

def test_trust_checks_leave_the_shared_model_and_its_cache_as_they_were():
    from core.trust import trust_check

    torch.manual_seed(0)
    model, x = _Net().train(), torch.randn(1, 3, 4, 16, 16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ex = Explainer(model, _spec())
    exp = ex.explain(x, 1)
    report = trust_check(ex, x, exp, sanity_depth=2)
    assert [s["randomized"] for s in report.sanity] == [["fc"], ["fc", "conv"]]
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the sanity check changed the shared model"
    assert model.training and not model.conv._forward_hooks and all(p.requires_grad for p in model.parameters())
    again = ex.explain(x, 1)  # still answered from the cached forward pass, with the same map
    assert again.cached_forward and torch.equal(again.maps, exp.maps)


def test_the_app_loads_each_model_once_for_explaining_and_the_trust_panel(monkeypatch):
    from demo import models
    from demo.explain_tab import api as handlers

    loads = []
    real = core.load_model
    monkeypatch.setattr(models, "_explainers", OrderedDict())
    monkeypatch.setattr(models.core, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k))
    video, label = _sample()
    quiet = lambda *a, **k: None  # noqa: E731 (stands in for gr.Progress)
    out = handlers.explain(video, label, core.DEFAULT_MODEL, "gradcam", "clip", "layer4", 0.5, "uniform",
                           progress=quiet)
    panel = handlers.trust(out["session"], None, label, "gradcam", "clip", "layer4", 0.5, progress=quiet)
    assert "rank corr." not in panel["trust_heading"] and panel["trust_table"]
    assert len(loads) == 1, f"the model was loaded {len(loads)} times"


def test_a_request_looks_its_model_up_once(monkeypatch):
    from demo import models
    from demo.explain_tab import api as handlers
    from demo.explain_tab import clip
    from demo.settings import PageSettings

    lookups = []
    real = models.get_explainer
    counted = lambda name: lookups.append(name) or real(name)  # noqa: E731
    monkeypatch.setattr(models, "get_explainer", counted)
    monkeypatch.setattr(clip, "get_explainer", counted)
    video, label = _sample()
    quiet = lambda *a, **k: None  # noqa: E731 (stands in for gr.Progress)
    out = handlers.explain(video, label, core.DEFAULT_MODEL, "gradcam", "clip", None, 0.5, None,
                           progress=quiet)
    assert lookups == [core.DEFAULT_MODEL], "one /explain looked its model up more than once"
    for request in (lambda s: handlers.trust(s, None, label, "gradcam", "clip", None, 0.5, progress=quiet),
                    lambda s: clip.refresh(s, label, PageSettings("gradcam", "clip", "layer3", 0.5))):
        lookups.clear()
        request(out["session"])
        assert lookups == [core.DEFAULT_MODEL]


# -- 3. one settings record --------------------------------------------------------------------

def test_the_page_carries_its_settings_as_one_record_and_its_handlers_take_a_few_inputs():
    """demo/settings.py: one record built from every settings component, kept in a gr.State that
    the page's own events read; only the API's endpoints take the settings one by one (their
    parameters are the API's, docs/app.md)."""
    from demo.settings import FIELDS, PageSettings
    from demo.ui import build_demo

    page = build_demo()
    state = next(b for b in page.blocks.values() if isinstance(b, gr.State) and isinstance(b.value, PageSettings))
    builds = [f for f in page.fns.values() if getattr(f.fn, "__name__", "") == "build"]
    assert builds and all(f.outputs == [state] and len(f.inputs) == len(FIELDS) for f in builds)
    values = {c: f"v{i}" for i, c in enumerate(builds[0].inputs)}
    built = builds[0].fn(values)
    assert isinstance(built, PageSettings) and sorted(vars(built).values()) == sorted(values.values())
    public = {"explain", "explain_moment", "trust", "contrast", "retarget", "export", "top5"}
    for f in page.fns.values():
        if f.fn is not None and f.api_name not in public and f not in builds:
            assert len(f.inputs) <= 6, f"{f.api_name} takes {len(f.inputs)} inputs"
    assert state in next(f for f in page.fns.values() if f.api_name == "refresh").inputs


def test_settings_are_validated_once_and_stored_in_the_explanation():
    with pytest.raises(SettingsError, match="method='nope'; choose one of gradcam, gradcampp"):
        Settings(method="nope")
    with pytest.raises(SettingsError, match="pooling='time'"):
        Settings(pooling="time")
    s = Settings(method="layercam", pooling="frame", normalize="frame")
    assert (s.method, s.pooling, s.normalize) == (Method.LAYERCAM, Pooling.FRAME, Normalize.FRAME)
    model, x = _Net(), torch.randn(1, 3, 4, 16, 16)
    exp = Explainer(model, _spec()).explain(x, 0, settings=s)
    assert exp.settings == Settings(method="layercam", pooling="frame", normalize="frame", layer="conv")
    assert exp.to_dict()["method"] == "layercam" and exp.to_dict()["layer"] == "conv"
    with pytest.raises(SettingsError, match="not both"):
        Explainer(model, _spec()).explain(x, 0, settings=s, method="gradcam")


def test_page_and_cli_choices_come_from_the_enums():
    from core.cli import _parser
    from demo.ui import build_demo

    sub = next(a for a in _parser()._actions if isinstance(a.choices, dict))
    explain_args = {a.dest: a for a in sub.choices["explain"]._actions}
    assert list(explain_args["method"].choices) == [m.value for m in Method]
    assert list(explain_args["pooling"].choices) == [m.value for m in Pooling]
    assert list(explain_args["normalize"].choices) == [m.value for m in Normalize]
    radios = {b.label: b for b in build_demo().blocks.values() if isinstance(b, gr.Radio)}
    assert [tuple(c) for c in radios["CAM method"].choices] == Method.choices()
    assert [tuple(c) for c in radios["Channel weights"].choices] == Pooling.choices()
    assert [c[1] for c in radios["Frames sampled"].choices] == [m.value for m in Sampling]
    assert list(explain_args["sampling"].choices) == [m.value for m in Sampling]


def test_a_layer_is_checked_in_one_place_by_one_rule():
    from core.cam import resolve_layer

    model, spec = _Net(), _spec(layer_paths={"features": "conv"})
    assert resolve_layer(model, None, spec) == ("conv", model.conv)  # None: the spec's default
    assert resolve_layer(model, "features", spec) == ("features", model.conv)  # an alias
    assert resolve_layer(model, "fc", spec) == ("fc", model.fc)  # any module path of the model
    with pytest.raises(SettingsError, match="'layer4' is not a layer of net; its layers are conv"):
        resolve_layer(model, "layer4", spec)
    x = torch.randn(1, 3, 4, 16, 16)
    with pytest.raises(SettingsError, match="'layer4' is not a layer of net"):  # what the page shows
        Explainer(model, spec).explain(x, 0, layer="layer4")
    assert Explainer(model, spec).explain(x, 0, layer="features").layer == "features"


def test_a_new_class_is_queued_with_the_model_work():
    """Bug g: /retarget ran unqueued, so a forward pass (when the cache had dropped the clip's)
    ran outside the concurrency limit of the other model work."""
    from demo.ui import build_demo

    fns = {fn.api_name: fn for fn in build_demo().fns.values() if fn.api_name}
    explain, retarget = fns["explain"], fns["retarget"]
    assert retarget.queue and explain.queue
    assert (retarget.concurrency_id, retarget.concurrency_limit) == (explain.concurrency_id,
                                                                     explain.concurrency_limit)


# -- 4. the error policy -------------------------------------------------------------------------

def _plant_bug(monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    monkeypatch.setattr("core.cam.forward.cam_from_gradients", broken)


def test_cli_reports_a_planted_bug_as_a_bug_not_as_bad_input(monkeypatch, tmp_path, capsys):
    from core.cli import main

    video, _ = _sample()
    assert main(["explain", video, "--out", str(tmp_path / "ok"), "--method", "gradcam"]) == 0
    assert main(["explain", video, "--out", str(tmp_path / "bad"), "--target", "no such class"]) == 2
    assert "error: unknown class 'no such class'" in capsys.readouterr().err
    _plant_bug(monkeypatch)
    assert main(["explain", video, "--out", str(tmp_path / "bug")]) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "Traceback" in err and "broadcast" in err
    assert "error: operands" not in err  # not presented as the user's mistake


def test_app_reports_a_planted_bug_as_an_internal_error(monkeypatch, caplog):
    from demo.explain_tab import api as handlers
    from demo.page import INTERNAL_ERROR

    video, label = _sample()
    quiet = lambda *a, **k: None  # noqa: E731
    session = handlers.explain(video, label, core.DEFAULT_MODEL, "gradcam", "clip", "layer4", 0.5,
                               "uniform", progress=quiet)["session"]
    with pytest.raises(gr.Error) as user:
        handlers.retarget(session, "no such class", "gradcam", "clip", "layer4", 0.5)
    assert "unknown class 'no such class'" in user.value.message
    _plant_bug(monkeypatch)
    with pytest.raises(gr.Error) as bug:
        handlers.retarget(session, label, "gradcampp", "clip", "layer4", 0.5)
    assert bug.value.message == INTERNAL_ERROR
    assert any(r.exc_info and "broadcast" in str(r.exc_info[1]) for r in caplog.records)


def test_user_errors_are_one_family():
    for cls in (core.VideoError, core.WeightsError, core.UnknownModelError, core.SettingsError):
        assert issubclass(cls, UserError) and issubclass(cls, ValueError)
    with pytest.raises(core.UnknownModelError):
        core.get_spec("no_such_model")


# -- 10. switching the model drops the old model's clip ---------------------------------------

def test_a_layer_of_another_model_is_refused_for_the_sessions_clip():
    from demo.explain_tab import api as handlers
    from demo.explain_tab import clip, model_box
    from demo.settings import PageSettings

    video, label = _sample()
    quiet = lambda *a, **k: None  # noqa: E731
    session = handlers.explain(video, label, core.DEFAULT_MODEL, "gradcam", "clip", "layer4", 0.5,
                               "uniform", progress=quiet)["session"]
    s3d_layer = core.get_spec("s3d").default_layer  # what the Layer radio offers once s3d is picked
    with pytest.raises(gr.Error, match=f"'{s3d_layer}' is not a layer of {core.DEFAULT_MODEL}"):
        clip.refresh(session, label, PageSettings("gradcam", "clip", s3d_layer, 0.5))
    switched = model_box.switch_model("s3d")
    assert set(switched) == set(model_box.SWITCHED)
    assert switched["session"] is None  # the page forgets the old model's clip
    assert switched["layer"].value == s3d_layer
    assert switched["target"].choices[0][1] == core.get_spec("s3d").categories[0]
    assert all(v == gr.skip() for v in clip.refresh(None, label, PageSettings("gradcam", "clip", s3d_layer, 0.5)).values())
