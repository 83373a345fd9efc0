"""ZeroGPU support: the page's model work runs in ZeroGPU's GPU worker, everything else stays here.

Off ZeroGPU (no ``spaces`` package, or ``SPACES_ZERO_GPU`` unset: a laptop, a CPU Space),
:func:`gpu` returns the function unchanged: the same code runs in the handler's thread, on the
shared Explainers of demo/models.py, at the same speed. Import this module before torch (app.py
does), as ZeroGPU asks.

On ZeroGPU, ``spaces.GPU`` books a GPU slot for a duration, runs the call in a worker process
forked from this one, pickles the arguments there and the result back, and CUDA works only in
that worker (here ``torch.cuda.is_available()`` is True but the first real CUDA call raises, in
any thread but the main one). So a call through :func:`gpu` here

- sends plain data: an Explainer goes as its model's name (:class:`ModelRef`) and the worker
  uses its own copy of that model on the GPU (:func:`worker_explainer`: the shipped ones moved to
  the device at start-up in the main thread by :func:`preload`, as ZeroGPU's docs do; any other
  loaded there by name, inside the call); a callable goes as the request's progress bar (spaces
  forwards Gradio's progress from the worker); a :class:`~demo.state.Stop` goes with a flag file;
- books ``duration=`` from what the call will do (``seconds=``: forward passes at the model's
  speed measured in earlier calls, plus start-up: demo/booking.py), capped at :data:`MAX_SECONDS`;
  a call that would need more is refused here with a message, before any slot is booked;
- stops across the process boundary: while it waits, this side watches the request
  (:mod:`demo.lifetime`: Stop, a cancel, a closed tab, the time limit) and the session's Stop
  flag, and touches the call's flag file; in the worker, ``lifetime.check()`` reads that file;
- comes back with the usual messages: the worker catches every error and returns it as a value
  (a user error as itself, anything else as its traceback, logged here), so spaces always sees a
  success, releases the slot and keeps its worker for the next call (an exception raised inside
  ``spaces.GPU`` would release the slot as failed and leave that worker process behind).

A class change to one of the top classes is cut here from what the explanation's call brought
back (demo/kept.py), without a GPU call; any other finds the worker's cached forward pass when
spaces reuses the same worker (it does while the GPU stays idle), and recomputes it otherwise:
nothing in the worker is relied on.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

# first: `spaces` before torch (booking and kept import it), as ZeroGPU asks
from .zerogpu import ON_ZERO_GPU, main_device, spaces

# isort: split
from .booking import MAX_SECONDS, audit_cost, booking, explain_cost, learn, scan_cost, trust_cost
from .kept import Kept

__all__ = ["MAX_SECONDS", "ON_ZERO_GPU", "Kept", "ModelRef", "audit_cost", "explain_cost", "gpu", "main_device",
           "preload", "scan_cost", "trust_cost", "worker_explainer"]

log = logging.getLogger(__name__)

_STOP_POLL_S = 0.2
_FLAGS: Path | None = None  # this process's own folder of stop flags (made on first use)
_FLAG_LOCK = threading.Lock()  # a flag is touched or removed under it, never after its call ended


def _flags() -> Path:
    global _FLAGS
    with _FLAG_LOCK:
        if _FLAGS is None:
            _FLAGS = Path(tempfile.mkdtemp(prefix="videocam-stop-"))
        return _FLAGS


@dataclass(frozen=True)
class ModelRef:
    """An Explainer, as it crosses to the worker: its model's name."""

    name: str


# -- the worker's models ------------------------------------------------------------------------
_worker: OrderedDict[str, object] = OrderedDict()  # name -> core.Explainer on the worker's device
_worker_lock = threading.Lock()


def preload(names) -> None:
    """At start-up, in the main thread, before launch: the worker's copies of the models ``names``
    (the shipped ones) moved to the GPU as ZeroGPU asks (it keeps them off the GPU here and moves
    them into each worker). Nothing off ZeroGPU."""
    if not ON_ZERO_GPU:
        return
    import core

    from .models import _CACHE_BYTES, _CACHE_SIZE

    # SIGTERM (the Space stopping) as a normal exit, so that multiprocessing's exit handler ends
    # spaces' forked workers (daemon processes) instead of leaving them behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    for name in names:
        _worker[name] = core.Explainer(core.load_model(name, device=core.resolve_device("auto")),
                                       cache_size=_CACHE_SIZE, cache_bytes=_CACHE_BYTES)
        log.info("%s: on the GPU for ZeroGPU's worker", name)


def worker_explainer(name: str):
    """In the worker: the Explainer of model ``name`` on its GPU, loaded by name the first time."""
    import core

    from .config import ALLOW_DOWNLOADS, MAX_MODELS
    from .models import _CACHE_BYTES, _CACHE_SIZE

    with _worker_lock:
        ex = _worker.get(name)
        if ex is None:
            device = core.resolve_device("auto")
            ex = _worker[name] = core.Explainer(core.load_model(name, device=device, download=ALLOW_DOWNLOADS),
                                                cache_size=_CACHE_SIZE, cache_bytes=_CACHE_BYTES)
            log.info("loaded %s on %s in the GPU worker", name, device)
            while len(_worker) > MAX_MODELS:
                _worker.popitem(last=False)
        _worker.move_to_end(name)
        return ex


# -- what crosses the boundary ------------------------------------------------------------------
class _Progress:
    """Stands for the request's progress bar (any callable argument) in the worker: Gradio's
    progress of the same request, which spaces forwards. Takes ``(fraction, desc=)`` and the trust
    checks' ``(fraction, what)``."""

    def __call__(self, fraction, what=None, desc=None, **_):
        import gradio as gr

        gr.Progress()(fraction, desc=desc or what)


