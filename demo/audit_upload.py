"""Unpack a visitor's ``.zip`` of clips and ``labels.csv`` for an audit, trusting nothing in it.

Every member is checked before a byte is written: its name (no absolute path, no ``..``, no
drive, no backslash), its kind (regular files only: no symlinks, devices or other entries), its
type (video extensions and one ``labels.csv``), the counts and sizes against ``demo/config.py``'s
limits, and the archive's compression ratio (a zip bomb). Files are then streamed out with the
declared sizes enforced, so a lying header cannot write more. Everything lands inside the job's
own folder; any refusal is a :class:`core.UserError` that says what to change.
"""

from __future__ import annotations

import lzma
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import core

from .config import AUDIT_MAX_CLIPS, AUDIT_MAX_LABELS_KB, AUDIT_MAX_UNPACKED_MB

__all__ = ["VIDEO_EXTENSIONS", "unpack"]

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".avi", ".mkv", ".m4v", ".gif")
_MAX_RATIO = 200  # uncompressed / compressed over the archive: video barely compresses
_CHUNK = 1 << 20
_MAX_PART, _MAX_PATH = 255, 1024  # bytes of one name and of a whole member path (Linux: 255 and 4096)


def _refuse(text: str):
    raise core.UserError(f"the archive was not used: {text}")


def _safe_name(info: zipfile.ZipInfo) -> PurePosixPath:
    name = info.filename
    drive = len(name) > 1 and name[0].isalpha() and name[1] == ":" and name[2:3] in ("", "/")  # "C:/x", not "a:b"
    if "\\" in name or name.startswith("/") or drive:
        _refuse(f"{name!r} is an absolute or Windows path; zip the clips with paths relative to the archive")
    path = PurePosixPath(name)
    if ".." in path.parts or not path.parts:
        _refuse(f"{name!r} points outside the archive's folder")
    long = next((part for part in path.parts if len(part.encode()) > _MAX_PART), None)
    if long is not None or len(name.encode()) > _MAX_PATH:
        shown = name if long is None else long
        _refuse(f"{shown[:40]!r}... is a name longer than a file system takes ({_MAX_PART} bytes a part, "
                f"{_MAX_PATH} a path); give the clips shorter names")
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver wrote no Unix mode
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        _refuse(f"{name!r} is a link or a special file; only plain files are read")
    return path


def unpack(archive: str | Path, dest: str | Path) -> tuple[Path, Path]:
    """Extract ``archive`` into the empty folder ``dest``; (the folder holding ``labels.csv``,
    the CSV's path). Member names are relative to that folder, as the CSV names them."""
    dest = Path(dest).resolve()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        _refuse("it is not a .zip file; zip the clips and a labels.csv (rows: file,label) together")
    with zf:
        files = []
        for info in zf.infolist():
            path = _safe_name(info)
            if info.is_dir() or path.name.startswith(".") or "__MACOSX" in path.parts:
                continue
            if path.name != "labels.csv" and path.suffix.lower() not in VIDEO_EXTENSIONS:
                _refuse(f"{info.filename!r} is neither a video ({', '.join(VIDEO_EXTENSIONS)}) nor labels.csv")
            files.append((info, path))
        csvs = [(i, p) for i, p in files if p.name == "labels.csv"]
        if len(csvs) != 1:
            _refuse("it holds no labels.csv" if not csvs else f"it holds {len(csvs)} labels.csv files; keep one")
        if csvs[0][0].file_size > AUDIT_MAX_LABELS_KB * 1024:
            _refuse(f"its labels.csv is {csvs[0][0].file_size / 1024:.0f} KB; {AUDIT_MAX_CLIPS} rows of file,label "
                    f"fit in far less (the limit here is {AUDIT_MAX_LABELS_KB} KB)")
        _one_kind_each([p for _, p in files])
        clips = len(files) - 1
        if clips > AUDIT_MAX_CLIPS:
            _refuse(f"it holds {clips} clips; the limit here is {AUDIT_MAX_CLIPS}")
        if clips == 0:
            _refuse("it holds no clips")
        total = sum(i.file_size for i, _ in files)
        packed = sum(i.compress_size for i, _ in files)
        if total > AUDIT_MAX_UNPACKED_MB * 2**20:
            _refuse(f"it unpacks to {total / 2**20:.0f} MB; the limit here is {AUDIT_MAX_UNPACKED_MB} MB")
        if total > _MAX_RATIO * max(packed, 1) and total > 2**20:
            _refuse("it is compressed far more than video can be (a zip bomb?)")
        dest.mkdir(parents=True, exist_ok=True)
        for info, path in files:
            target = dest.joinpath(*path.parts).resolve()
            if dest not in target.parents:
                _refuse(f"{info.filename!r} points outside the archive's folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > info.file_size:
                            _refuse(f"{info.filename!r} unpacks to more than its header says")
                        out.write(chunk)
            except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, RuntimeError) as e:
                _refuse(f"{info.filename!r} cannot be unpacked ({e}); zip it again, with plain deflate and no password")
    labels = dest.joinpath(*csvs[0][1].parts)
    return labels.parent, labels


def _one_kind_each(paths: list[PurePosixPath]) -> None:
    """Refuse a member named twice, or both a file and a folder (``x.mp4`` and ``x.mp4/y.mp4``)."""
    files, folders = set(), set()
    for path in paths:
        if path in files:
            _refuse(f"it holds {path.as_posix()!r} twice; keep one")
        files.add(path)
        folders.update(path.parents)
    both = sorted(files & folders)
    if both:
        _refuse(f"{both[0].as_posix()!r} is both a file and a folder in it; rename one")
