"""Work started by a request ends with it.

Gradio runs a plain handler in a worker thread. When its request ends early (the visitor presses
Stop, a client calls ``job.cancel()``, the tab is closed or the client disconnects), Gradio drops
the result but cannot stop the thread: it ran on, holding the model's lock, until it was done
(issue 37: ten cancelled RISE runs left 26 threads and every later Explain 10x slower).

:func:`ends_with_request` makes a handler a coroutine that runs it in a worker thread with this
request's :class:`Request` in a context variable. The request is over when Gradio cancels the
coroutine (Stop, ``/cancel``), when Gradio marks its queued event dead (the client's stream
closed: a closed tab, a killed client), or when it has run :data:`REQUEST_TIME_LIMIT_S`. The
work checks :func:`check` between its steps (a batch of forward passes, a clip of an audit, a
window of a scan, a step of the trust checks) and stops there with
:class:`core.attribution.Cancelled`; nobody sees that message, since nobody is waiting.

What one request may cost is capped before it runs: ``demo.explain_tab.clip.within_caps``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import threading
import time

import anyio

from core.attribution import Cancelled

from .config import REQUEST_TIME_LIMIT_S

__all__ = ["Request", "check", "current", "ends_with_request"]

log = logging.getLogger(__name__)

_POLL_S = 0.25  # how often the watcher looks at Gradio's event


class Request:
    """One request's lifetime: :meth:`end` from any thread; :meth:`check` in the work."""

    def __init__(self, time_limit_s: float = REQUEST_TIME_LIMIT_S):
        self._ended = threading.Event()
        self.why = ""
        self.deadline = time.monotonic() + time_limit_s
        self.time_limit_s = time_limit_s

    def end(self, why: str) -> None:
        if not self._ended.is_set():
            self.why = why
            self._ended.set()

    @property
    def ended(self) -> bool:
        if not self._ended.is_set() and time.monotonic() > self.deadline:
            self.end(f"it ran for {self.time_limit_s:.0f} s, the limit for one request on this page; for a "
                     "bigger job, run videocam's command line on your own machine (`python -m core`, no limit "
                     "there; see the README)")
        return self._ended.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` (with why) once the request has ended."""
        if self.ended:
            raise Cancelled(f"stopped: {self.why}")


_current: contextvars.ContextVar[Request | None] = contextvars.ContextVar("videocam_request", default=None)


def current() -> Request | None:
    """The request this thread works for (None outside a handler wrapped by :func:`ends_with_request`)."""
    return _current.get()


def check() -> None:
    """Stop here (:class:`Cancelled`) when this thread's request has ended; nothing otherwise."""
    request = _current.get()
    if request is not None:
        request.check()


def _gradio_event():
    """Gradio's queued event of the running request (its ``alive`` turns False when the client's
    stream closes), or None where this Gradio does not say."""
    try:
        from gradio.context import LocalContext

        blocks, event_id = LocalContext.blocks.get(None), LocalContext.event_id.get(None)
        return blocks._queue.event_ids_to_events.get(event_id) if blocks is not None and event_id else None
    except Exception:  # Gradio's internals moved: Stop, cancel and the time limit still work
        log.warning("cannot watch Gradio's event for disconnects", exc_info=True)
        return None


async def _watch(event, request: Request) -> None:
    while not request.ended:
        if not getattr(event, "alive", True):
            request.end("the page or client that asked for it went away")
            return
        await asyncio.sleep(_POLL_S)


def ends_with_request(fn):
    """``fn`` (a plain handler) as a coroutine whose work ends with its request (see the module)."""
    if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn):
        raise TypeError(f"{fn.__name__}: only plain functions are wrapped")

    @functools.wraps(fn)  # Gradio reads the parameters (and the progress tracker) through __wrapped__
    async def run(*args, **kwargs):
        request = Request()
        event = _gradio_event()
        watcher = asyncio.create_task(_watch(event, request)) if event is not None else None
        token = _current.set(request)  # copied into the worker thread's context by anyio
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), abandon_on_cancel=True)
        except asyncio.CancelledError:  # Stop, /cancel, job.cancel(): the thread must not go on
            request.end("it was cancelled")
            raise
        finally:
            request.end("it finished")  # for any thread it started that still checks
            _current.reset(token)
            if watcher is not None:
                watcher.cancel()

    return run
