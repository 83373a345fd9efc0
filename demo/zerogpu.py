"""Whether this process is a ZeroGPU Space's main process, and where it loads its models.

Apart from demo/space.py (the calls across to ZeroGPU's worker) so that demo/models.py, which
demo/space.py uses, can ask where to load a model without importing it back.
"""

from __future__ import annotations

import logging
import os

__all__ = ["ON_ZERO_GPU", "main_device", "spaces"]

# A ZeroGPU Space sets SPACES_ZERO_GPU (spaces/config.py reads it so); elsewhere `spaces` is not
# even imported (its import costs ~0.5 s and changes nothing off ZeroGPU).
spaces = None
if os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true"):
    try:
        import spaces  # only on Hugging Face Spaces (and in the tests that play one)
    except ImportError:
        logging.getLogger(__name__).warning("SPACES_ZERO_GPU is set but the `spaces` package is not "
                                            "installed: running without ZeroGPU (add it to requirements.txt)")

ON_ZERO_GPU = spaces is not None and bool(getattr(spaces.config.Config, "zero_gpu", False))


def main_device() -> str:
    """Where this process loads models: the CPU on ZeroGPU (only its worker may touch CUDA),
    else ``auto`` (CUDA when there is one)."""
    return "cpu" if ON_ZERO_GPU else "auto"
