"""core.explain_to_folder: the library call behind ``python -m core explain`` (the command's own
files, messages and exit codes are tests/test_cli.py's)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import core
from core import export
from core.errors import SettingsError, VideoError
from harness import samples


def test_explain_to_folder_writes_what_it_returns_and_result_json_says(default_checkpoint, tmp_path):
    video = samples()[0][0]
    calls = []

    def announce(settings, passes):
        calls.append((settings.method.value, passes))
        return None

    done = core.explain_to_folder(video, tmp_path / "new" / "out", top_k=2, method="occlusion",
                                  perturbation={"window": (4, 56, 56)}, announce=announce)
    out = tmp_path / "new" / "out"
    assert isinstance(done, export.ExplainedFolder) and done.folder == out and done.trust is None
    names = [p.name for p in done.files]
    assert names == ["cam.npy", "combined.gif", "heatmap.mp4", "combined_1.gif"]  # the first target's video only
    assert all(p.parent == out and p.stat().st_size > 0 for p in done.files)
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "result.json"]), "nothing else is written"
    result = json.loads(done.result_json.read_text())
    assert result["files"] == sorted([*names, "result.json"]) and result["video"] == str(video)
    assert result["method"] == "occlusion" and len(done.explanation.targets) == 2
    assert [t["label"] for t in result["targets"]] == [t.name for t in done.explanation.targets]
    assert np.load(out / "cam.npy").shape == (2, done.clip.num_frames, *done.clip.source_size)
    # announce saw the settings and the count of passes before the run, as the CLI prints them
    assert calls == [("occlusion", core.Explainer(core.load_model()).forward_passes(
        done.clip, done.explanation.settings))]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"method": "nope"}, "method="),
    ({"pooling": "sideways"}, "pooling="),
    ({"alpha": 1.5}, "alpha="),
    ({"contrast": (0, 1), "top_k": 2}, "contrast="),
])
def test_bad_settings_are_refused_before_a_model_is_loaded_or_a_file_written(kwargs, words, tmp_path, monkeypatch):
    def no_loading(*args, **kw):
        raise AssertionError("the model was loaded before the settings were checked")

    monkeypatch.setattr(core.models, "load_model", no_loading)
    with pytest.raises(SettingsError, match=words):
        core.explain_to_folder(samples()[0][0], tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_a_bad_video_is_a_video_error_and_leaves_no_folder(default_checkpoint, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"<html>not a video</html>")
    with pytest.raises(VideoError, match="not a video"):
        core.explain_to_folder(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()
