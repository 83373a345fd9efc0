"""Each model's default method and layer, as measured against ground truth.

``measured.json`` beside this file is written by ``python -m lab.evaluate --methods ...`` (see
``docs/evaluation.md``, "Methods x architectures"): for each shipped model, the method and layer
that the stated rule picks from the measured table, and each row's pointing score on rendered
clips, so the page can say what was measured. A Hugging Face model of a measured family (e.g. any
VideoMAE) takes its family's measured method. A model with no measurement keeps its spec's own
default (Grad-CAM at ``default_layer``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path

from .spec import ModelSpec

__all__ = ["MEASURED_FILE", "TABLE_LINK", "apply_measured", "measured", "measured_line"]

MEASURED_FILE = Path(__file__).with_name("measured.json")
TABLE_LINK = "docs/evaluation.md#methods-x-architectures"


@cache
def _load() -> dict:
    return json.loads(MEASURED_FILE.read_text()) if MEASURED_FILE.is_file() else {"models": {}, "families": {}}


def measured(name: str, family: str | None = None) -> dict | None:
    """The measured record of model ``name``, else of the shipped model measured for ``family``."""
    data = _load()
    rec = data["models"].get(name)
    if rec is None and family:
        stand_in = data.get("families", {}).get(family)
        rec = data["models"].get(stand_in) if stand_in else None
        if rec is not None:
            rec = {**rec, "stand_in": stand_in}
    return rec


def apply_measured(spec: ModelSpec, family: str | None = None) -> ModelSpec:
    """``spec`` with its measured default method (and layer, for the Grad-CAM family).

    For a family stand-in, a layer is carried over by its position from the last block."""
    rec = measured(spec.name, family)
    if rec is None:
        return spec
    layer = rec.get("layer")
    if layer and "stand_in" in rec:
        layers = list(rec.get("layers") or [])
        back = len(layers) - 1 - layers.index(layer) if layer in layers else None
        layer = spec.layers[-1 - back] if back is not None and back < len(spec.layers) else None
    if layer is not None and layer not in spec.layers:
        layer = None
    return replace(spec, default_method=rec["method"], default_layer=layer or spec.default_layer)


def measured_line(spec: ModelSpec, method: str, layer: str | None, link: str | None = None) -> str:
    """One sentence: what was measured for this architecture with ``method`` (at ``layer``), next
    to Grad-CAM at the default layer; empty when nothing was measured. ``link``: a URL of the
    table (else its path in the repository is named)."""
    family = spec.description.split()[2] if spec.description.startswith("Hugging Face ") else None
    rec = measured(spec.name, family)
    if rec is None:
        return ""
    rows = rec.get("rows", {})
    which = f"{rec['stand_in']}, the {family} we trained" if "stand_in" in rec else spec.name
    key = f"{method}@{layer}" if f"{method}@{layer}" in rows else method
    base_layer = rec.get("gradcam_layer")
    base = rows.get(f"gradcam@{base_layer}")
    table = f"[table]({link})" if link else f"`{TABLE_LINK}`"
    head = f"Measured on rendered clips with ground truth ({which}; {table}): "
    if key in rows:
        exact, near, *rest = rows[key]
        said = (f"this method's peak lands on the acting object in {exact:.0%} of frames "
                f"({near:.0%} within one cell)")
        sanity, bar = (rest[0] if rest else None), rec.get("sanity_max", 0.3)
        if sanity is not None and sanity > bar:
            said += (f", but it fails the sanity check: its map keeps a rank correlation of {sanity:.2f} with "
                     "itself when the classifier head is randomised")
    else:
        said = "this method was not measured here"
    if base is not None and key != f"gradcam@{base_layer}":
        said += f"; Grad-CAM at `{base_layer}`: {base[0]:.0%} ({base[1]:.0%})"
    return head + said + "."
