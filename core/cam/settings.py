"""How to explain: the options as enums, and one frozen, validated record that carries them.

The page's choices and the CLI's ``choices=`` are generated from these enums, and a
:class:`Settings` is validated once, where it is built (the page, the CLI or the API), then
carried unchanged into the engine and stored in the :class:`~core.cam.result.Explanation`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from ..errors import SettingsError
from ..options import Choice as _Choice

if TYPE_CHECKING:
    from ..attribution.perturb import Perturbation

__all__ = ["ATTENTION_METHODS", "PERTURBATION_METHODS", "Method", "Normalize", "Pooling", "Settings"]


class Method(_Choice):
    """The Grad-CAM family at a layer (see :func:`core.cam.methods.cam_from_gradients`), then the
    methods of :mod:`core.attribution`, which need no layer: a video transformer's own attention
    (``rollout``, ``relevance``, ``attnlrp``) and perturbations of the clip that any model answers
    (``occlusion``, ``rise``). What each needs and how it runs is its entry in
    :mod:`core.cam.registry`, where a method of your own adds itself to this enum."""

    # the Grad-CAM family, at a layer
    GRADCAM = "gradcam", "Grad-CAM"
    GRADCAMPP = "gradcampp", "Grad-CAM++"
    HIRESCAM = "hirescam", "HiResCAM"
    XGRADCAM = "xgradcam", "XGrad-CAM"
    LAYERCAM = "layercam", "LayerCAM"
    # a video transformer's own attention
    ROLLOUT = "rollout", "Attention rollout (class-agnostic)"
    RELEVANCE = "relevance", "Attention relevance"
    ATTNLRP = "attnlrp", "AttnLRP"
    # perturbations of the clip, which any model answers
    OCCLUSION = "occlusion", "Occlusion"
    RISE = "rise", "RISE"


# The built-in groups, by name; the engine reads each method's registered entry instead
# (core.cam.registry: needs_tokens, params), which a method of your own has too
ATTENTION_METHODS = (Method.ROLLOUT, Method.RELEVANCE, Method.ATTNLRP)  # read a Hugging Face video transformer's attention
PERTURBATION_METHODS = (Method.OCCLUSION, Method.RISE)  # any model: many forward passes of changed clips


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
    """Method, pooling, normalisation, target layer and perturbation of an explanation, validated
    on creation.

    Strings are accepted and turned into the enums (``Settings(method="layercam")``); anything
    else raises :class:`~core.errors.SettingsError`. ``layer`` is a layer name of the model (or
    ``None``: the model's default layer); the engine checks it against the model.
    ``perturbation``: occlusion's and RISE's window, stride, masks, baseline and seed, a
    :class:`core.attribution.Perturbation` or a dict of its fields (``None``: its defaults).
    The engine stores what it used: the layer's name for the Grad-CAM family, ``layer=None`` for
    the methods that need none, and ``perturbation=None`` for the methods that take none.
    """

    method: Method = Method.GRADCAM
    pooling: Pooling = Pooling.CLIP
    normalize: Normalize = Normalize.CLIP
    layer: str | None = None
    perturbation: Perturbation | None = None

    def __post_init__(self):
        for name, kind in _KINDS.items():
            object.__setattr__(self, name, kind.parse(getattr(self, name), name))
        if self.layer is not None and (not isinstance(self.layer, str) or not self.layer.strip()):
            raise SettingsError(f"layer={self.layer!r}; give a layer name, or None for the model's default")
        if self.perturbation is not None:
            from ..attribution.perturb import Perturbation

            p = self.perturbation
            if isinstance(p, dict):
                try:
                    p = Perturbation(**p)
                except TypeError:
                    known = ", ".join(f.name for f in fields(Perturbation))
                    raise SettingsError(f"perturbation={p!r}; its fields are {known}") from None
            elif not isinstance(p, Perturbation):
                raise SettingsError(f"perturbation={p!r}; give a core.attribution.Perturbation or a dict of its fields")
            object.__setattr__(self, "perturbation", p)

    def to_dict(self) -> dict:
        """The enums and the layer as strings (the perturbation is recorded by the explanation)."""
        return {f.name: str(getattr(self, f.name)) if getattr(self, f.name) is not None else None
                for f in fields(self) if f.name != "perturbation"}
