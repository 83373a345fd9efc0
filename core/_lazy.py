"""A package's public names, each loaded from its module on first use (as torch-cam's
``__init__``), so importing the package costs nothing until a name is used."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping

__all__ = ["lazy_names"]


def lazy_names(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``; ``where`` maps each public name to the
    submodule (relative to the package) that defines it."""
    module = sys.modules[package]

    def __getattr__(name: str):
        sub = where.get(name)
        if sub is None:  # a submodule, as an eager package would have it (``core.video.read_frames``)
            if name.startswith("_") or importlib.util.find_spec(f"{package}.{name}") is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            return importlib.import_module(f".{name}", package)
        value = getattr(importlib.import_module(f".{sub}", package), name)
        setattr(module, name, value)  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(module), *where})

    return __getattr__, __dir__
