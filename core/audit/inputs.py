"""What an audit reads: labelled videos, from an SSv2-layout folder or a folder with a labels CSV.

An SSv2-layout folder (what ``lab.train`` reads, and what ``lab.data`` writes) holds
``labels.json`` and ``train.json`` / ``validation.json`` / ``test.json`` (the test split's labels
in ``test-answers.csv``), with the videos in ``videos/``. Any other folder of videos comes with a
CSV of ``file,label`` rows (a header row is allowed). Labels match the model's classes with or
without SSv2's brackets and in any case ("Moving something up" is "Moving [something] up").
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SettingsError

__all__ = ["Item", "read_items"]

SPLITS = {"train": "train", "val": "validation", "validation": "validation", "test": "test"}
_VIDEO_DIRS = ("videos", "20bn-something-something-v2", ".")
_VIDEO_EXTS = (".webm", ".mp4", ".mkv", ".avi", ".mov", ".m4v", ".ogv", ".gif")


@dataclass(frozen=True)
class Item:
    """One labelled video: its place in the audit's list, its path, and its class index."""

    index: int
    path: Path
    name: str  # the path relative to the data folder, as the report shows it
    target: int


def _key(label: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[\[\]]", "", label)).strip().lower()


def class_lookup(categories) -> dict[str, int]:
    """Bracket-free, lower-case label -> class index."""
    return {_key(c): i for i, c in enumerate(categories)}


def read_items(data: str | Path, categories, *, labels: str | Path | None = None,
               split: str = "test", shown_as: str | None = None) -> list[Item]:
    """The labelled videos of ``data`` (sorted as the data set lists them), each with its class.

    Raises :class:`SettingsError` when the folder is neither layout, when a label is not one of
    the model's ``categories`` (naming the first few), when the CSV is not UTF-8 text of
    ``file,label`` rows, names a file twice, or names a file that is not there. Files that are
    there but do not decode are the audit's business: they are recorded. ``shown_as``: how
    messages name the CSV (the name in the user's archive, on the page); default ``--labels
    PATH`` and the folder's path, as the command line takes them.
    """
    root = Path(data)
    if not root.is_dir():
        raise SettingsError(f"{data}: no such folder; give an SSv2-layout folder, or a folder of videos with --labels")
    lookup = class_lookup(categories)
    rows = _from_csv(root, Path(labels), shown_as) if labels is not None else _from_ssv2(root, split)
    unknown = sorted({lab for _, lab in rows if _key(lab) not in lookup})
    if unknown:
        fix = ("label the clips with the chosen model's classes, or pick another model" if shown_as else
               "list the model's classes with `python -m core models`, or pick another --model")
        raise SettingsError(f"{len(unknown)} label(s) are not classes of the model, e.g. {unknown[:3]}; {fix}")
    if not rows:
        raise SettingsError(f"{data}: no labelled videos (split {split!r})" if labels is None
                            else f"{shown_as or labels}: lists no videos")
    return [Item(i, root / rel, rel, lookup[_key(lab)]) for i, (rel, lab) in enumerate(rows)]


def _from_csv(root: Path, path: Path, shown_as: str | None = None) -> list[tuple[str, str]]:
    name, folder = (shown_as, "the archive") if shown_as else (f"--labels {path}", str(root))
    if not path.is_file():
        raise SettingsError(f"{name}: no such file; give a CSV of file,label rows")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except UnicodeDecodeError as e:
        raise SettingsError(f"{name}: is not UTF-8 text (byte {e.object[e.start]:#x} at offset {e.start}); "
                            "save it as CSV UTF-8") from None
    except csv.Error as e:  # e.g. a field over csv.field_size_limit() (128 KB)
        raise SettingsError(f"{name}: is not a CSV of file,label rows ({e})") from None
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["file", "label"]:
        rows = rows[1:]
    out, missing, seen = [], [], {}
    for n, r in enumerate(rows, 1):
        if len(r) < 2:
            raise SettingsError(f"{name}: the row {r!r} is not file,label")
        rel, lab = r[0].strip(), r[1].strip()
        p = Path(rel)
        if p.is_absolute() or ".." in p.parts:
            raise SettingsError(f"{name}: {rel!r} is outside {'the archive' if shown_as else 'the data folder'}; "
                                "name files relative to it")
        if p.as_posix() in seen:
            raise SettingsError(f"{name}: {rel!r} is listed twice (rows {seen[p.as_posix()]} and {n}); "
                                "list each clip once")
        seen[p.as_posix()] = n
        if not _is_file(root / p):
            missing.append(rel)
        out.append((p.as_posix(), lab))
    if missing:
        raise SettingsError(f"{name}: {len(missing)} file(s) are not in {folder}, e.g. {missing[:3]}")
    return out


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for the file system, ...: not a file there
        return False


def _from_ssv2(root: Path, split: str) -> list[tuple[str, str]]:
    if split not in SPLITS:
        raise SettingsError(f"--split {split!r}; use train, validation (val) or test")
    split = SPLITS[split]
    listing = _json(root, f"{split}.json")
    answers = _answers(root) if split == "test" else {}
    video_dir = next((root / d for d in _VIDEO_DIRS if (root / d).is_dir()), root)
    out = []
    for e in listing:
        sid = str(e["id"])
        label = e.get("template") or answers.get(sid)
        if label is None:
            raise SettingsError(f"{root}: {split} clip {sid} has no label (test-answers.csv is missing?); "
                                "audit a labelled split, or give --labels")
        video = next((video_dir / f"{sid}{ext}" for ext in _VIDEO_EXTS if (video_dir / f"{sid}{ext}").is_file()),
                     video_dir / f"{sid}.webm")  # a missing file is recorded as an error, like a bad one
        out.append((video.relative_to(root).as_posix(), label))
    return out


def _json(root: Path, name: str):
    for folder in (root, root / "labels"):
        for candidate in (name, f"something-something-v2-{name}"):
            if (folder / candidate).is_file():
                return json.loads((folder / candidate).read_text())
    raise SettingsError(f"{root} has no {name}: it is not an SSv2-layout folder; for a folder of videos, "
                        "give --labels FILE (CSV rows: file,label)")


def _answers(root: Path) -> dict[str, str]:
    for folder in (root, root / "labels"):
        path = folder / "test-answers.csv"
        if path.is_file():
            with open(path, newline="") as fh:
                return {row[0]: row[1] for row in csv.reader(fh, delimiter=";") if len(row) >= 2}
    return {}
