"""Each model's default method and layer, as measured against ground truth.

``measured.json`` beside this file is written by ``python -m lab.benchmark ... --record-default``
(``docs/benchmark.md``: every figure with its interval) or ``python -m lab.evaluate --methods ...
--record-default`` (``docs/evaluation.md``, "Methods x architectures"): for each shipped model, the
method and layer that the stated rule picks from the measured table, and each row's pointing score
on rendered clips, so the page can say what was measured and where. A record names its table
(``source``); rows an earlier table measured and the newer one did not (other layers) are kept
under ``earlier`` with their own table, so every row quoted names the table it came from. A Hugging Face model of a measured family (e.g. any
VideoMAE) takes its family's measured method. A model with no measurement keeps its spec's own
default (Grad-CAM at ``default_layer``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path

from .spec import ModelSpec

__all__ = ["MEASURED_FILE", "TABLE_LINK", "apply_measured", "measured", "measured_line", "measured_source"]

MEASURED_FILE = Path(__file__).with_name("measured.json")
TABLE_LINK = "docs/evaluation.md#methods-x-architectures"  # the table of a record that names none


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


def _family(spec: ModelSpec) -> str | None:
    return spec.description.split()[2] if spec.description.startswith("Hugging Face ") else None


def measured_source(spec: ModelSpec) -> str | None:
    """The table (a path in the repository, with its anchor) that set ``spec``'s measured
    default; None when nothing was measured for it."""
    rec = measured(spec.name, _family(spec))
    return None if rec is None else rec.get("source", TABLE_LINK)


def _row(rec: dict, method: str, layer: str | None) -> tuple[str, list | None, str]:
    """(key, the row's figures or None, the table that measured it): the record's own rows first,
    then the earlier tables'."""
    tables = [(rec.get("rows", {}), rec.get("source", TABLE_LINK))]
    tables += [(e["rows"], e["source"]) for e in rec.get("earlier", [])]
    for key in (f"{method}@{layer}", method):
        for rows, source in tables:
            if key in rows:
                return key, rows[key], source
    return method, None, rec.get("source", TABLE_LINK)


def measured_line(spec: ModelSpec, method: str, layer: str | None, base: str | None = None) -> str:
    """One sentence: what was measured for this architecture with ``method`` (at ``layer``), next
    to Grad-CAM at the default layer, naming the table it was measured in; empty when nothing was
    measured. ``base``: the URL the repository's files are under (the table is linked there; else
    its path in the repository is named)."""
    family = _family(spec)
    rec = measured(spec.name, family)
    if rec is None:
        return ""
    which = f"{rec['stand_in']}, the {family} we trained" if "stand_in" in rec else spec.name
    key, row, source = _row(rec, method, layer)
    base_layer = rec.get("gradcam_layer")
    _, base_row, base_source = _row(rec, "gradcam", base_layer)

    def table(where: str) -> str:
        return f"[table]({base.rstrip('/')}/{where})" if base else f"`{where}`"

    head = f"Measured on rendered clips with ground truth ({which}; {table(source)}): "
    if row is not None:
        exact, near, *rest = row
        said = (f"this method's peak lands on the acting object in {exact:.0%} of frames "
                f"({near:.0%} within one cell)")
        sanity, bar = (rest[0] if rest else None), rec.get("sanity_max", 0.3)
        if sanity is not None and abs(sanity) > bar:  # the benchmark's rows: mean |rho|; lab.evaluate's: signed
            said += (f", but it fails the sanity check: its map keeps a rank correlation of {abs(sanity):.2f} in size "
                     "with itself when the classifier head is randomised")
    else:
        said = "this method was not measured here"
    if base_row is not None and key != f"gradcam@{base_layer}":
        said += f"; Grad-CAM at `{base_layer}`: {base_row[0]:.0%} ({base_row[1]:.0%})"
        if base_source != source:
            said += f" ({table(base_source)})"
    return head + said + "."
