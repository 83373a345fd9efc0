"""The app's models: what the Model dropdown offers, the Load box, a bounded set of loaded models
and what the page says about the shipped one. In process, no network: an empty or hand-made
Hugging Face cache in tmp_path, HF_HUB_OFFLINE=1."""

from __future__ import annotations

from collections import OrderedDict

import gradio as gr
import pytest
from torch import nn

import core
from demo import models
from demo.config import REAL_MODEL
from demo.explain_tab import api as handlers
from demo.explain_tab import model_box


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, hf_offline):
    monkeypatch.setattr(models, "_explainers", OrderedDict())
    monkeypatch.setattr(models, "_added", [])


def _cached_hub_model(tmp_path, repo_id: str = "org/tiny-videomae") -> str:
    """A tiny random VideoMAE laid out in the Hugging Face cache as a download leaves it."""
    transformers = pytest.importorskip("transformers")
    config = transformers.VideoMAEConfig(
        image_size=32, patch_size=16, num_frames=4, tubelet_size=2, hidden_size=32,
        num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, num_labels=2,
        id2label={0: "waving", 1: "clapping"}, label2id={"waving": 0, "clapping": 1})
    commit = "0" * 40
    repo = tmp_path / "hub" / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    transformers.AutoModelForVideoClassification.from_config(config).save_pretrained(
        repo / "snapshots" / commit)
    return repo_id


def test_the_dropdown_offers_env_models_as_given(monkeypatch, tmp_path):
    folder = str(tmp_path / "my model")
    monkeypatch.setattr(models, "EXTRA_MODELS", ("org/some-model", folder))
    offered = models.offered()
    assert offered[0] == core.DEFAULT_MODEL and offered[-2:] == ["org/some-model", folder]


def test_at_most_max_models_are_held_the_least_recently_used_goes(monkeypatch):
    class Net(nn.Module):
        def forward(self, x):
            return x.mean((2, 3, 4))

    def fake_load(name, **_):
        net = Net()
        net.spec = core.ModelSpec(name=name, categories=("a", "b", "c"), num_frames=2,
                                  input_size=(8, 8), mean=(0.5,) * 3, std=(0.5,) * 3,
                                  layers=(), default_layer="")
        return net

    monkeypatch.setattr(models, "MAX_MODELS", 2)
    monkeypatch.setattr(models.core, "load_model", fake_load)
    first = models.get_explainer("a")
    models.get_explainer("b")
    assert models.get_explainer("a") is first  # a used again: b is now the least recent
    models.get_explainer("c")
    assert models.loaded() == ["a", "c"]


def test_the_load_box_without_downloads_says_how_to_add_a_model(monkeypatch):
    monkeypatch.setattr(model_box, "ALLOW_DOWNLOADS", False)
    monkeypatch.setattr(models, "ALLOW_DOWNLOADS", False)
    with pytest.raises(gr.Error, match=r"does not download models.*VIDEOCAM_MODELS") as e:
        model_box.add_model("org/not-here")
    assert "`" not in e.value.message and "**" not in e.value.message  # a toast shows Markdown as typed
    with pytest.raises(gr.Error, match="Hub id first"):
        model_box.add_model("  ")
    for not_an_id in ("demo/samples", "/etc", "../checkpoints", "a/b/c"):  # no server paths, ever
        with pytest.raises(gr.Error, match="is not a Hugging Face Hub id"):
            model_box.add_model(not_an_id)


def test_the_load_box_loads_a_cached_model_offers_it_and_explains_with_it(tmp_path):
    repo_id = _cached_hub_model(tmp_path)
    out = model_box.add_model(repo_id, progress=lambda *a, **k: None)
    assert out["model"].value == repo_id and repo_id in out["model"].choices[-1]
    assert repo_id in models.offered()  # for every visitor from now on
    switched = model_box.switch_model(repo_id)
    assert switched["layer"].value == "layer.1" and "2 classes" in switched["explain_model_note"]
    from harness import samples

    clip_path, _ = samples()[0]
    result = handlers.explain(str(clip_path), "", repo_id, "gradcam", "clip", "layer.1", 0.5, "uniform",
                              progress=lambda *a, **k: None)
    assert result["session"].ranked[0][0] in {"waving", "clapping"}
    assert "layer `layer.1`" in result["explain_info"]


