"""The shape of the tree: ``lab`` imports ``core``, never the reverse, and no module of either
imports itself back through others. Read statically with ``ast`` (nothing is imported), counting
every import a module makes, those inside functions too: a lazy import still closes a circle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "lab")


def _modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of :data:`PACKAGES` under ``root``
    (a package is named by its ``__init__.py``)."""
    found = {}
    for top in PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> list[str]:
    """The dotted names one import statement of ``module`` loads: a module, or for ``from p import
    x``, the submodule ``p.x`` when there is one, else ``p`` (a name its ``__init__`` defines)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:  # relative: from the module's package, one level up per extra dot
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def _imports(root: Path) -> tuple[set[str], dict[str, set[str]]]:
    """(the modules, module -> every dotted name under core or lab it imports, anywhere in its body)."""
    modules = _modules(root)
    known = set(modules)
    found = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        found[name] = {t for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                       for t in _imported(node, name, is_package, known)
                       if t.split(".")[0] in PACKAGES and t != name}
    return known, found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of core and lab it imports. Importing ``p.x`` runs ``p/__init__``
    first; that is not counted as an edge (else every package that re-exports would be a circle)."""
    known, imports = _imports(root)
    return {m: {t for t in ts if t in known} for m, ts in imports.items()}


def dangling(root: Path = ROOT) -> dict[str, list[str]]:
    """Module -> the names under core or lab it imports that are no module there (a left-over of a move)."""
    known, imports = _imports(root)
    found = {m: sorted(t for t in ts if t not in known) for m, ts in imports.items()}
    return {m: ts for m, ts in found.items() if ts}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_reader_sees_relative_lazy_and_package_imports(tmp_path):
    files = {
        "core/__init__.py": "from .a import f\n",
        "core/a.py": "def f():\n    from . import b\n",  # lazy, and "from . import" a submodule
        "core/b.py": "from core import f\nfrom .sub import g\n",  # a name of the package: its __init__
        "core/sub/__init__.py": "from ..a import f as g\n",
        "lab/__init__.py": "",
        "lab/x.py": "import core.sub\nfrom core.a import f\nimport numpy\n",
        "lab/y.py": "from core.gone import f\nfrom lab import x, nothing\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert graph == {"core": {"core.a"}, "core.a": {"core.b"}, "core.b": {"core", "core.sub"},
                     "core.sub": {"core.a"}, "lab": set(), "lab.x": {"core.sub", "core.a"},
                     "lab.y": {"lab", "lab.x"}}
    assert cycles(graph) == [["core", "core.a", "core.b", "core.sub"]]
    assert dangling(tmp_path) == {"lab.y": ["core.gone"]}


def test_core_never_imports_lab():
    graph = import_graph()
    assert any(m.startswith("lab.") for m in graph), "the lab is a top-level package beside core"
    wrong = {m: sorted(t for t in ts if t.split(".")[0] == "lab") for m, ts in graph.items() if m.split(".")[0] == "core"}
    assert not {m: ts for m, ts in wrong.items() if ts}


def test_no_import_circle_in_core_or_lab():
    assert cycles(import_graph()) == []


def test_every_import_of_core_or_lab_names_a_module():
    assert dangling() == {}


# -- what `import core` and the CLI load (item 5 of issue 22) ------------------------------------

HEAVY = ("matplotlib", "torchvision", "transformers", "gradio", "lab", "sympy")


def _loaded(code: str) -> set[str]:
    """The top-level packages among :data:`HEAVY` that a fresh interpreter running ``code`` loaded."""
    import subprocess
    import sys

    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True)
    return set(out.stdout.splitlines()[-1].split()) & set(HEAVY)


def test_import_core_loads_no_heavy_package():
    assert _loaded("import core") == set()
    # the names are there all the same, loaded on first use
    assert _loaded("import core; core.Explainer; core.read_clip; core.load_model") == set()
    # and its submodules, as an eager package has them
    assert _loaded("import core; core.video.read_frames; core.render.save_gif; core.longvideo.scan") == set()


def test_explaining_a_sample_from_the_cli_loads_no_plotting_model_zoo_or_sympy(tmp_path):
    # matplotlib (plots), torchvision (its import loads the model zoo and torch._dynamo) and sympy
    # (torch imports it for a backward given `grad_outputs`) cost more than the explanation itself
    code = ("from core.cli import main\n"
            f"assert main(['explain', 'demo/samples/dropping.mp4', '--out', {str(tmp_path)!r}]) == 0")
    assert _loaded(code) == set()
    assert (tmp_path / "result.json").exists()
