"""How to explain: the options as enums, and one frozen, validated record that carries them.

The page's choices and the CLI's ``choices=`` are generated from these enums, and a
:class:`Settings` is validated once, where it is built (the page, the CLI or the API), then
carried unchanged into the engine and stored in the :class:`~core.cam.result.Explanation`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .._choice import Choice as _Choice
from ..errors import SettingsError

__all__ = ["Method", "Normalize", "Pooling", "Settings"]


class Method(_Choice):
    """The Grad-CAM family (see :func:`core.cam.methods.cam_from_gradients`)."""

    GRADCAM = "gradcam", "Grad-CAM"
    GRADCAMPP = "gradcampp", "Grad-CAM++"
    HIRESCAM = "hirescam", "HiResCAM"
    XGRADCAM = "xgradcam", "XGrad-CAM"
    LAYERCAM = "layercam", "LayerCAM"


class Pooling(_Choice):
    """How gradients become channel weights: one per channel for the clip (the 2017 post), or one
    per channel per time step (SlowFast/MMAction2)."""

    CLIP = "clip", "one weight per channel for the clip"
    FRAME = "frame", "per frame"


class Normalize(_Choice):
    """What the maps are scaled to [0, 1] over: the whole clip, or each frame on its own."""

    CLIP = "clip", "over the whole clip"
    FRAME = "frame", "each frame on its own"


_KINDS = {"method": Method, "pooling": Pooling, "normalize": Normalize}


@dataclass(frozen=True)
class Settings:
    """Method, pooling, normalisation and target layer of an explanation, validated on creation.

    Strings are accepted and turned into the enums (``Settings(method="layercam")``); anything
    else raises :class:`~core.errors.SettingsError`. ``layer`` is a layer name of the model (or
    ``None``: the model's default layer); the engine checks it against the model.
    """

    method: Method = Method.GRADCAM
    pooling: Pooling = Pooling.CLIP
    normalize: Normalize = Normalize.CLIP
    layer: str | None = None

    def __post_init__(self):
        for name, kind in _KINDS.items():
            object.__setattr__(self, name, kind.parse(getattr(self, name), name))
        if self.layer is not None and (not isinstance(self.layer, str) or not self.layer.strip()):
            raise SettingsError(f"layer={self.layer!r}; give a layer name, or None for the model's default")

    def to_dict(self) -> dict:
        return {f.name: str(getattr(self, f.name)) if getattr(self, f.name) is not None else None
                for f in fields(self)}
