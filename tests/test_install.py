"""``pip install .`` and ``pip install -e .``: the library installs as the package ``videocam``
(never a top-level ``core``), with a ``videocam`` command, and finds its checkpoints and sample
clips wherever it is installed; the README's Python example and ``videocam explain`` run from
another folder.

The installs go into a fresh venv that sees the system's packages (``--system-site-packages``, so
torch is not downloaded), with ``--no-index``: every dependency must already be there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# what a build never reads (and what it writes: build/, *.egg-info), left out of the copy it builds from
_NOT_COPIED = shutil.ignore_patterns(".git", "runs", "data", "out", "build", "dist", "screenshots", ".venv",
                                     "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", ".benchmarks")


def test_every_package_of_core_is_in_the_wheel():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"]["videocam"] == "core"
    under_core = {"videocam" + ("." + ".".join(p.parent.relative_to(ROOT / "core").parts) if p.parent != ROOT / "core" else "")
                  for p in (ROOT / "core").rglob("__init__.py")}
    listed = set(setuptools["packages"])
    assert under_core <= listed, f"add {sorted(under_core - listed)} to pyproject.toml's packages"
    assert not any(p == "core" or p.startswith("core.") for p in listed)


def test_core_imports_itself_relatively():
    # installed, core/ is the package `videocam`: an `import core` inside it would fail there
    import ast

    absolute = []
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            absolute += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names if n.split(".")[0] in ("core", "demo", "lab")]
    assert not absolute, f"use relative imports (from .x import y) in core/: {absolute}"


def _readme_example(sample: Path) -> str:
    """The README's Python example (the first ```python block under "## Python API"), on a sample."""
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme[readme.index("\n## Python API"):], re.S).group(1)
    assert code.count('"clip.mp4"') == 1 and "import videocam" in code
    return code.replace('"clip.mp4"', repr(str(sample)))


def _venv(tmp_path: Path, *install: str) -> Path:
    """A fresh venv over the system's packages with ``pip install ARGS`` done; its bin/ folder."""
    venv = tmp_path / "venv"
    # --without-pip: the venv's own (older) setuptools would hide the system's one that torch requires
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # run from inside a venv (as the README suggests), --system-site-packages reaches the *base*
    # interpreter's packages, not this one's: point the new venv at this interpreter's too
    inner = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    outer = [p for p in sys.path if p.endswith("-packages") and Path(p).is_dir()]
    Path(inner, "_outer_site.pth").write_text("\n".join(outer) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index",
                    "--no-build-isolation", "--disable-pip-version-check", *install], check=True)
    return venv / "bin"


def _run_as_a_user(bin_dir: Path, elsewhere: Path, *, readme: bool = True) -> str:
    """The README's example (with ``readme``) and ``videocam explain`` in a folder that is not the
    clone; where ``videocam`` was imported from."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIDEOCAM_CHECKPOINTS")}
    python = str(bin_dir / "python")

    def run(*cmd: str) -> str:
        done = subprocess.run(cmd, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    where = run(python, "-c", "import sys, videocam; print(videocam.__file__); print(videocam.sample_clips()['dropping']);"
                              "print('core' in sys.modules)").split("\n")
    assert where[2] == "False", "importing videocam imported a top-level `core`"
    sample = Path(where[1])
    if readme:
        (elsewhere / "example.py").write_text(_readme_example(sample))
        out = run(python, "example.py")
        assert "Dropping [something]" in out and (elsewhere / "out" / "combined.gif").is_file()
    out = run(str(bin_dir / "videocam"), "explain", str(sample), "--out", "explained")
    assert {"combined.gif", "heatmap.mp4", "cam.npy", "result.json"} <= {p.name for p in (elsewhere / "explained").iterdir()}
    assert "Dropping [something]" in out
    return where[0]


@pytest.mark.slow
def test_the_wheel_installs_as_videocam_and_runs_the_readme_from_elsewhere(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_NOT_COPIED)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(tmp_path / "dist"), str(src)], check=True)
    wheel = next((tmp_path / "dist").glob("videocam-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"videocam", wheel.name.split("-py3")[0] + ".dist-info"}
    for shipped in (*(ROOT / "checkpoints").glob("*.safetensors"), ROOT / "demo" / "samples" / "index.json"):
        kind = "checkpoints" if shipped.suffix == ".safetensors" else "samples"
        assert f"videocam/{kind}/{shipped.name}" in names
    assert "videocam/models/measured.json" in names and "videocam/cli.py" in names

    bin_dir = _venv(tmp_path, str(wheel))
    (tmp_path / "elsewhere").mkdir()
    where = Path(_run_as_a_user(bin_dir, tmp_path / "elsewhere"))
    site = where.parent.parent
    assert where.parent.name == "videocam" and str(site).startswith(str(tmp_path / "venv"))
    assert not (site / "core").exists()


@pytest.mark.slow
def test_an_editable_install_runs_the_clones_code_from_elsewhere(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_NOT_COPIED)
    bin_dir = _venv(tmp_path, "-e", str(src))
    (tmp_path / "elsewhere").mkdir()
    where = _run_as_a_user(bin_dir, tmp_path / "elsewhere", readme=False)  # the wheel's test runs the README
    assert Path(where) == src / "core" / "__init__.py"
