"""An explanation as files in a folder: :func:`explain_to_folder` (what ``python -m core explain``
writes) and ``result.json``, what was explained and how, beside the files it describes.

The CLI calls :func:`explain_to_folder`; it and the app's downloads write ``result.json`` through
:func:`write_result`, so both describe an explanation the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from .cam.result import Explanation
from .cam.settings import Method, Normalize, Pooling, Settings
from .errors import SettingsError
from .video import Clip

__all__ = ["ExplainedFolder", "explain_to_folder", "write_result"]

CAM_AXES = "targets, frames, height, width"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExplainedFolder:
    """What :func:`explain_to_folder` wrote, and the explanation it drew."""

    folder: Path
    files: tuple[Path, ...]  # cam.npy, then each target's drawings, in the order written
    result_json: Path
    explanation: Explanation
    clip: Clip
    trust: dict | None = None  # the trust checks (core.trust.trust_report), when asked for


def explain_to_folder(
    video: str | PathLike,
    out: str | PathLike,
    *,
    model: str | None = None,
    weights: str | PathLike | None = "default",
    device: str = "auto",
    amp: bool = False,
    targets: Sequence[int | str] | None = None,
    top_k: int | None = None,
    contrast: tuple[int | str, int | str] | None = None,
    method: str | None = None,
    pooling: str = Pooling.CLIP.value,
    normalize: str = Normalize.CLIP.value,
    layer: str | None = None,
    perturbation: dict | None = None,
    sampling: str | None = None,
    num_frames: int | None = None,
    fps: float | None = None,
    alpha: float = 0.5,
    trust: bool = False,
    announce: Callable[[Settings, int], Progress | None] | None = None,
) -> ExplainedFolder:
    """Explain ``video`` with ``model`` (a registered name or Hub id; default: the shipped model)
    and write into the folder ``out`` (made if missing): ``cam.npy`` (targets x frames x H x W at
    the sampled frames), ``combined.gif`` and ``heatmap.mp4`` for the first target,
    ``combined_K.gif`` for the others, and ``result.json``.

    ``targets`` / ``top_k`` / ``contrast`` pick the classes (``contrast=(A, B)``: why A rather
    than B); ``method`` left out is the model's measured default. ``pooling``, ``normalize``,
    ``layer`` and ``perturbation`` (occlusion's and RISE's fields, a dict) are
    :class:`~core.cam.Settings`; ``sampling``, ``num_frames`` and ``fps`` go to
    :func:`~core.video.read_clip`; ``alpha`` is the heatmap's opacity; ``trust`` adds the
    faithfulness checks to ``result.json``. ``announce(settings, forward_passes)``, called once
    before the model runs, may return a ``progress(done, total)`` for the run (the CLI's bar).
    Bad settings raise :class:`~core.errors.SettingsError` before anything is loaded.
    """
    from . import render
    from .cam import Explainer, resolve_device
    from .models import DEFAULT_MODEL, load_model
    from .video import read_clip

    if contrast is not None and (targets is not None or top_k is not None):
        raise SettingsError("give contrast= on its own, or targets=/top_k= on their own")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise SettingsError(f"alpha={alpha!r}; give the heatmap's opacity, a number from 0 to 1")
    options = {"pooling": pooling, "normalize": normalize, "layer": layer, "perturbation": perturbation}
    Settings(method=method or Method.GRADCAM.value, **options)  # refuse bad settings before loading anything
    t0 = time.perf_counter()
    device = resolve_device(device)
    model = load_model(model or DEFAULT_MODEL, weights=weights, device=device)
    t1 = time.perf_counter()
    clip = read_clip(video, model.spec, sampling=sampling, num_frames=num_frames, fps=fps)
    t2 = time.perf_counter()
    explainer = Explainer(model, amp=amp and device.type == "cuda", cache_size=1)
    settings, _ = explainer.settings_for(method=method, **options)  # a method left out: the model's default
    progress = announce(settings, explainer.forward_passes(clip, settings)) if announce else None
    exp = explainer.explain(clip, targets, top_k=top_k, contrast=contrast, method=method, **options,
                            progress=progress)
    t3 = time.perf_counter()
    out = Path(out)
    cams = exp.maps_on_frames()  # (K, T, H, W) over the sampled frames
    labels = [f"t={s:.2f}s  frame {i}" for s, i in zip(clip.timestamps, clip.indices, strict=True)]
    out.mkdir(parents=True, exist_ok=True)
    written = [render.save_npy(cams, out / "cam.npy")]
    for k, target in enumerate(exp.targets):
        files = ({"combined.gif": "combined.gif", "heatmap.mp4": "heatmap.mp4"} if k == 0
                 else {"combined.gif": f"combined_{k}.gif"})
        written += render.render_explanation(
            clip.frames, cams[k], out, files=files, alpha=alpha, labels=[f"{target.name} | {s}" for s in labels],
        ).values()
    t4 = time.perf_counter()
    extra = {"device": str(device)}
    if trust:
        from .trust import trust_report

        extra["trust"] = trust_report(explainer, clip, exp)
    extra["timings_ms"] = {
        "load_model": round((t1 - t0) * 1e3, 2), "decode": round((t2 - t1) * 1e3, 2),
        "explain": round((t3 - t2) * 1e3, 2), "render": round((t4 - t3) * 1e3, 2),
    }
    result = write_result(out, exp, clip, video=str(video), cams_shape=cams.shape,
                          cams_at={"at": "sampled frames (source resolution unless display_scale < 1)"},
                          files=[p.name for p in written], top_k=max(5, top_k or 0), **extra)
    return ExplainedFolder(out, tuple(written), result, exp, clip, extra.get("trust"))


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
