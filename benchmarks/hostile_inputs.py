"""Time every hostile or odd input of tests/hostile.py through the CLI and the app.

    python -m benchmarks.hostile_inputs [--no-app] [--json FILE]

Writes the corpus to a temporary folder, then for each file:

- the CLI's ``main(["explain", FILE, "--out", DIR])`` in this process (the model loads once per
  call, as in ``python -m core explain``, but the interpreter and torch import are paid once;
  one real ``python -m core explain`` is timed separately for that start-up cost): exit status,
  stderr, wall time, and decode / explain / render from result.json;
- the app (``harness.start_app``, on 127.0.0.1): ``/explain`` through gradio_client, wall time of
  the round trip, the result or the error message shown on the page.

Prints a markdown table (docs/reliability.md). The bound to check by eye: decode + explain within
5 s per input on the machine at hand; tests/test_hostile_inputs.py checks the outcomes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import save_json
from harness import ROOT, explain, samples, start_app
from tests.hostile import CASES  # the corpus is the tests' own, so both measure the same files


def _cli(path: Path, out: Path) -> dict:
    from core.cli import main

    err = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["explain", str(path), "--out", str(out)])
    row = {"exit": code, "wall_s": time.perf_counter() - t0, "message": err.getvalue().strip()}
    if code == 0:
        t = json.loads((out / "result.json").read_text())["timings_ms"]
        row.update(decode_s=t["decode"] / 1e3, explain_s=t["explain"] / 1e3, render_s=t["render"] / 1e3)
    return row


def _app(client, path: Path) -> dict:
    from gradio_client.exceptions import AppError

    t0 = time.perf_counter()
    try:
        row = {"outcome": "ok", "message": explain(client, path)["info"].split(" · ")[0]}
    except AppError as e:
        row = {"outcome": "error", "message": str(e)}
    row["wall_s"] = time.perf_counter() - t0
    return row


def _startup(path: Path, out: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core", "explain", str(path), "--out", str(out)],
                   capture_output=True, cwd=ROOT, check=False)
    return time.perf_counter() - t0


def _table(rows: list[dict]) -> str:
    lines = ["| input | what it is | CLI | decode + explain (render) | app | app round trip |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        c, a = r["cli"], r.get("app")
        cli = "exit 0" if c["exit"] == 0 else f"exit {c['exit']}: `{c['message'].removeprefix('error: ')}`"
        t = (f"{c['decode_s'] + c['explain_s']:.2f} s ({c['render_s']:.2f} s)" if c["exit"] == 0
             else f"{c['wall_s']:.2f} s")
        app = "—" if a is None else ("ok: " + a["message"] if a["outcome"] == "ok" else f"`{a['message']}`")
        lines.append(f"| `{r['id']}` | {r['what']} | {cli} | {t} | {app} | "
                     f"{'—' if a is None else format(a['wall_s'], '.2f') + ' s'} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-app", action="store_true", help="the CLI only")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="videocam-hostile-") as tmp:
        tmp = Path(tmp)
        paths = {c.id: c.build(tmp / "corpus") for c in CASES}
        _cli(paths["two_frames"], tmp / "out" / "warm-up")  # first-call costs, not the input's
        rows = [{"id": c.id, "file": c.file, "what": c.what,
                 "cli": _cli(paths[c.id], tmp / "out" / c.id)} for c in CASES]
        startup = _startup(paths["empty"], tmp / "out" / "startup")
        if not args.no_app:
            from gradio_client import Client

            with start_app(tmp / "app") as app:
                client = Client(app.url, verbose=False, analytics_enabled=False, download_files=False)
                _app(client, samples()[0][0])  # warm-up: the model loads
                for r in rows:
                    r["app"] = _app(client, paths[r["id"]])
                alive = _app(client, samples()[0][0])["outcome"] == "ok"
                traceback = "Traceback" in app.log_text()
    print(_table(rows))
    print(f"\n`python -m core explain` on the empty file, start-up included: {startup:.2f} s")
    if not args.no_app:
        print(f"app still serving afterwards: {alive}; a traceback in its log: {traceback}")
    save_json(args.json, rows)
    # a reliability check fails when the app died or logged a traceback on the way
    return 0 if args.no_app or (alive and not traceback) else 1


if __name__ == "__main__":
    sys.exit(main())
