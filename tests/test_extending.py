"""docs/extending.md works as written: its code blocks add a model family and two methods (one file each)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import core
from core.models import registry
from core.trust import sanity_order

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "extending.md").read_text(), re.S)


def test_the_page_has_its_four_blocks():
    assert len(BLOCKS) == 4, "docs/extending.md: family, its use, the methods' file, its use"


def test_a_family_added_as_the_page_says_is_listed_loaded_and_explained(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))  # the test's registrations go away
    family, use = BLOCKS[0], BLOCKS[1]
    exec(compile(family, "docs/extending.md: family", "exec"), {"__name__": "tiny_conv"})
    exec(compile(use, "docs/extending.md: use", "exec"), {"__name__": "use"})
    spec = core.get_spec("tiny_conv")
    assert spec.categories == ("waving", "clapping") and spec.layout == core.models.Layout.CHANNELS_FIRST
    assert sanity_order(core.load_model("tiny_conv", weights=None)) == ["fc", "conv2", "conv1"]
    with pytest.raises(ValueError, match="already registered"):
        exec(compile(family, "docs/extending.md: family", "exec"), {"__name__": "tiny_conv"})


# What the use block does not show: the CLI offers the new methods, the page's list (methods_for)
# has them for a CNN, the new members behave like the others, and the count of passes is the one
# registered.
_MORE = """
import pickle

from core.cam.registry import method_entry, methods_for
from core.cli import _parser

args = _parser().parse_args(["explain", "clip.mp4", "--method", "saliency", "--out", "out"])
assert args.method == "saliency"
assert core.Method("saliency") is core.Method.SALIENCY is pickle.loads(pickle.dumps(core.Method.SALIENCY))
assert core.Settings(method="gradcam_abs").method is core.Method.GRADCAM_ABS and str(core.Method.SALIENCY) == "saliency"
assert list(core.Method)[-2:] == [core.Method.GRADCAM_ABS, core.Method.SALIENCY]
assert {core.Method.GRADCAM_ABS, core.Method.SALIENCY} <= set(methods_for(model.spec))
assert method_entry("saliency").forward_passes(None, x.shape) == 1 and not method_entry("saliency").needs_layer
"""


def test_methods_added_as_the_page_says_give_maps_everywhere(tmp_path):
    (tmp_path / "my_methods.py").write_text(BLOCKS[2])
    script = f"import core\nassert core.__file__.startswith({str(ROOT)!r}), core.__file__\n" + BLOCKS[3] + _MORE
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
           "VIDEOCAM_CHECKPOINTS": str(ROOT / "checkpoints")}
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


def test_a_method_is_registered_once_and_a_new_one_needs_a_label():
    from core.cam.registry import register_method

    with pytest.raises(ValueError, match="already registered"):
        register_method("gradcam", needs_layer=True)(lambda A, G, dims: A)
    with pytest.raises(ValueError, match="give label="):
        register_method("not_a_method_yet")(lambda *a, **k: None)
    with pytest.raises(ValueError, match="lower-case"):
        register_method("Bad Name", label="bad")(lambda *a, **k: None)
    assert "not_a_method_yet" not in {m.value for m in core.Method}


def test_every_method_is_registered_and_the_groups_agree_with_the_entries():
    from core.cam.registry import registered
    from core.cam.settings import ATTENTION_METHODS, PERTURBATION_METHODS

    entries = registered()
    assert list(entries) == list(core.Method)
    assert [m for m, e in entries.items() if e.needs_layer] == [core.Method(m) for m in core.METHODS]
    assert tuple(m for m, e in entries.items() if e.needs_tokens) == ATTENTION_METHODS
    assert tuple(m for m, e in entries.items() if e.params is not None) == PERTURBATION_METHODS
    assert [m for m, e in entries.items() if e.class_agnostic] == [core.Method.ROLLOUT]
