"""The README and docs/ as a reader follows them: every internal link (a file, a file's #heading,
or a #heading of the same page) lands somewhere, the README's Python example runs as written and
writes nothing into the clone, and the tests write screenshots into docs/ only when asked."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target), ![alt](target)


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code (links there are not links)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(page: Path) -> set[str]:
    """The #anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to
    hyphens; a repeated heading gets -1, -2, ..."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M), re.M):
        text = re.sub(r"[*_`]|<[^>]+>", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading))
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_the_anchor_rule_is_githubs():
    page = ROOT / "README.md"
    assert {"limits", "python-api", "troubleshooting", "tests"} <= anchors(page)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_internal_link_lands(page):
    broken = []
    for target in _LINK.findall(_prose(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def test_every_page_of_docs_is_reachable_from_the_readme():
    linked = set()
    todo, seen = [ROOT / "README.md"], set()
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        for target in _LINK.findall(_prose(page.read_text())):
            path = target.partition("#")[0]
            if path and not re.match(r"[a-z][a-z0-9+.-]*:", path):
                dest = (page.parent / path).resolve()
                linked.add(dest)
                if dest.suffix == ".md" and dest.is_file():
                    todo.append(dest)
    orphans = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not orphans, f"docs pages no link reaches from the README: {orphans}"


def test_the_readmes_python_example_runs_and_writes_only_into_out(monkeypatch, tmp_path, capsys):
    import core

    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme[readme.index("\n## Python API"):], re.S).group(1)
    assert code.count('"clip.mp4"') == 1
    monkeypatch.setitem(__import__("sys").modules, "videocam", core)  # installed, core/ is `videocam`
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace('"clip.mp4"', repr(str(core.sample_clips()["dropping"]))), "README.md", "exec"), {})
    assert "Dropping [something]" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "the README's example writes outside out/ (git-ignored)"


def test_the_readmes_commands_write_into_ignored_folders():
    """Every ``--out DIR`` and ``save_*(..., "PATH")`` in the README's code lands in a git-ignored
    folder when run from the clone."""
    code = "\n".join(re.findall(r"```(?:bash|python)\n(.*?)```", (ROOT / "README.md").read_text(), re.S))
    outs = re.findall(r"--out\s+(\S+)", code) + re.findall(r"save_\w+\(.*?\"([^\"]+)\"\)", code)
    assert outs
    _ignored([o for o in outs if not o.startswith(("DIR", "/"))])


def _ignored(paths: list[str]) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git clone")
    done = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True)
    ignored = set(done.stdout.split())
    assert ignored == set(paths), f"not git-ignored: {sorted(set(paths) - ignored)}"


def test_screenshots_go_to_an_ignored_folder_unless_asked(monkeypatch):
    import app_server

    monkeypatch.delenv("VIDEOCAM_SCREENSHOTS", raising=False)
    default = app_server.screenshot_path("screenshot.png")
    _ignored([str(default.relative_to(ROOT))])
    monkeypatch.setenv("VIDEOCAM_SCREENSHOTS", "docs")
    assert app_server.screenshot_path("screenshot.png") == ROOT / "docs" / "screenshot.png"


def test_no_test_saves_a_screenshot_anywhere_but_screenshot_path():
    calls = []
    for path in (ROOT / "tests").glob("test_*.py"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "screenshot":
                where = next((k.value for k in node.keywords if k.arg == "path"), None)
                text = ast.get_source_segment(source, where) if where is not None else ""
                if not re.search(r"SCREENSHOT|screenshot_path", text or ""):
                    calls.append(f"{path.name}:{node.lineno}: {text}")
    assert not calls, f"save screenshots with app_server.screenshot_path: {calls}"


def test_the_readmes_cpu_torch_command_pins_what_requirements_txt_pins():
    # else pip, run after it, would replace the CPU build with the pinned CUDA one
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "download.pytorch.org/whl/cpu" in line and line.startswith("pip"))
    pins = dict(re.findall(r"\b(torch|torchvision)==([\w.]+)", (ROOT / "requirements.txt").read_text()))
    assert set(pins) == {"torch", "torchvision"}
    assert dict(re.findall(r"\b(torch|torchvision)==([\w.]+)", command)) == pins, (command, pins)


def test_the_readme_opens_with_two_commands_and_ci_installs_as_the_second_does():
    readme = (ROOT / "README.md").read_text()
    body = readme.split("\n---\n", 1)[-1]  # after the Space's front matter
    first_block = re.search(r"```bash\n(.*?)```", body, re.S)
    assert body.lstrip().startswith("# ") and first_block.start() < body.index("\n## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert len(commands) == 2 and commands[0].endswith("python app.py") and commands[1].endswith("python -m pytest")
    install = commands[1].split("&&")[0].split()  # pip install ARGS
    ci = next(line for line in (ROOT / ".ci" / "run").read_text().splitlines() if " pip install" in line)
    ci_args = [a for a in ci.split("#")[0].split("install", 1)[1].split() if a != "-q"]
    assert ci_args == install[2:], (ci_args, install)