class _Flag:
    """The worker's view of its request (what demo.lifetime's ``check`` asks): ended once the
    main process has touched the call's flag file."""

    def __init__(self, path: str):
        self.path = path

    @property
    def ended(self) -> bool:
        return os.path.exists(self.path)

    def check(self) -> None:
        from core.attribution import Cancelled

        if self.ended:
            raise Cancelled("stopped: it was cancelled")


@dataclass(frozen=True)
class _Failed:
    """An error in the worker: the user's (pickled as itself) or a bug (its traceback)."""

    error: bytes | None = None
    trace: str = ""


def _plain(value):
    import core

    from .state import Stop

    if isinstance(value, core.Explainer):
        from .models import name_of

        return ModelRef(name_of(value))
    if isinstance(value, Stop):
        value.requested = False  # a new run forgets an earlier Stop (as Stop.start does)
        return value
    if callable(value) and not isinstance(value, type):
        return _Progress()
    return value


def _local(value):
    return worker_explainer(value.name) if isinstance(value, ModelRef) else value


_functions: dict[str, object] = {}  # what gpu() wrapped, by name: a function crosses as its name


def _in_worker(seconds: int, flag: str, name: str, args, kwargs):
    """The one ``spaces.GPU`` function: runs the function ``name`` on the worker's models with
    ``args``; never raises. ``seconds`` is its booking (spaces reads it through ``duration=``)."""
    from . import lifetime

    fn = _functions[name]
    token = lifetime._current.set(_Flag(flag))  # lifetime.check() in fn reads the flag file
    try:
        args, kwargs = [_local(a) for a in args], {k: _local(v) for k, v in kwargs.items()}  # may load a model
        t0 = time.perf_counter()  # the work's own time: what the next booking is estimated from
        value = fn(*args, **kwargs)
        return value, time.perf_counter() - t0
    except Exception as e:
        import gradio as gr

        import core

        if isinstance(e, (core.UserError, gr.Error)):
            try:
                return _Failed(error=pickle.dumps(e)), 0.0
            except Exception:
                return _Failed(error=pickle.dumps(core.UserError(str(e)))), 0.0
        return _Failed(trace=traceback.format_exc()), 0.0
    finally:
        lifetime._current.reset(token)


_remote = spaces.GPU(_in_worker, duration=lambda seconds, *_: seconds) if ON_ZERO_GPU else None


# -- a class change without a GPU call ---------------------------------------------------------
def _watch(flag: Path, stops, done: threading.Event) -> None:
    """Touch ``flag`` once this thread's request ends or a session's Stop is pressed."""
    from . import lifetime

    request = lifetime.current()

    def watch():
        while not done.wait(_STOP_POLL_S):
            if (request is not None and request.ended) or any(s.requested for s in stops):
                with _FLAG_LOCK:
                    if not done.is_set():
                        flag.touch()
                return

    threading.Thread(target=watch, name="videocam-gpu-stop", daemon=True).start()


def gpu(fn=None, *, seconds=None, kept=None):
    """``fn`` as a ZeroGPU call (see the module doc); ``fn`` itself off ZeroGPU. ``seconds``
    returns ``(model name, forward passes, extra seconds)`` for the same arguments: what the call
    will do, from which its booking is computed (:func:`booking`). ``kept``: a :class:`Kept`, for
    an explanation that may be answered from what earlier calls brought back."""
    if fn is None:
        return lambda f: gpu(f, seconds=seconds, kept=kept)
    if not ON_ZERO_GPU:
        return fn
    key = f"{fn.__module__}.{fn.__qualname__}"
    _functions[key] = fn

    def call(*args, **kwargs):
        import core

        asked = kwargs
        if kept is not None:
            hit, kwargs = kept.find(args, kwargs)
            if hit is not None:
                return hit
        model, passes, extra = seconds(*args, **kwargs) if seconds is not None else (None, 1, 0.0)
        book = booking(model or "", passes, extra) if passes is not None else MAX_SECONDS
        if book > MAX_SECONDS:
            raise core.SettingsError(
                f"this needs about {book} s of GPU time ({passes:.0f} forward passes of {model}), more than "
                f"the {MAX_SECONDS} s one request may book on this Space; ask for less (a shorter video, "
                "fewer masks, a larger window or stride), or run videocam's command line on your own machine")
        from .state import Stop

        stops = [a for a in (*args, *kwargs.values()) if isinstance(a, Stop)]
        plain_args = [_plain(a) for a in args]
        plain_kwargs = {k: _plain(v) for k, v in kwargs.items()}
        flag, done = _flags() / uuid.uuid4().hex, threading.Event()
        _watch(flag, stops, done)
        try:
            value, took = _remote(book, str(flag), key, plain_args, plain_kwargs)
        finally:
            with _FLAG_LOCK:
                done.set()
                flag.unlink(missing_ok=True)
        if isinstance(value, _Failed):
            if value.error is not None:
                raise pickle.loads(value.error)
            log.error("%s failed in the GPU worker:\n%s", fn.__name__, value.trace)
            raise RuntimeError(f"{fn.__name__} failed in the GPU worker (logged above)")
        learn(model, passes or 0, took)
        return kept.keep(args, asked, value) if kept is not None else value

    call.__wrapped__ = fn
    call.__name__ = getattr(fn, "__name__", "gpu_call")
    call.__doc__ = fn.__doc__
    return call
