"""What a user waits for before any work: ``import core`` and a whole ``python -m core explain``,
side by side with ``import torch`` (the floor every torch program pays), in fresh processes.

    python -m benchmarks.startup [--rounds 9] [--sample demo/samples/dropping.mp4] [--tree DIR ...]

Each round runs every command once, in turn (so a drift in the machine's speed touches all of
them alike); the table gives each command's median wall time and its median ratio to ``import
torch`` taken round by round. ``--tree`` times the same commands in other checkouts too (e.g. an
older commit from ``git worktree add``), each in its own folder. Target (issue 22): the
explanation takes <= 1.4x ``import torch``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.4  # python -m core explain / python -c "import torch"


def commands(sample: str, out: str) -> dict[str, list[str]]:
    py = sys.executable
    return {
        "import torch": [py, "-c", "import torch"],
        "import core": [py, "-c", "import core"],
        "python -m core explain": [py, "-m", "core", "explain", sample, "--out", out],
    }


def _wall(cmd: list[str], cwd: Path) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def run(trees: list[Path], sample: str, rounds: int) -> dict[str, dict[str, list[float]]]:
    """{tree: {command: [seconds per round]}}, after one untimed warm-up round."""
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(str(Path(sample).resolve()), tmp)
        times = {str(t): {name: [] for name in cmds} for t in trees}
        for r in range(rounds + 1):
            for tree in trees:
                for name, cmd in cmds.items():
                    s = _wall(cmd, tree)
                    if r:  # round 0 warms the file cache
                        times[str(tree)][name].append(s)
    return times


def table(times: dict[str, dict[str, list[float]]]) -> list[str]:
    rows = ["| tree | command | median wall | / import torch (median of rounds) |", "|---|---|---|---|"]
    for tree, cmds in times.items():
        base = cmds["import torch"]
        for name, s in cmds.items():
            ratio = statistics.median(a / b for a, b in zip(s, base, strict=True))
            rows.append(f"| {tree} | `{name}` | {statistics.median(s):.2f} s | {ratio:.2f}x |")
    rows.append("")
    for tree, cmds in times.items():
        for name, s in cmds.items():
            rows.append(f"{tree} `{name}` each round, s: {', '.join(f'{v:.2f}' for v in s)}")
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--sample", default="demo/samples/dropping.mp4")
    p.add_argument("--tree", nargs="*", default=[], help="other checkouts to time as well")
    a = p.parse_args(argv)
    trees = [Path.cwd(), *(Path(t).resolve() for t in a.tree)]
    times = run(trees, a.sample, a.rounds)
    print("\n".join(table(times)))
    mine = times[str(trees[0])]
    ratio = statistics.median(a / b for a, b in zip(mine["python -m core explain"], mine["import torch"], strict=True))
    print(f"\npython -m core explain / import torch: {ratio:.2f}x (target <= {TARGET}x): "
          f"{'PASS' if ratio <= TARGET else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