def test_the_shipped_model_says_what_it_knows_and_what_to_use_instead():
    text = models.note(core.DEFAULT_MODEL)
    assert "13 rendered actions" in text and REAL_MODEL in text and "MB" in text


@pytest.fixture
def served(monkeypatch, tmp_path):
    """The page built in this process, offering a tiny cached Hub model too, and a gradio_client
    session on it: ``(client, that model's id)``."""
    from gradio_client import Client

    from demo import ui

    repo_id = _cached_hub_model(tmp_path)
    monkeypatch.setattr(models, "EXTRA_MODELS", (repo_id,))
    page = ui.build_demo()
    page.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        yield Client(page.local_url, verbose=False, analytics_enabled=False,
                     download_files=tmp_path / "downloads"), repo_id
    finally:
        page.close()


@pytest.mark.slow
def test_an_api_client_that_names_only_the_model_gets_that_models_default_layer(served):
    """Bug f: /explain, /timeline and /explain_moment with model= and no layer= used the page's
    default model's layer ('layer4') and refused the request."""
    from gradio_client import handle_file

    from harness import EXPLAIN_OUTPUTS, samples

    client, repo_id = served
    video = handle_file(str(samples()[0][0]))
    out = dict(zip(EXPLAIN_OUTPUTS, client.predict(video, "", model=repo_id, api_name="/explain"),
                   strict=True))
    assert out["top2"]["confidences"][0]["label"] in {"waving", "clapping"}
    assert "layer `layer.1`" in out["info"]  # the tiny VideoMAE's default, not layer4
    _, info = client.predict("clapping", api_name="/retarget")  # the session's model's layer
    assert "layer `layer.1`" in info
    _, _, _, moment, _, info = client.predict(video, model=repo_id, api_name="/timeline")
    assert "waving" in info or "clapping" in info
    page = dict(zip(EXPLAIN_OUTPUTS, client.predict(video, moment["value"], model=repo_id,
                                                    api_name="/explain_moment"), strict=False))
    assert "layer `layer.1`" in page["info"]


def test_downloads_are_allowed_by_default_except_on_a_space():
    from demo.config import allow_downloads

    assert allow_downloads({}) is True  # your own machine: the Load box fetches a Hub id
    assert allow_downloads({"SPACE_ID": "user/videocam"}) is False  # a public Space: only when asked
    assert allow_downloads({"SPACE_ID": "user/videocam", "VIDEOCAM_ALLOW_DOWNLOADS": "1"}) is True
    assert allow_downloads({"VIDEOCAM_ALLOW_DOWNLOADS": "0"}) is False
    # served to the network (a container, a VPS): anyone could make it fetch any repository
    assert allow_downloads({"GRADIO_SERVER_NAME": "0.0.0.0"}) is False
    assert allow_downloads({"GRADIO_SERVER_NAME": "0.0.0.0", "VIDEOCAM_ALLOW_DOWNLOADS": "1"}) is True


def test_the_load_box_with_downloads_says_so_and_how_to_turn_them_off(monkeypatch):
    monkeypatch.setattr(models, "ALLOW_DOWNLOADS", True)
    text = models.how_to_add()
    assert "downloaded once" in text and "VIDEOCAM_ALLOW_DOWNLOADS=0" in text


def test_missing_models_are_one_line_not_a_row_with_a_cache_path_each():
    from demo.explain_tab.layout import models_note as _models_note

    missing = [m for m in models.model_choices() if not m.available]
    note = _models_note(missing)
    assert len(note.splitlines()) == 1 and "/" not in note.replace("python -m core models", "")
    assert all(m.name in note for m in missing)
