"""What the app serves and to whom: only its own outputs and samples, never a server file, never
another session's result; uploads over the size limit are refused.

(Checkpoints: safetensors only, a planted pickle is refused: tests/test_models.py.)
"""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import app_server
import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from demo.config import MAX_FILE_SIZE_MB

pytestmark = pytest.mark.slow

PASSWD = Path("/etc/passwd").read_bytes().splitlines()[0]  # "root:x:0:0:..."
APP_PY = (app_server.ROOT / "app.py").read_bytes()


def _get(url: str, raw_path: str) -> tuple[int, bytes]:
    """GET ``raw_path`` exactly as written: no client-side normalisation of '..' or '%2f'."""
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    try:
        conn.request("GET", raw_path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _ups(n: int, sep: str) -> str:
    return sep.join([".."] * n) + sep


@pytest.mark.parametrize("path", [
    "/gradio_api/file=/etc/passwd",
    "/file=/etc/passwd",
    "/gradio_api/file/etc/passwd",
    "/gradio_api/file=/proc/self/environ",
    "/gradio_api/file=" + _ups(12, "%2f") + "etc%2fpasswd",
    "/gradio_api/file=" + _ups(12, "/") + "etc/passwd",
    "/gradio_api/file=" + _ups(12, "%2F").replace("..", "%2e%2e") + "etc/passwd",
    "/gradio_api/file=" + _ups(12, "%252f") + "etc%252fpasswd",
    "/gradio_api/file=" + _ups(12, "%5c") + "etc%5cpasswd",
    "/gradio_api/file=app.py",
    "/gradio_api/file=" + str(app_server.ROOT / "app.py"),
    "/static/" + _ups(8, "%2f") + "etc/passwd",
    "/assets/" + _ups(8, "%2f") + "etc/passwd",
    "/gradio_api/upload/" + _ups(8, "%2f") + "etc/passwd",
])
def test_no_server_file_is_served(app_url, path):
    status, body = _get(app_url, path)
    assert PASSWD not in body and APP_PY not in body, (path, status)
    assert b"PATH=" not in body  # /proc/self/environ
    if path.startswith(("/gradio_api/file", "/file")):
        assert status in (403, 404), (path, status)


def test_paths_next_to_the_cache_are_refused(app_url):
    """The server's own log sits beside its cache folder; a relative climb out is refused."""
    log = app_server.log_path()
    for path in (log, f"{app_server.cache_dir()}/../{log.name}", f"{app_server.cache_dir()}/..%2f{log.name}"):
        status, body = _get(app_url, f"/gradio_api/file={path}")
        assert status == 403 and b"Running on" not in body, path


def _files(client: Client, video, label: str = "") -> dict[str, str]:
    """name -> the server path of each download, as a page would link it."""
    return {Path(f["path"]).name: f["path"] for f in app_server.explain(client, video, label)["files"]}


def test_results_are_per_request_and_not_shared(app_url):
    (video_a, label_a), (video_b, label_b) = app_server.samples()[:2]
    alice = Client(app_url, verbose=False, analytics_enabled=False, download_files=False)
    bob = Client(app_url, verbose=False, analytics_enabled=False, download_files=False)
    first = _files(alice, video_a, label_a)
    bobs = _files(bob, video_b, label_b)
    again = _files(alice, video_a, label_a)
    folders = {Path(f["result.json"]).parent for f in (first, bobs, again)}
    assert len(folders) == 3  # a new folder per request: nothing is overwritten or shared
    for files, label in ((first, label_a), (bobs, label_b), (again, label_a)):
        status, body = _get(app_url, f"/gradio_api/file={files['result.json']}")
        assert status == 200 and json.loads(body)["true_label"] == label

    # Guessing from Alice's link: no listing, no neighbour, no made-up request folder.
    mine = Path(first["result.json"])
    for guess in (mine.parent, mine.parent.parent, mine.parent / "secret.json",
                  mine.parent.parent / uuid.uuid4().hex / "result.json"):
        status, body = _get(app_url, f"/gradio_api/file={guess}")
        assert status == 403 and b"true_label" not in body, guess


@pytest.mark.parametrize(("api_name", "args"), [
    ("/retarget", ("{a}",)), ("/export", ("{a}",)), ("/top5", ()), ("/contrast", ("{a}", "{b}")),
])
def test_a_new_session_sees_no_other_sessions_clip(app_url, client, api_name, args):
    (video, label), (_, other) = app_server.samples()[:2]
    app_server.explain(client, video, label)  # someone else's session
    stranger = Client(app_url, verbose=False, analytics_enabled=False, download_files=False)
    with pytest.raises(AppError, match="Explain a clip first"):
        stranger.predict(*[a.format(a=label, b=other) for a in args], api_name=api_name)


def _cache_bytes() -> int:
    return sum(p.stat().st_size for p in Path(app_server.cache_dir()).rglob("*") if p.is_file())


def test_uploads_over_the_size_limit_are_refused(app_url, client, tmp_path):
    big = tmp_path / "big.mp4"
    with open(big, "wb") as f:  # sparse: costs no disk here, but every byte is sent
        f.truncate((MAX_FILE_SIZE_MB + 1) * 2**20)
    before = _cache_bytes()
    # gradio_client reads the limit from the page's config and refuses before sending ...
    with pytest.raises(ValueError, match=f"exceeds the maximum file size of {MAX_FILE_SIZE_MB * 2**20}"):
        app_server.explain(client, big)
    # ... and the server refuses whatever sends it anyway, keeping nothing of it
    with open(big, "rb") as f:
        r = httpx.post(f"{app_url}/gradio_api/upload", files={"files": ("big.mp4", f, "video/mp4")},
                       timeout=60)
    assert r.status_code == 413 and "maximum allowed size" in r.text
    assert _cache_bytes() == before
    video, label = app_server.samples()[0]
    assert app_server.explain(client, video, label)["heatmap"]  # still serving
