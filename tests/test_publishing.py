"""Publishing the Space as docs/space.md says: its upload commands parse with the current ``hf``
CLI and upload what the Space runs (and not the tests), every binary file goes to LFS/Xet on a
git push, and the CPU Space's torch pins follow requirements.txt's."""

from __future__ import annotations

import fnmatch
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "space.md"


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return [p for p in out.stdout.decode().split("\0") if p and (ROOT / p).is_file()]


def _hf_commands() -> list[list[str]]:
    """Every ``hf upload`` command in docs/space.md's bash blocks, as argv (after ``hf upload``)."""
    text = DOC.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if argv[:2] == ["hf", "upload"]:
                commands.append(argv[2:])
    return commands


def _parse(argv: list[str]) -> dict:
    """``hf upload``'s parameters for ``argv``, by the installed hf CLI's own parser (offline)."""
    click = pytest.importorskip("click")
    from huggingface_hub.cli.hf import app

    upload = app.get_command(click.Context(app), "upload")
    upload = upload.materialize() if hasattr(upload, "materialize") else upload
    return upload.make_context("upload", list(argv)).params


def test_the_documented_uploads_parse_and_send_what_the_space_runs():
    from huggingface_hub.utils import filter_repo_objects

    commands = _hf_commands()
    assert len(commands) >= 2, "docs/space.md lost its hf upload commands"
    app_upload = _parse(commands[0])
    assert app_upload["repo_type"] in ("space", "spaces") or str(app_upload["repo_type"]).endswith("space")
    assert app_upload["local_path"] == "." and app_upload["path_in_repo"] == "."
    sent = set(filter_repo_objects(_tracked(), ignore_patterns=list(app_upload["exclude"] or ())))
    needed = {"app.py", "requirements.txt", "README.md", "checkpoints/i3d_tiny14.safetensors",
              "demo/ui.py", "core/__init__.py", "demo/audit_sample/videos/1.webm"}
    assert needed <= sent, needed - sent
    assert not [p for p in sent if p.startswith(("tests/", "benchmarks/", ".ci/"))]
    for argv in commands[1:]:  # the CPU Space's torch: one file, uploaded under another name
        params = _parse(argv)
        assert (ROOT / params["local_path"]).is_file() and params["path_in_repo"] == "pre-requirements.txt"


def test_the_old_form_of_exclude_is_what_the_cli_refuses():
    """One --exclude followed by several patterns: the extra patterns are read as positional
    arguments and hf refuses them (what docs/space.md used to say)."""
    click = pytest.importorskip("click")
    with pytest.raises(click.UsageError):
        _parse(["USER/videocam", ".", ".", "--type", "space", "--exclude", "tests/*", "benchmarks/*", "x.py"])


def _lfs_patterns() -> list[str]:
    lines = (ROOT / ".gitattributes").read_text().splitlines()
    return [ln.split()[0] for ln in lines if ln.strip() and not ln.startswith("#") and "filter=lfs" in ln]


def _binary(path: Path) -> bool:
    head = path.read_bytes()[:8192]
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start < len(head) - 4  # not a multibyte character cut at the 8 KB boundary
    return False


def test_every_tracked_binary_file_goes_to_lfs():
    patterns = _lfs_patterns()
    binaries = [p for p in _tracked() if _binary(ROOT / p)]
    assert binaries, "no binary file found: the check would prove nothing"
    missed = [p for p in binaries if not any(fnmatch.fnmatch(Path(p).name, pat) for pat in patterns)]
    assert not missed, f"add their types to .gitattributes: {missed}"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_the_cpu_spaces_torch_pins_are_requirements_txts():
    cpu, main = _pins(ROOT / "pre-requirements-cpu.txt"), _pins(ROOT / "requirements.txt")
    assert set(cpu) == {"torch", "torchvision"}
    assert all(main.get(name) == version for name, version in cpu.items()), (cpu, main)
    assert "download.pytorch.org/whl/cpu" in (ROOT / "pre-requirements-cpu.txt").read_text()


def test_the_app_compiles_under_the_python_of_the_front_matter():
    """ZeroGPU runs Python 3.10 only (docs/space.md, "Versions"): the Space's front matter says so,
    and every source file the Space runs must compile there (no 3.11-only syntax)."""
    import shutil

    front = (ROOT / "README.md").read_text(encoding="utf-8").split("---")[1]
    version = re.search(r'python_version: "([0-9.]+)"', front).group(1)
    assert version == "3.10"
    candidates = [str(p) for p in Path.home().glob(f".pyenv/versions/{version}*/bin/python")]
    candidates += [p for p in (shutil.which(f"python{version}"),) if p]
    python = next((c for c in candidates if subprocess.run(
        [c, "-c", f"import sys; assert sys.version.startswith('{version}')"], capture_output=True, check=False,
    ).returncode == 0), None)
    if python is None:
        pytest.skip(f"no Python {version} on this machine to compile with")
    files = [str(p) for d in ("core", "demo") for p in (ROOT / d).rglob("*.py")] + [str(ROOT / "app.py")]
    code = "import sys, ast\nfor f in sys.argv[1:]:\n    ast.parse(open(f, encoding='utf-8').read(), f)\n"
    out = subprocess.run([python, "-c", code, *files], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
