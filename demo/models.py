"""Which models the app offers, and the loaded models (one Explainer each), shared by all users.

Loading is lazy (the first request for a model pays it) and guarded by a lock per name, so two
first requests never load the same weights twice. At most ``MAX_MODELS`` are held; loading one
more drops the least recently used. Nothing is downloaded unless the server allows it
(``VIDEOCAM_ALLOW_DOWNLOADS``, see config.py).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import core

from .config import ALLOW_DOWNLOADS, EXTRA_MODELS, MAX_MODELS, REAL_MODEL, REAL_MODEL_ABOUT
from .zerogpu import main_device

log = logging.getLogger(__name__)

_CACHE_SIZE = 16  # forward passes kept per model: enough for several users' class dropdowns
_CACHE_BYTES = 256 * 2**20  # and no more than this per model (a Hub model's graph can be hundreds of MB)


@dataclass(frozen=True)
class ModelChoice:
    name: str
    available: bool
    where: str  # the weights file, or how to get it


def _status(name: str) -> ModelChoice:
    try:
        ok, where = core.weights_status(name)
    except Exception as e:  # a broken entry must not take the page down
        log.warning("weights_status(%s) failed: %s", name, e)
        ok, where = False, str(e)
    return ModelChoice(name, ok, where)


def model_choices() -> list[ModelChoice]:
    """Every registered model, the shipped default first, with whether its weights are here."""
    return [_status(name) for name in core.list_models()]


_lock = threading.Lock()
_added: list[str] = []  # loaded through the page's "Load a model" box, for every visitor


def offered() -> list[str]:
    """The Model dropdown's choices: the registered models whose weights are here, then
    VIDEOCAM_MODELS as given, then those loaded from the page since the server started."""
    names = [m.name for m in model_choices() if m.available]
    with _lock:
        extra = [*EXTRA_MODELS, *_added]
    return list(dict.fromkeys([*names, *extra]))


def remember(name: str) -> None:
    """Offer ``name`` to every visitor from now on (it was loaded through the page)."""
    with _lock:
        if name not in _added and name not in EXTRA_MODELS:
            _added.append(name)


_name_locks: dict[str, threading.Lock] = {}
_explainers: OrderedDict[str, core.Explainer] = OrderedDict()
_names: weakref.WeakKeyDictionary[core.Explainer, str] = weakref.WeakKeyDictionary()


def get_explainer(name: str) -> core.Explainer:
    """The shared Explainer of model ``name``, loaded on first use (raises a core.UserError when
    it cannot be: unknown, not cached and no downloads allowed, pickle-only weights, ...)."""
    with _lock:
        ex = _explainers.get(name)
        if ex is not None:
            _explainers.move_to_end(name)
            return ex
        name_lock = _name_locks.setdefault(name, threading.Lock())
    with name_lock:
        with _lock:
            ex = _explainers.get(name)
        if ex is None:
            device = core.resolve_device(main_device())  # on ZeroGPU the CPU: see demo/space.py
            model = core.load_model(name, device=device, download=ALLOW_DOWNLOADS)
            ex = core.Explainer(model, cache_size=_CACHE_SIZE, cache_bytes=_CACHE_BYTES)
            _names[ex] = name
            log.info("loaded %s on %s", name, device)
            with _lock:
                _explainers[name] = ex
                while len(_explainers) > MAX_MODELS:
                    dropped, _ = _explainers.popitem(last=False)
                    log.info("dropped %s: more than %d models loaded", dropped, MAX_MODELS)
        return ex


def name_of(explainer: core.Explainer) -> str:
    """The name ``explainer`` was loaded by (what a ZeroGPU call sends instead of the model)."""
    return _names[explainer]


def loaded() -> list[str]:
    """Names of the models held now, least recently used first."""
    with _lock:
        return list(_explainers)


def _size_mb(name: str) -> float | None:
    ok, where = core.weights_status(name)
    path = Path(where)
    if not ok or not path.exists():
        return None
    files = [path] if path.is_file() else [*path.glob("*.safetensors")]
    return sum(f.stat().st_size for f in files) / 1e6  # MB, as file sizes are quoted


def note(name: str, spec: core.ModelSpec | None = None) -> str:
    """What the page says under the Model dropdown about ``name`` (``spec``: its spec, when the
    caller has read it already)."""
    if name == core.DEFAULT_MODEL:
        size = _size_mb(name)
        how = ("type its id under *Load a model*" if ALLOW_DOWNLOADS else
               "see *Load a model* for how to add it")
        return (f"**{name}** is a demonstration model ({f'{size:.1f} MB' if size else 'shipped'}): "
                "it knows only the 13 rendered actions of the sample clips, so on real footage "
                f"its answers mean little. For real videos pick a real model, e.g. `{REAL_MODEL}` "
                f"({REAL_MODEL_ABOUT}): {how}.")
    if spec is None:
        try:
            spec = core.get_spec(name)
        except core.UserError as e:
            return f"**{name}**: {e}"
    size = _size_mb(name)
    return (f"**{name}**: {spec.description}; {len(spec.categories)} classes, "
            f"{spec.num_frames} frames of {spec.input_size[0]}×{spec.input_size[1]}"
            + (f", {size:.0f} MB" if size else "") + ".")


def how_to_add(plain: bool = False) -> str:
    """The Load box's text: what it does on this server (``plain``: without Markdown, for a toast,
    which shows it as typed)."""
    if ALLOW_DOWNLOADS:
        text = ("Type a Hugging Face Hub id of a video classifier (VideoMAE, TimeSformer or ViViT "
                f"with safetensors weights), e.g. `{REAL_MODEL}`, and press **Load**: it is "
                f"downloaded once, then offered to everyone. Up to {MAX_MODELS} models are held in "
                "memory at once; loading another drops the least recently used. (Downloads are on "
                "because this is not a public Space; `VIDEOCAM_ALLOW_DOWNLOADS=0` turns them off.)")
    else:
        text = ("This server does not download models. To add one, run `python -m core download ID` "
                "on it (where there is a connection), or start it with `VIDEOCAM_MODELS=ID[,ID...]` "
                "(Hub ids or save_pretrained folders) and, on a Space, `VIDEOCAM_ALLOW_DOWNLOADS=1`. "
                f"Models already on this machine can be loaded here. Up to {MAX_MODELS} models are "
                "held in memory at once.")
    return text.replace("`", "").replace("**", "") if plain else text
