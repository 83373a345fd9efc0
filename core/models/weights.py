"""Where weights come from: the project's safetensors checkpoints and torchvision's files.

Project checkpoints are ``NAME.safetensors`` plus ``NAME.json`` metadata. They are read with
``safetensors`` only, so loading one can never run code; the JSON records the sha256 of the
tensors file and loading refuses a file that does not match. torchvision weights are looked for
in the torch hub cache (``torch.hub.get_dir()/checkpoints``) and read with
``torch.load(weights_only=True)``; they are downloaded only when the caller allows it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from .._shipped import CHECKPOINTS
from ..errors import WeightsError

__all__ = [
    "CHECKPOINT_DIR",
    "WeightsError",
    "file_sha256",
    "hub_file",
    "load_checkpoint",
    "load_hub_state_dict",
    "save_checkpoint",
]

# The shipped checkpoints (in a clone or installed: core/_shipped.py); VIDEOCAM_CHECKPOINTS points
# elsewhere (e.g. a freshly trained model).
CHECKPOINT_DIR = Path(os.environ.get("VIDEOCAM_CHECKPOINTS") or CHECKPOINTS)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_checkpoint(state_dict: dict[str, torch.Tensor], meta: dict, path: str | Path) -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` metadata (with the sha256 filled in)."""
    from safetensors.torch import save_file

    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    save_file(tensors, str(path))
    meta = dict(meta, weights_file=path.name, sha256=file_sha256(path))
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a project checkpoint: (state_dict, metadata). Never unpickles anything."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    if path.suffix != ".safetensors":
        raise WeightsError(
            f"{path}: only .safetensors checkpoints are loaded (pickled .pt/.pth files can run code)"
        )
    meta_path = path.with_suffix(".json")
    if not path.is_file():
        raise WeightsError(f"checkpoint {path} not found")
    if not meta_path.is_file():
        raise WeightsError(f"checkpoint metadata {meta_path} not found (it sits beside the weights)")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise WeightsError(f"{meta_path} is not valid JSON: {e}") from e
    want = meta.get("sha256")
    if want and file_sha256(path) != want:
        raise WeightsError(f"{path} does not match the sha256 in {meta_path.name}; re-download or retrain it")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{path} is not a readable safetensors file: {e}") from e
    return state, meta


def hub_file(url: str) -> Path:
    """Where torch.hub keeps (or would keep) the file behind ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name


def load_hub_state_dict(url: str, *, name: str, download: bool) -> dict[str, torch.Tensor]:
    """torchvision weights from the hub cache, downloading them only if ``download``."""
    path = hub_file(url)
    local = (f"copy the file to {path} by hand, or point at a local copy (`--weights PATH` on the "
             "command line, `weights=PATH` in Python)")
    if not path.is_file():
        if not download:
            raise WeightsError(
                f"weights for {name} are not on this machine (looked for {path}). Get them with "
                f"`python -m core download {name}` where there is internet, or {local}."
            )
        path.parent.mkdir(parents=True, exist_ok=True)  # torch.hub writes a .partial file beside it
        try:
            torch.hub.download_url_to_file(url, str(path), progress=True)
        except Exception as e:  # network errors come in many types (URLError, HTTPError, timeouts, ...)
            raise WeightsError(f"could not download weights for {name}: {_why(e, url)}. Try again with a "
                               f"connection, or {local}.") from e
    return read_torch_file(path)


def _why(error: Exception, url: str) -> str:
    """What went wrong with a download, in words: no network, the server's answer, or the error."""
    import socket
    import urllib.error
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or url
    if isinstance(error, urllib.error.HTTPError):
        return f"{host} answered HTTP {error.code} {error.reason} for {url}"
    if isinstance(error, urllib.error.URLError):  # the request never got an answer: DNS, refused, TLS
        return f"no network: {host} could not be reached ({error.reason})"
    if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror)):  # the answer broke off
        return f"no network: the connection to {host} failed ({error})"
    return f"{type(error).__name__}: {error} (while fetching {url})"  # e.g. the disk, not the network


def read_torch_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A torchvision .pth file, read with the restricted (weights-only) unpickler."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the restricted unpickler raises UnpicklingError, RuntimeError, ...
        raise WeightsError(f"{path} is not a plain tensor file torch can load safely: {e}") from e
