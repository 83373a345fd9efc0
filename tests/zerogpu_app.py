"""app.py as a ZeroGPU Space's main process, with the real ``spaces`` package: for test_zerogpu.py.

    SPACES_ZERO_GPU=true python tests/zerogpu_app.py COUNTS_FILE [--patch-torch]

Only the device API is replaced: ``spaces.zero.client``'s ``schedule``/``allow``/``release``/
``startup_report`` (HTTP calls to ZeroGPU's scheduler) by counters written to COUNTS_FILE (JSON:
``schedule``, ``release``, ``failed``, ``durations``), and ``spaces.zero.torch.init`` (which puts
the forked worker on the GPU it was given). Without ``--patch-torch``, spaces' CUDA emulation is
switched off right after import, so the forked worker runs the model on this machine's CPU; with
it, the main process keeps the emulation, as on a Space, and the worker fails to reach a GPU
(there is none here): what that test looks at is what happens before.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fake_device_api(counts_file: Path) -> None:
    from spaces.zero import client
    from spaces.zero import torch as zero_torch
    from spaces.zero.api import ScheduleResponse

    counts = {"schedule": 0, "release": 0, "failed": 0, "durations": []}
    lock = threading.Lock()

    def save():
        tmp = counts_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(counts))
        tmp.replace(counts_file)

    def schedule(task_id, request=None, duration=None, gpu_size=None, _first_attempt=True):
        with lock:
            counts["schedule"] += 1
            counts["durations"].append(None if duration is None else duration.total_seconds())
            save()
        return ScheduleResponse(idle=True, nvidiaIndex=0, nvidiaUUID="GPU-test", allowToken=f"t{counts['schedule']}")

    def release(allow_token, *, fail=False, allow_404=False):
        with lock:
            counts["release"] += 1
            counts["failed"] += bool(fail)
            save()

    client.schedule, client.release = schedule, release
    client.allow = lambda allow_token: None
    client.startup_report = lambda: None
    zero_torch.init = lambda nvidia_uuid: None
    save()


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (spaces' forked workers), from /proc."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(stat.parent.name))
    return kids


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class ZeroGPUApp:
    """This launcher's app in a subprocess, with a gradio_client ``client``."""

    def __init__(self, folder: Path, *, patch_torch: bool):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        folder.mkdir(parents=True, exist_ok=True)
        self.counts_file, self.log = folder / "counts.json", folder / "app.log"
        env = {**os.environ, "SPACES_ZERO_GPU": "true", "SPACES_ZERO_DEVICE_API_URL": "http://127.0.0.1:9",
               "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_NAME": "127.0.0.1",
               "GRADIO_SERVER_PORT": str(port), "GRADIO_TEMP_DIR": str(folder / "gradio"),
               "ZEROGPU_OFFLOAD_DIR": str(folder / "offload"), "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
        args = [sys.executable, str(ROOT / "tests" / "zerogpu_app.py"), str(self.counts_file)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args + (["--patch-torch"] if patch_torch else []), cwd=ROOT, env=env,
                                         stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            self.stop()
            raise RuntimeError("the app did not answer within 120 s")
        from gradio_client import Client

        self.client = Client(self.url, verbose=False, analytics_enabled=False)

    def counts(self) -> dict:
        return json.loads(self.counts_file.read_text())

    def stop(self) -> list[int]:
        """Stop the app; the workers it had."""
        workers = children(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        return workers


def main() -> None:
    counts_file = Path(sys.argv[1])
    patch_torch = "--patch-torch" in sys.argv[2:]
    sys.argv = [str(ROOT / "app.py")]
    import spaces  # noqa: F401  (as app.py's demo.space would, first)
    from spaces.zero import torch as zero_torch

    if not patch_torch:
        zero_torch.unpatch()  # CUDA as this machine has it (none): the worker runs on the CPU
        zero_torch.unpatch = lambda: None  # done: the worker's own unpatch would fail on it
        zero_torch.move = lambda callback=None: None
    _fake_device_api(counts_file)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    runpy.run_path(str(ROOT / "app.py"), run_name="__main__")


if __name__ == "__main__":
    main()
