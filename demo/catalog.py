"""The sample clips and the post-style gallery, read from their JSON indexes when present.

A missing index gives an empty list (the page then says so); a malformed one is logged and
skipped entry by entry, so one bad line never takes the app down.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TABLES = ("positive", "medium", "negative")


@dataclass(frozen=True)
class Sample:
    path: Path
    label: str


@dataclass(frozen=True)
class GalleryItem:
    table: str
    gif: Path
    true: str
    top2: tuple[tuple[str, float], ...]


def _read_list(path: Path) -> list:
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        log.warning("%s is unreadable (%s); ignoring it", path, e)
        return []
    if not isinstance(data, list):
        log.warning("%s should hold a JSON list; ignoring it", path)
        return []
    return data


def load_samples(folder: Path) -> list[Sample]:
    """``folder/index.json``: [{"file": "x.mp4", "label": "true label"}, ...]."""
    out = []
    for row in _read_list(folder / "index.json"):
        try:
            path, label = (folder / row["file"]).resolve(), str(row["label"])
        except (KeyError, TypeError):
            log.warning("skipping sample entry %r: needs 'file' and 'label'", row)
            continue
        if path.is_file() and path.is_relative_to(folder.resolve()):
            out.append(Sample(path, label))
        else:
            log.warning("skipping sample %s: no such file in %s", row["file"], folder)
    return out


def load_gallery(folder: Path) -> dict[str, list[GalleryItem]]:
    """``folder/gallery.json``: [{"table", "gif", "true", "top2": [[label, score], x2]}, ...]."""
    tables: dict[str, list[GalleryItem]] = {t: [] for t in TABLES}
    for row in _read_list(folder / "gallery.json"):
        try:
            item = GalleryItem(str(row["table"]), (folder / row["gif"]).resolve(), str(row["true"]),
                               tuple((str(lab), float(s)) for lab, s in row["top2"]))
        except (KeyError, TypeError, ValueError):
            log.warning("skipping gallery entry %r: needs table, gif, true and top2", row)
            continue
        if item.table in tables and item.gif.is_file() and item.gif.is_relative_to(folder.resolve()):
            tables[item.table].append(item)
        else:
            log.warning("skipping gallery entry %r: unknown table or missing GIF", row)
    return tables


def load_model_galleries(folder: Path) -> dict[str, dict[str, list[GalleryItem]]]:
    """The other shipped models' tables: ``folder/MODEL/gallery.json`` for each subfolder that has
    one (``python -m lab.samples --gallery-only --model MODEL``), by model name."""
    if not folder.is_dir():
        return {}
    out = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and (p / "gallery.json").is_file()):
        tables = load_gallery(sub)
        if any(tables.values()):
            out[sub.name] = tables
    return out
