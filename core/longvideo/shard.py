"""Many videos, more than one process: ``python -m core timeline --list FILE`` under ``torchrun``.

Each rank takes every ``WORLD_SIZE``-th video of the list, starting at its ``RANK`` (one process
per GPU, on ``cuda:LOCAL_RANK``; across nodes as torchrun numbers them), and writes each video's
files into its own folder under ``--out``. When all ranks are done, their records are gathered
(over the process group: no shared file system needed) and rank 0 writes ``summary.json``.
Without torchrun the same code runs as one rank.
"""

from __future__ import annotations

import atexit
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from ..errors import SettingsError

__all__ = ["Rank", "gather_records", "out_dirs", "read_list", "this_rank", "write_summary"]

# How long a rank that is done waits for the slowest one (the shares need not take equal time).
_WAIT = timedelta(hours=48)


@dataclass(frozen=True)
class Rank:
    rank: int = 0
    world: int = 1
    local: int = 0

    def take(self, items: Sequence, start: int = 0) -> list:
        """This rank's share of ``items``: every ``world``-th one, from ``rank`` on. ``start``: the
        position of ``items[0]`` in a longer run the ranks share out without waiting for each other
        between lists (the benchmark's models): turns go on across lists, so two lists of 13 on two
        ranks split 13 and 13, not 14 and 12."""
        return list(items[(self.rank - start) % self.world :: self.world])

    def device(self, requested: str) -> str:
        """``cuda:LOCAL_RANK`` for one process per GPU; otherwise what was asked for."""
        if self.world > 1 and requested in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local % torch.cuda.device_count()}"
        return requested


def this_rank() -> Rank:
    """The rank torchrun gave this process (its environment variables), else a single rank."""
    env = os.environ
    return Rank(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def read_list(path: str | os.PathLike) -> list[str]:
    """Video paths, one per line; blank lines and ``#`` comments skipped; relative paths are
    taken from the list file's folder."""
    p = Path(path)
    if not p.is_file():
        raise SettingsError(f"--list {path}: no such file; give a text file with one video path per line")
    videos = []
    for line in p.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            v = Path(line)
            videos.append(str(v if v.is_absolute() else p.parent / v))
    if not videos:
        raise SettingsError(f"--list {path}: lists no videos")
    return videos


def out_dirs(videos: Sequence[str], out: str | os.PathLike) -> list[Path]:
    """One output folder per video, named after its file (``clip``, ``clip_2``, ... on a clash),
    the same on every rank, since every rank sees the whole list."""
    seen: dict[str, int] = {}
    dirs = []
    for v in videos:
        stem = Path(v).stem or "video"
        seen[stem] = seen.get(stem, 0) + 1
        dirs.append(Path(out) / (stem if seen[stem] == 1 else f"{stem}_{seen[stem]}"))
    return dirs


def gather_records(rank: Rank, records: list[dict], write: Callable[[list[dict]], None]) -> None:
    """Collect every rank's records on rank 0 and ``write`` them there (in list order)."""
    if rank.world == 1:
        write(records)
        return
    if not dist.is_initialized():  # gloo moves Python objects on CPU: no GPU needed for this
        # one group for the process's life: a group made again under torchrun (a second model of
        # the benchmark) reads the first one's addresses from torchrun's store, and a rank that
        # gets there first fails to connect to them ("Connection refused")
        dist.init_process_group("gloo", timeout=_WAIT)
        atexit.register(dist.destroy_process_group)
    everything: list | None = [None] * rank.world if rank.rank == 0 else None
    dist.gather_object(records, everything, dst=0)
    if rank.rank == 0:
        write(sorted((r for part in everything for r in part), key=lambda r: r["index"]))


def write_summary(path: Path, records: list[dict], **info) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**info, "videos": records}, indent=1))
