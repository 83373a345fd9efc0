"""Per-session state and per-request output folders. Nothing here is shared between users.

A :class:`Session` lives in the user's ``gr.State``: the decoded clip (so a new class, method or
opacity never decodes again) and the frames at GIF size. The shared Explainer caches the forward
pass by the clip's pixels, so handing it the same clip again is what makes the class dropdown
instant. Output files go to a fresh, unguessable folder inside Gradio's cache per request, so
Gradio serves them. Gradio's ``delete_cache`` only removes files it copied into its cache itself
(uploads), not files a handler wrote there, so :func:`start_sweeper` removes request folders once
they are older than the configured age.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import core

log = logging.getLogger(__name__)


class Stop:
    """The page's Stop button, one per session (in a ``gr.State``): a running occlusion or RISE
    checks it between batches of forward passes (``Explainer.explain(cancel=...)``)."""

    def __init__(self):
        self.requested = False

    def start(self):
        """A new run: forget an earlier Stop; the run's cancel check."""
        self.requested = False
        return lambda: self.requested


@dataclass(frozen=True)
class Session:
    model: str
    video_name: str  # the file's base name (never the server path) for result.json
    true_label: str | None
    clip: core.Clip  # frames at working resolution (see working_clip)
    display: np.ndarray  # (T, h, w, 3) uint8, the same frames at GIF size
    ranked: tuple[tuple[str, float], ...]  # every class with its probability, best first


def request_dir(root: str | Path) -> Path:
    """A new private folder for one request's files under ``root`` (Gradio's cache)."""
    base = Path(root) / "videocam"
    base.mkdir(parents=True, exist_ok=True)
    out = base / uuid.uuid4().hex
    out.mkdir()
    return out


def sweep(root: str | Path, age_s: float) -> int:
    """Delete the request folders under ``root`` last written more than ``age_s`` ago (by their
    files, :func:`_last_write`); how many.
    Also the empty ``tmp*`` files Gradio's upload route leaves at the top of ``root`` (one per
    uploaded file that it moved elsewhere: issue 37 saw one per /audit upload)."""
    cutoff, removed = time.time() - age_s, 0
    with contextlib.suppress(OSError), os.scandir(root) as entries:
        for e in entries:
            with contextlib.suppress(OSError):
                st = e.stat(follow_symlinks=False)
                if e.name.startswith("tmp") and e.is_file(follow_symlinks=False) and not st.st_size \
                        and st.st_mtime < cutoff:
                    os.unlink(e.path)
    base = Path(root) / "videocam"
    if not base.is_dir():
        return 0
    with os.scandir(base) as entries:
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False) and _last_write(e) < cutoff:
                    shutil.rmtree(e.path)
                    removed += 1
            except OSError:  # a folder being written or already gone: next round
                continue
    return removed


def _last_write(folder: os.DirEntry) -> float:
    """When anything in a request folder was last written: its files' newest mtime (the folder's
    own when it holds none). Not the folder's own mtime: Gradio's ``delete_cache`` removing the
    outputs it served from the folder bumps that, and a scan's spooled frames (~62 MB) then stayed
    a second hour (issue 37)."""
    newest = None
    for top, _, files in os.walk(folder.path):
        for name in files:
            with contextlib.suppress(OSError):
                t = os.stat(os.path.join(top, name), follow_symlinks=False).st_mtime
                newest = t if newest is None else max(newest, t)
    return folder.stat(follow_symlinks=False).st_mtime if newest is None else newest


def release_memory() -> None:
    """Hand memory freed by expired sessions back to the system (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def start_sweeper(root: str | Path, frequency_s: float, age_s: float) -> threading.Thread:
    """Every ``frequency_s`` seconds, in a daemon thread (it dies with the server): :func:`sweep`
    old request folders, then :func:`release_memory`."""
    def loop():
        while True:
            time.sleep(frequency_s)
            try:
                n = sweep(root, age_s)
                if n:
                    log.info("removed %d request folders older than %.0f s", n, age_s)
                release_memory()
            except Exception:  # never let clean-up take the server down
                log.exception("sweeping %s failed", root)

    thread = threading.Thread(target=loop, name="videocam-sweeper", daemon=True)
    thread.start()
    return thread
