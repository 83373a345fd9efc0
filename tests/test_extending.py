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

# A throwaway perturbation method whose classifying pass keeps its graph: its registry entry alone
# brings it to the page's caps per request (its count of passes) and its Stop button (params), and
# to the engine's few kept graphs (keeps_graph); the timeline's and live view's --method offer the
# new Grad-CAM variant, not it.
_EVERYWHERE = """
import argparse

from core.attribution import Perturbation
from core.cam.registry import register_method
from core.live.run import add_arguments as live_arguments
from core.longvideo.run import add_arguments as timeline_arguments

from demo.explain_tab.clip import stop_shown, within_caps
from demo.settings import PageSettings


class Kept:
    def __init__(self, logits):
        self.logits = logits


def keep(explainer, x):
    with explainer.exclusive() as net:
        return Kept(net(x.to(explainer.device)))


@register_method("throwaway", label="Throwaway", params=Perturbation, passes=lambda params, shape: 10**9,
                 classify=keep, keeps_graph=True)
def throwaway(explainer, x, targets, params=None, *, progress=None, cancel=None, run=None):
    assert run is not None  # the engine hands its classifying pass over
    return torch.ones(len(targets), *x.shape[-3:]), {"forward_passes": 0}


for arguments in (timeline_arguments, live_arguments):
    parser = argparse.ArgumentParser()
    arguments(parser, lambda p, default=None: None)
    choices = next(a.choices for a in parser._actions if a.dest == "method")
    assert "gradcam_abs" in choices and "saliency" not in choices and "throwaway" not in choices, choices
try:
    within_caps(ex, x, core.Settings(method="throwaway"))
    raise AssertionError("within_caps let 10**9 forward passes through")
except core.SettingsError as e:
    assert "Throwaway with these settings runs 1,000,000,001 forward passes" in str(e), e
within_caps(ex, x, core.Settings(method="gradcam_abs"), times=4)  # one pass each: nothing to cap
assert stop_shown(PageSettings("throwaway", "clip"))["explain_stop"].visible
assert not stop_shown(PageSettings("saliency", "clip"))["explain_stop"].visible
kept = core.Explainer(model, cache_size=16)
for seed in range(3):
    kept.explain(torch.rand(1, 3, 16, 112, 112, generator=torch.Generator().manual_seed(seed)), 0, method="throwaway")
assert [k[1] for k in kept._classified] == ["throwaway"] * 2  # the newest two of its graphs stay
"""


def test_methods_added_as_the_page_says_give_maps_everywhere(tmp_path):
    (tmp_path / "my_methods.py").write_text(BLOCKS[2])
    script = (f"import core\nassert core.__file__.startswith({str(ROOT)!r}), core.__file__\n" + BLOCKS[3] + _MORE
              + _EVERYWHERE)  # a process of its own: the methods it registers go with it
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
