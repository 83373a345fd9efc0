"""The page's menus: ``gr.Dropdown`` and ``gr.Radio`` whose refusal of a value outside their
choices (an API client sending ``model="bogus"``) is a message for the client and one log line,
not a full traceback in the server's log each time (issue 37).

Gradio's own ``preprocess`` raises ``gr.Error`` with ``print_exception=True``. A session whose menu
was updated gets a new instance of the *same class* (``block.__class__(**kwargs)`` in
``gradio.blocks``), so every instance the page ever uses refuses quietly. ``is_template`` makes
the page load Gradio's own front-end component for them, as ``gr.LoginButton`` does for a Button.

Gradio's ``ComponentMeta`` writes a ``.pyi`` type stub beside the source of every component class
it creates, on every import (into this checkout, or into site-packages when installed); these
menus add no argument or event to type, so they are made without it (:func:`_no_stub_file`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr
import gradio.component_meta

__all__ = ["Dropdown", "Radio"]

log = logging.getLogger(__name__)
_SHOWN = 12  # choices named in the message; more are summed up


def _refusal(component: gr.components.Component, payload) -> gr.Error:
    values = [value for _, value in component.choices]
    given = payload if isinstance(payload, list) else [payload]
    bad = next((v for v in given if v not in values), payload)
    names = ", ".join(repr(v) for v in values[:_SHOWN]) + (f" and {len(values) - _SHOWN} more" if len(values) > _SHOWN else "")
    what = f"'{component.label}'" if component.label else "this menu"
    text = str(bad)
    shown = text if len(text) <= 80 else text[:77] + "..."
    log.warning("refused a value outside %s's choices (%d characters)", what, len(text))
    return gr.Error(f"{shown!r} is not one of {what}'s choices; give one of: {names or 'none yet'}",
                    print_exception=False)


@contextmanager
def _no_stub_file() -> Iterator[None]:
    """Component classes made within the block write no ``.pyi`` file (see the module doc)."""
    meta = gradio.component_meta
    write = getattr(meta, "create_or_modify_pyi", None)
    meta.create_or_modify_pyi = lambda *args, **kwargs: None
    try:
        yield
    finally:
        if write is None:
            del meta.create_or_modify_pyi
        else:
            meta.create_or_modify_pyi = write


def _quiet(menu: type) -> type:
    """``menu`` (a Gradio menu class) whose refusal of a value outside its choices is a message,
    quietly; Gradio's own front-end component shows it (``is_template``)."""

    def preprocess(self, payload):
        try:
            return menu.preprocess(self, payload)
        except gr.Error:
            raise _refusal(self, payload) from None

    attrs = {"__module__": __name__, "__qualname__": menu.__name__, "is_template": True, "preprocess": preprocess,
             "__doc__": f"``gr.{menu.__name__}`` that refuses a value outside its choices with a message, quietly."}
    with _no_stub_file():
        return type(menu)(menu.__name__, (menu,), attrs)


Dropdown = _quiet(gr.Dropdown)
Radio = _quiet(gr.Radio)
