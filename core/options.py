"""The base of every option enum: a string enum whose members know how they are shown and parse
with a helpful error.

:mod:`core.cam.settings`'s methods, poolings and normalisations, :class:`core.video.Sampling` and
:class:`core.models.spec.Layout` are :class:`Choice` enums, so the page's choices, the CLI's
``choices=`` and the engine's checks all come from one declaration. A new option is a subclass::

    class Colormap(Choice):
        JET = "jet", "Jet (the post's)"
        VIRIDIS = "viridis", "Viridis"

    Colormap.parse("jet", "colormap")  # Colormap.JET; a SettingsError naming colormap= otherwise
"""

from __future__ import annotations

from enum import Enum

from .errors import SettingsError

__all__ = ["Choice"]


class Choice(str, Enum):
    """A string enum whose members know how they are shown, and parse with a helpful error."""

    label: str

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value, what: str):
        """``value`` (a member or its string) as a member; a :class:`SettingsError` otherwise."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise SettingsError(f"{what}={value!r}; choose one of {names}") from None

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """(label, value) pairs, in declaration order: what a Gradio Radio or Dropdown takes."""
        return [(m.label, m.value) for m in cls]
