"""The page's settings as one frozen record: what the Explain tab's *Settings* (and its opacity
slider) say, carried as one value from the settings components to every handler.

:class:`PageSettings` holds the components' values as the page gives them (text boxes as text);
:meth:`PageSettings.validated` turns them into one :class:`core.Settings` at the top of a
handler, where a bad value is the user's to fix (a :class:`core.SettingsError`). The page keeps
the record in a ``gr.State`` named ``settings``, which one change event rebuilds from the
components (:func:`wire`); the API's endpoints take the same values as parameters and build the
record themselves (``PageSettings(method=..., ...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import gradio as gr

import core

from .config import OPACITY, STATE_TTL_S

__all__ = ["FIELDS", "PageSettings", "wire"]


@dataclass(frozen=True)
class PageSettings:
    """The page's settings as given. ``layer`` and ``sampling`` None: the model's own; ``masks``,
    ``window``, ``stride`` and ``baseline`` (occlusion and RISE; windows as "frames height width"
    text) None or blank: the method's defaults."""

    method: str | None = None
    pooling: str | None = "clip"
    layer: str | None = None
    opacity: float = OPACITY
    sampling: str | None = None
    masks: float | None = None
    window: str | None = None
    stride: str | None = None
    baseline: str | None = None

    def validated(self) -> core.Settings:
        """The method, pooling, layer and perturbation (occlusion's window and stride, RISE's
        masks, the baseline) as one validated record. ``opacity`` is checked here too, before the
        model runs (raw JSON passes the slider's bounds: NaN, 7)."""
        o = self.opacity
        if isinstance(o, bool) or not isinstance(o, int | float) or not 0 <= o <= 1:
            raise core.SettingsError(f"opacity={o!r}; give a number from 0 to 1")
        given = {"masks": None if self.masks in (None, "") else int(self.masks),
                 "window": _triple(self.window, "window"), "stride": _triple(self.stride, "stride"),
                 "baseline": self.baseline or None}
        return core.Settings(method=self.method, pooling=self.pooling, layer=self.layer or None,
                             perturbation={k: v for k, v in given.items() if v is not None})


FIELDS = tuple(f.name for f in fields(PageSettings))  # each named like the component that sets it


def _triple(text, what: str):
    """ "4 28 28" (frames height width) -> (4, 28, 28); blank -> None; core.Settings checks the rest."""
    parts = str(text or "").replace(",", " ").split()
    if not parts:
        return None
    try:
        return tuple(int(v) for v in parts)
    except ValueError:
        raise core.SettingsError(f"{what}={text!r}; give three whole numbers: frames height width, "
                                 "e.g. 4 28 28") from None


def wire(page, initial: PageSettings):
    """The ``settings`` state (``initial``: what the components show when the page is built) and
    its change event: any settings component changes, the record is built again from all of
    them. Returns ``rebuilt(triggers)``: the same build on other triggers, for work that must
    read the new record (a redraw on a new method) to chain on: an event beside the change
    event, on the same click, could read the record before the change event had written it."""
    state = page.add({"settings": gr.State(initial, time_to_live=STATE_TTL_S)})["settings"]
    components = {page[name]: name for name in FIELDS}

    def build(values: dict) -> PageSettings:  # Gradio hands a set of inputs over as one dict
        return PageSettings(**{components[c]: v for c, v in values.items()})

    def rebuilt(triggers):
        return gr.on(triggers, build, set(components), state, api_visibility="private", queue=False,
                     trigger_mode="always_last")

    rebuilt([page[n].change for n in FIELDS])
    return rebuilt
