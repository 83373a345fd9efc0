"""The page's wiring, shared by every tab: its components by name, and one ``on()`` that wires a
handler to the components named like its parameters.

Each tab lays itself out and hands its components to the :class:`Page` under names that carry
its prefix (``explain_``, ``tl_``, ``trust_``, ``audit_``, ``live_``; a name a client types as an
API parameter, such as ``video`` or ``method``, stays as the API has it); its handlers take their
inputs by those names and return their outputs as a dict by name. What a handler's errors become
on the page (:func:`user_errors`) and what an upload may cost (:data:`LIMITS`) are here too,
since every tab's handlers share them.
"""

from __future__ import annotations

import functools
import inspect
import logging

import gradio as gr

import core
from core.video import Limits

from .config import CONCURRENCY, DECODE_SECONDS, MAX_FILE_SIZE_MB, MAX_SECONDS
from .lifetime import ends_with_request

__all__ = ["INTERNAL_ERROR", "LIMITS", "WORK", "Page", "user_errors"]

log = logging.getLogger(__name__)

# The decoder's own bounds, plus ours. max_duration truncates (it bounds the work); clips longer
# than MAX_SECONDS are refused by the Explain tab with a message. Reading may take DECODE_SECONDS
# of wall time, so that a hostile file is answered within ~5 s (issue 6), model work included.
LIMITS = Limits(max_bytes=MAX_FILE_SIZE_MB * 2**20, max_duration=2 * MAX_SECONDS, time_budget=DECODE_SECONDS)
INTERNAL_ERROR = "Something went wrong on the server (it is logged). Try again, or try another clip."
WORK = {"concurrency_id": "model", "concurrency_limit": CONCURRENCY}  # model work: queued, shared limit
_NOT_INPUTS = {"progress", "request"}  # Gradio's progress tracker and its gr.Request are no components


def user_errors(fn):
    """Show what the user can fix as it is; log anything else and show a short note instead."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except core.UserError as e:
            log.info("%s: %s", fn.__name__, e)
            raise gr.Error(str(e), print_exception=False) from None
        except Exception:
            log.exception("%s failed", fn.__name__)
            raise gr.Error(INTERNAL_ERROR, print_exception=False) from None

    return wrapper


class Page:
    """The Blocks being built and its components by name (each name once)."""

    def __init__(self, blocks: gr.Blocks):
        self.blocks = blocks
        self._components: dict[str, gr.components.Component] = {}

    def add(self, components: dict) -> dict:
        """Name ``components`` (a tab's, by name); returns them."""
        taken = set(components) & set(self._components)
        if taken:
            raise ValueError(f"component names used twice on the page: {sorted(taken)}")
        self._components.update(components)
        return components

    def __getitem__(self, name: str):
        return self._components[name]

    def on(self, trigger, fn, outputs, *, lifetime: bool = True, **kwargs):
        """Wire ``fn``: its inputs are the components named like its parameters, its outputs the
        components named in ``outputs`` (it returns a dict by those names). With ``lifetime`` its
        work ends with its request: Stop, a cancel, a closed tab (demo/lifetime.py); a stream's
        frames (Live) are answered at once and need no watcher."""
        wired = _by_name(fn, outputs)
        return trigger(ends_with_request(wired) if lifetime else wired, self.inputs(fn),
                       [self[n] for n in outputs], **kwargs)

    def inputs(self, fn) -> list:
        """The components named like ``fn``'s parameters, in order."""
        return [self[n] for n in inspect.signature(fn).parameters if n not in _NOT_INPUTS]


def _by_name(fn, names):
    """``fn`` returning a dict by output name, as Gradio wants it: a tuple in ``names`` order."""

    @functools.wraps(fn)  # Gradio reads the API's parameter names through __wrapped__
    def call(*args, **kwargs):
        out = fn(*args, **kwargs)
        if not names:  # an event that only checks, or only sets a flag
            return None
        if set(out) != set(names):
            raise RuntimeError(f"{fn.__name__} returned {sorted(out)}; its outputs are {sorted(names)}")
        values = tuple(out[n] for n in names)
        return values if len(values) > 1 else values[0]

    return call
