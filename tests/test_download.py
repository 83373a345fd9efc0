"""``python -m core download`` and the messages around it, never on the internet: a server on
127.0.0.1, or a port there where nothing listens (no network, as a machine offline sees it)."""

from __future__ import annotations

import functools
import http.server
import socket
import subprocess
import sys
import threading
from dataclasses import replace

import pytest
import torch

from core.cli import main
from core.models import registry, weights


def _closed_port() -> int:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub folder (without its checkpoints/ subfolder, as on a fresh machine)."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.fixture
def served(tmp_path):
    """A file server on 127.0.0.1 over tmp_path/www; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_download_offline_says_no_network_and_the_cli_flag(hub_dir, monkeypatch, capsys):
    url = f"http://127.0.0.1:{_closed_port()}/r3d_18-b3b3357e.pth"
    entry = registry._MODELS["r3d_18"]
    monkeypatch.setitem(registry._MODELS, "r3d_18", replace(entry, weights_url=lambda: url))
    assert main(["download", "r3d_18"]) == 2
    err = capsys.readouterr().err
    assert "no network" in err and "127.0.0.1 could not be reached" in err
    assert ".partial" not in err and "No such file" not in err
    assert "--weights PATH" in err  # the command line's way, not only Python's weights=PATH
    assert "python -m core download r3d_18" not in err  # not the command that just failed
    assert not list(hub_dir.rglob("*.partial"))


def test_download_into_a_fresh_cache_and_a_missing_file(hub_dir, served):
    base, root = served
    torch.save({"w": torch.arange(3.0)}, root / "tiny-0123.pth")
    state = weights.load_hub_state_dict(f"{base}/tiny-0123.pth", name="tiny", download=True)
    assert torch.equal(state["w"], torch.arange(3.0))
    assert (hub_dir / "checkpoints" / "tiny-0123.pth").is_file()  # the folder was made for it
    with pytest.raises(weights.WeightsError, match=r"answered HTTP 404") as e:
        weights.load_hub_state_dict(f"{base}/gone-0123.pth", name="gone", download=True)
    assert "--weights PATH" in str(e.value)


def test_not_downloaded_says_how_on_the_command_line(hub_dir):
    with pytest.raises(weights.WeightsError, match=r"python -m core download r3d_18.*--weights PATH"):
        registry.load_model("r3d_18", download=False)


@pytest.mark.slow  # a fresh interpreter (huggingface_hub reads HF_ENDPOINT when imported): ~4 s
def test_download_of_a_hub_id_offline_says_no_network_not_run_it_again(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}", HF_HOME=str(tmp_path / "hf"),
               HF_HUB_ETAG_TIMEOUT="5", HF_HUB_DOWNLOAD_TIMEOUT="5")
    r = subprocess.run([sys.executable, "-m", "core", "download", "org/tiny-videomae"], capture_output=True,
                       text=True, timeout=120, env=env, cwd=registry.CHECKPOINT_DIR.parent)
    assert r.returncode == 2, r.stderr
    assert "no network" in r.stderr and "python -m core download" not in r.stderr
    assert "save_pretrained" in r.stderr  # what to do instead
