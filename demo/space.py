"""Optional ZeroGPU support: ``gpu`` is ``spaces.GPU`` on a Hugging Face ZeroGPU Space and a
no-op elsewhere. Import this module before torch (app.py does), as ZeroGPU asks."""

from __future__ import annotations

try:
    import spaces  # only on Hugging Face Spaces
except ImportError:
    spaces = None

ON_ZERO_GPU = spaces is not None

__all__ = ["ON_ZERO_GPU", "gpu"]


def gpu(fn):
    """Run ``fn`` on a ZeroGPU slice when there is one; otherwise return it unchanged."""
    return spaces.GPU(fn) if spaces is not None else fn
