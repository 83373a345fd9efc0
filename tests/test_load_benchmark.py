"""The readers and the table of ``python -m benchmarks.load --issue37`` (benchmarks/load_scans.py);
the load itself is run by hand, never here (it takes minutes and both cores)."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from benchmarks.load_scans import Watch, folder_usage, proc_threads, table


def test_proc_threads_counts_another_process_s_threads():
    """A quiet child with exactly 1 + 3 threads (this test process's own count moves with whatever
    earlier tests left running)."""
    code = ("import sys, threading\n"
            "go = threading.Event()\n"
            "[threading.Thread(target=go.wait, daemon=True).start() for _ in range(3)]\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        assert proc_threads(child.pid) == 4
    finally:
        child.communicate("\n", timeout=30)
    assert proc_threads() >= 1  # this process, by "self"


def test_folder_usage_counts_files_and_bytes_and_leaves_out_the_request_folders(tmp_path):
    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "clip.mp4").write_bytes(b"x" * 1000)
    (tmp_path / "tmp1").write_bytes(b"")
    (tmp_path / "videocam" / "abc").mkdir(parents=True)
    (tmp_path / "videocam" / "abc" / "frames.rgb").write_bytes(b"y" * 5000)
    (tmp_path / "upload" / "videocam").mkdir()  # only the top-level folder of that name is left out
    (tmp_path / "upload" / "videocam" / "a").write_bytes(b"z" * 7)
    assert folder_usage(tmp_path) == (4, 6007)
    assert folder_usage(tmp_path, skip="videocam") == (3, 1007)
    assert folder_usage(tmp_path / "videocam") == (1, 5000)
    assert folder_usage(tmp_path / "missing") == (0, 0)


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux's /proc")
def test_watch_keeps_the_peak_of_what_came_and_went(tmp_path):
    app = SimpleNamespace(pid=os.getpid(), cache_dir=tmp_path)
    spool = tmp_path / "videocam" / "abc" / "frames.rgb"
    spool.parent.mkdir(parents=True)
    spool.write_bytes(b"x" * 2**20)
    with Watch(app, interval=60) as watch:  # samples on entry and on exit (and every 60 s)
        start = watch.peak["rss_mb"]
        spool.unlink()
        # fresh pages from the kernel (a bytearray may reuse memory the process already holds
        # resident, after the rest of the suite ran in it), each touched: resident, then gone
        with mmap.mmap(-1, 96 * 2**20) as block:
            block[::4096] = b"\1" * len(block[::4096])
    assert watch.peak["request_files"] == 1 and watch.peak["request_mb"] == 1.0
    assert watch.peak["gradio_files"] == 0
    if watch.hwm_reset:  # the freed block is gone from VmRSS but not from the peak
        assert watch.peak["rss_mb"] >= start + 80


def _round(failed: int = 0) -> dict:
    snap = {"rss_mb": 1000.0, "threads": 7, "request_files": 0, "request_mb": 0.0, "gradio_files": 26,
            "gradio_mb": 5.0}
    return {"explains": {"requests": 120, "served": 120 - failed, "failed": failed,
                         "errors": ["TimeoutError: slow"] if failed else [], "p50_s": 6.2, "p95_s": 7.1, "max_s": 9.0},
            "scans": {"requests": 2, "failed": 0, "errors": [], "wall_s": [41.0, 43.5], "server_s": [30.1, None]},
            "wall_s": 95.3, "idle_s": 205, "settled_s": 390,
            "before": snap, "peak": {**snap, "rss_mb": 1913.4, "threads": 14, "request_files": 400, "request_mb": 260.0},
            "after_load": {**snap, "rss_mb": 1800.0}, "after_idle": {**snap, "request_files": 2, "request_mb": 124.0},
            "settled": {**snap, "rss_mb": 1768.0}}


def test_the_table_is_docs_load_table_with_a_row_per_round_and_each_figure():
    report = {"clients": 10, "per_client": 12, "scans": 2, "clips": ["bikes.mp4"] + ["s.mp4"] * 13,
              "video": {"name": "real_63s_720p.mp4", "seconds": 63, "size": "1280x720", "mb": 12.5},
              "rounds": [_round(), _round(failed=1)], "traceback_in_log": False}
    lines = table(report).splitlines()
    assert lines[:2] == ["| phase | result |", "|---|---|"]
    assert all(line.startswith("| ") and line.endswith(" |") and line.count(" | ") == 1 for line in lines[2:])
    text = "\n".join(lines)
    assert "10 concurrent `gradio_client` users x 12 explains (bikes.mp4 and the 13 samples) beside 2 " \
           "whole-video scans" in text and "63 s 1280x720 video" in text
    assert "**122/122 served, 0 failed**" in lines[2]
    assert "**121/122 served, 1 failed** (TimeoutError: slow)" in lines[3]
    assert "scans 41, 43.5 s (the scan itself: 30.1 s)" in lines[2]
    assert "round 1: 1000 → **1913** → 1800 → 1768 MB (390 s); round 2:" in text
    assert "round 1: 7 → 14 → 7 → 7 (390 s)" in text
    assert "0 files, 0 MB → 400 files, 260 MB → 2 files, 124 MB → 0 files, 0 MB (390 s)" in text
    assert lines[-1] == "| a traceback in the server's log | False |"
    one = table({**report, "rounds": [_round()]})  # one round: no "round N:" in the figures' cells
    assert "round 2" not in one and "| 7 → 14 → 7 → 7 (390 s) |" in one
