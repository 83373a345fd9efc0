"""What the user can fix: one exception family, raised at the API edge, shown as it is.

Every error the user can act on (a bad video, an unknown model, missing weights, a bad setting
or class) is a :class:`UserError`; its message names the problem and the fix. The CLI prints it
and exits 2; the app shows it on the page. Any other exception is a bug: the CLI and the app log
it with its traceback and show a short "internal error" note instead (CLI exit 1).

``UserError`` subclasses ``ValueError``, so ``except ValueError`` in older callers still works.
"""

from __future__ import annotations

__all__ = [
    "Cancelled",
    "RenderInputError",
    "RenderInputTypeError",
    "SettingsError",
    "UnknownModelError",
    "UserError",
    "VideoError",
    "VideoTimeoutError",
    "VideoTooLargeError",
    "WeightsError",
]


class UserError(ValueError):
    """Something the user can fix; the message says what is wrong and what to do."""


class VideoError(UserError):
    """A video could not be read; the message says what is wrong and what to do."""


class VideoTooLargeError(VideoError):
    """The file is past one of the ``core.video.Limits`` (bytes, pixels, frames to decode)."""


class VideoTimeoutError(VideoError):
    """Reading took longer than ``Limits.time_budget`` seconds."""


class UnknownModelError(UserError):
    """The model name is not registered."""


class WeightsError(UserError):
    """Weights are missing, unreadable, or not what the metadata promises."""


class SettingsError(UserError):
    """A setting (method, pooling, normalisation, layer, device), a class or a target is not valid
    for this model."""


class RenderInputError(UserError):
    """Frames, maps or an option that a drawing function of :mod:`core.render` (``core.overlay``,
    ``core.save_gif``, ...) cannot use; the message names the argument and the fix."""


class RenderInputTypeError(RenderInputError, TypeError):
    """:class:`RenderInputError` for a value of the wrong type (a list for an array, float frames
    for uint8, a string for a number); also a ``TypeError``, as Python's own checks are."""


class Cancelled(UserError):
    """A run was stopped by its caller's cancel check (the page's Stop button, a closed tab, a
    request's time limit): occlusion, RISE and the estimate of their cost raise it before their
    next batch. The message says how far the run got."""
