"""Which models the app offers, and one loaded model + Explainer per name, shared by all users.

Loading is lazy (the first request for a model pays it), cached, and guarded by a lock per name so
two first requests never load the same weights twice. Nothing is ever downloaded here.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import core

log = logging.getLogger(__name__)

_CACHE_SIZE = 16  # forward passes kept per model: enough for several users' class dropdowns


@dataclass(frozen=True)
class ModelChoice:
    name: str
    available: bool
    where: str  # the weights file, or how to get it


def model_choices() -> list[ModelChoice]:
    """Every registered model, the shipped default first, with whether its weights are here."""
    out = []
    for name in core.list_models():
        try:
            ok, where = core.weights_status(name)
        except Exception as e:  # a broken registry entry must not take the page down
            log.warning("weights_status(%s) failed: %s", name, e)
            ok, where = False, str(e)
        out.append(ModelChoice(name, ok, where))
    return out


_lock = threading.Lock()
_name_locks: dict[str, threading.Lock] = {}
_explainers: dict[str, core.Explainer] = {}


def get_explainer(name: str) -> core.Explainer:
    """The shared Explainer of model ``name`` (loaded on first use; raises WeightsError etc.)."""
    with _lock:
        ex = _explainers.get(name)
        if ex is not None:
            return ex
        name_lock = _name_locks.setdefault(name, threading.Lock())
    with name_lock:
        ex = _explainers.get(name)
        if ex is None:
            device = core.resolve_device("auto")
            model = core.load_model(name, device=device, download=False)
            ex = core.Explainer(model, cache_size=_CACHE_SIZE)
            log.info("loaded %s on %s", name, device)
            with _lock:
                _explainers[name] = ex
        return ex
