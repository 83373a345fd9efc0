"""``result.json``: what was explained and how, beside the files it describes.

The CLI (``python -m core explain``) and the app's downloads write it through
:func:`write_result`, so both describe an explanation the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

from .cam.result import Explanation
from .video import Clip

__all__ = ["write_result"]

CAM_AXES = "targets, frames, height, width"


def write_result(out_dir: str | PathLike, exp: Explanation, clip: Clip, *, video: str,
                 cams_shape: Iterable[int], cams_at: dict, files: Iterable[str], top_k: int = 5,
                 **extra) -> Path:
    """Write ``out_dir/result.json`` and return its path.

    ``video``: the name to record (the app gives the file's base name, never a server path);
    ``cams_shape`` / ``cams_at``: the shape of ``cam.npy`` and what its frames are (``{"at": ...}``
    plus e.g. ``frame_size``); ``files``: the names of the files written beside it; ``extra``:
    more top-level fields (``true_label``, ``opacity``, ``device``, ``trust``, ...). Timings in
    ``extra["timings_ms"]`` are added to the engine's.
    """
    timings = extra.pop("timings_ms", {})
    record = {"video": video, **exp.to_dict(top_k=top_k), **extra}
    record["timings_ms"].update(timings)
    record.update({
        "source_size": list(clip.source_size),
        "source_fps": clip.source_fps,
        "duration_s": clip.duration,
        "sampling": clip.sampling,
        "display_scale": clip.display_scale,
        "cam_npy": {"shape": list(cams_shape), "axes": CAM_AXES, **cams_at},
        "files": sorted({*files, "result.json"}),
    })
    path = Path(out_dir) / "result.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
