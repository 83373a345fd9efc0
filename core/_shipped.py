"""Where the files that ship with videocam lie: the checkpoints and the sample clips.

In a clone they are beside ``core/`` (``checkpoints/``, ``demo/samples/``). Installed (``pip
install .``), this package is ``videocam`` and they are inside it (``videocam/checkpoints/``,
``videocam/samples/``: pyproject.toml's ``package-dir`` puts them there), so they are found
wherever it is installed. An editable install (``pip install -e .``) reads the clone's.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["CHECKPOINTS", "SAMPLES", "sample_clips"]

_PACKAGE = Path(__file__).resolve().parent  # core/ in a clone; site-packages/videocam/ installed


def _shipped(installed: str, in_clone: str) -> Path:
    inside = _PACKAGE / installed
    return inside if inside.is_dir() else _PACKAGE.parent / in_clone


CHECKPOINTS = _shipped("checkpoints", "checkpoints")
SAMPLES = _shipped("samples", "demo/samples")


def sample_clips() -> dict[str, Path]:
    """The shipped models' sample clips, one per class they know, by name: ``"dropping"`` ->
    ``.../dropping.mp4`` (``index.json`` beside them holds each clip's true label).

    >>> clip = core.read_clip(core.sample_clips()["dropping"], model.spec)
    """
    index = SAMPLES / "index.json"
    if not index.is_file():
        return {}
    return {Path(s["file"]).stem: SAMPLES / s["file"] for s in json.loads(index.read_text())}
