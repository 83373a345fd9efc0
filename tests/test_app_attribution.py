"""The attribution methods on the page and through the API (issue 23, phase 2): the shipped model,
occlusion with a big window, RISE with few masks; the method choice follows the model; the cost is
shown before the run; Stop ends a run between batches."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pytest

import core
from core.cam.settings import ATTENTION_METHODS
from demo.explain_tab import api as handlers
from demo.explain_tab import model_box
from demo.settings import PageSettings
from demo.state import Stop
from harness import EXPLAIN_OUTPUTS, samples


def _quiet(*_, **__):
    pass


def _result(files) -> dict:
    return json.loads(Path(next(f for f in files if f.endswith("result.json"))).read_text())


def test_occlusion_and_rise_on_the_page_record_what_they_ran():
    video, label = samples()[0]
    page = handlers.explain(str(video), label, core.DEFAULT_MODEL, "occlusion", "clip", None, 0.5, None,
                            window="8 56 56", stride="4 28 28", baseline="mean", stop=Stop(), progress=_quiet)
    result = _result(page["explain_files"])
    assert result["method"] == "occlusion" and result["forward_passes"] == 1 + 3 * 3 * 3 + 1
    assert result["method_params"] == {"window": [8, 56, 56], "stride": [4, 28, 28], "baseline": "mean",
                                       "batch_size": 16}
    assert "Occlusion, 29 forward passes" in page["explain_info"]
    session = page["session"]
    top = handlers.top5(session, "rise", "clip", None, 0.5, masks=8, window="4 28 28")["explain_top5"]
    assert len(top) == 5  # the top-5 strip, each class's RISE map
    retarget = handlers.retarget(session, session.ranked[1][0], "rise", "clip", None, 0.5, masks=8, window="4 28 28")
    # another class of the same clip: its masks again, the classifying pass kept (issue 39)
    assert "RISE, 8 forward passes · cached forward pass" in retarget["explain_info"]


def test_the_cost_is_said_before_the_run_and_stop_ends_it():
    cost = model_box.cost(core.DEFAULT_MODEL, PageSettings("rise", masks=40, window="4 28 28", stride="", baseline="blur"))["explain_cost"]
    assert cost.startswith("**41 forward passes**, about ") and "ms per clip with its masking, measured" in cost
    assert model_box.cost(core.DEFAULT_MODEL, PageSettings("gradcam"))["explain_cost"] == ""
    assert "does not divide window" in model_box.cost(core.DEFAULT_MODEL, PageSettings("occlusion", window="4 28 28", stride="3 28 28"))["explain_cost"]
    video, _ = samples()[0]
    stop = Stop()

    def press_stop(*_, desc="", **__):
        if "forward passes" in desc:
            stop.requested = True

    with pytest.raises(gr.Error, match="rise cancelled after 16 of 64 forward passes"):
        handlers.explain(str(video), "", core.DEFAULT_MODEL, "rise", "clip", None, 0.5, None, masks=64,
                         window="4 28 28", stop=stop, progress=press_stop)


def test_the_method_choice_follows_the_model_and_its_measured_default():
    from dataclasses import replace

    cnn = core.get_spec(core.DEFAULT_MODEL)
    shown = [v for _, v in model_box.method_choice(cnn).choices]
    assert not set(shown) & set(ATTENTION_METHODS) and model_box.method_choice(cnn).value == cnn.default_method
    transformer = replace(cnn, token_grid=(8, 7, 7), default_method="relevance")
    assert [v for _, v in model_box.method_choice(transformer).choices] == [m.value for m in core.Method]
    assert model_box.method_choice(transformer).value == "relevance"
    # a default that does not apply to the model (a stale record) falls back to Grad-CAM
    assert model_box.method_choice(replace(cnn, default_method="rollout")).value == "gradcam"
    switched = model_box.switch_model(core.DEFAULT_MODEL)
    assert switched["method"].value == cnn.default_method
    assert switched["explain_measured"] == model_box.measured(core.DEFAULT_MODEL, PageSettings(cnn.default_method))["explain_measured"]


def test_the_stop_button_cancels_the_model_work():
    from demo.ui import build_demo

    config = build_demo().config
    by_id = {d["id"]: d for d in config["dependencies"]}
    stop = next(d for d in config["dependencies"] if d.get("api_name") == "stop")
    # Gradio adds the cancelling as a second event on the same click
    cancelled = {by_id[i]["api_name"] for d in config["dependencies"] if d["targets"] == stop["targets"]
                 for i in d["cancels"]}
    assert {"explain", "trust", "explain_moment"} <= cancelled


@pytest.mark.slow
def test_the_api_takes_the_method_names(client):
    from gradio_client import handle_file

    video, _ = samples()[0]
    for kwargs, passes in (({"method": "occlusion", "window": "16 112 112"}, 3), ({"method": "rise", "masks": 4}, 5)):
        out = dict(zip(EXPLAIN_OUTPUTS, client.predict(handle_file(str(video)), "", **kwargs, api_name="/explain"),
                       strict=True))
        result = _result(out["files"])
        assert result["method"] == kwargs["method"] and result["forward_passes"] == passes
