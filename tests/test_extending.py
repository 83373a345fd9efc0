"""docs/extending.md works as written: its code blocks add a model family and a CAM method."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import core
from core.models import registry
from core.trust import sanity_order

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "extending.md").read_text(), re.S)


def test_the_page_has_its_five_blocks():
    assert len(BLOCKS) == 5, "docs/extending.md: family, its use, enum member, method function, its use"


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


def _add_enum_member(settings: Path, member: str) -> None:
    lines = settings.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("class Method("))
    last = start
    for i in range(start + 1, len(lines)):
        if lines[i].strip() and not lines[i].startswith(" "):
            break
        if re.match(r"    [A-Z_]+ = ", lines[i]):
            last = i
    lines.insert(last + 1, member if member.endswith("\n") else member + "\n")
    settings.write_text("".join(lines))


def test_a_method_added_as_the_page_says_gives_a_map(tmp_path):
    shutil.copytree(ROOT / "core", tmp_path / "core", ignore=shutil.ignore_patterns("__pycache__"))
    _add_enum_member(tmp_path / "core" / "cam" / "settings.py", BLOCKS[2])
    methods = tmp_path / "core" / "cam" / "methods.py"
    methods.write_text(methods.read_text() + "\n\n" + BLOCKS[3])
    script = f"import core\nassert core.__file__.startswith({str(tmp_path)!r}), core.__file__\n" + BLOCKS[4]
    script += "assert ('Grad-CAM, |gradient|', 'gradcam_abs') in core.Method.choices()\n"
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "VIDEOCAM_CHECKPOINTS": str(ROOT / "checkpoints")}
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
