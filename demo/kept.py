"""A class change on ZeroGPU without a GPU call: the explanations earlier calls brought back.

demo/space.py's ``gpu(..., kept=Kept())`` asks this before it books a GPU call for an
explanation, and gives it what the worker returned.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

__all__ = ["Kept"]


class Kept:
    """Explanations brought back from the worker, by (model, clip, settings), for the wrapped
    ``explain(explainer, clip, settings, ..., targets=, top_k=, contrast=)``. A Grad-CAM-family
    call also asks for the ``extra`` most probable classes (one batched backward pass more in the
    worker), so that a class change to one of them, the Top-5 gallery, and a contrast of two of
    them are cut from what came back, here, on the CPU, without a GPU call (each target's map is
    computed and normalised on its own, so the cut is what the worker would return). The last
    ``size`` clips are kept (at most ``extra + 1`` maps the size of the model input each)."""

    def __init__(self, extra: int = 5, size: int = 8):
        self.extra, self.size = extra, size
        self._items: OrderedDict[tuple, tuple[weakref.ref, object]] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, args) -> tuple | None:
        from .models import name_of

        explainer, clip, settings = args[:3]
        frames = getattr(clip, "frames", None)
        return None if frames is None else (name_of(explainer), id(frames), settings)

    def find(self, args, kwargs):
        """(the explanation cut from what is kept, or None; the kwargs to send instead)."""
        from core.cam.methods import CAM_FUNCTIONS

        key = self._key(args)
        with self._lock:
            item = self._items.get(key)
        if item is not None and item[0]() is args[1].frames:
            hit = _cut(item[1], kwargs)
            if hit is not None:
                return hit, kwargs
        if args[2].method in CAM_FUNCTIONS and "top_k" not in kwargs:
            kwargs = {**kwargs, "top_k": self.extra}
        return None, kwargs

    def keep(self, args, asked: dict, exp):
        """Keep ``exp`` (what the worker returned); the part of it the caller ``asked`` for."""
        key = self._key(args)
        if key is not None:
            with self._lock:
                self._items[key] = (weakref.ref(args[1].frames), exp)
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return _cut(exp, asked, fresh=True) or exp


def _cut(exp, asked: dict, *, fresh: bool = False):
    """``exp`` for just the targets ``asked`` (targets=, top_k=, contrast= as Explainer.explain
    takes them), or None when one of them is not in it. ``fresh``: ``exp`` was just computed (its
    timings stand); else the cut is a cached answer."""
    from dataclasses import replace

    import core
    from core.cam.engine import chosen_targets

    try:  # the targets the Explainer would choose
        wanted = chosen_targets(exp.probs, exp.categories, asked.get("targets"), asked.get("top_k"),
                                asked.get("contrast"))
    except core.UserError:  # the worker says what is wrong
        return None
    rows = [exp.targets.index(t) if t in exp.targets else None for t in wanted]
    if None in rows:
        return None
    whole = rows == list(range(len(exp.targets)))
    cut = exp if whole else replace(exp, targets=tuple(wanted), raw_maps=exp.raw_maps[rows], maps=exp.maps[rows],
                                    temporal_importance=exp.temporal_importance[rows])
    return cut if fresh else replace(cut, cached_forward=True, timings={"forward": 0.0, "total": 0.0},
                                     method_info={**exp.method_info, "forward_passes": 0})
