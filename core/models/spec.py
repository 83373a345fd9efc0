"""What a model expects and offers: one frozen record per registered model."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ModelSpec"]

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# A model that samples its clip uniformly saw whole short clips in training; with no record of
# how long, a timeline assumes this many seconds (Something-Something clips average about 4 s;
# the project's rendered ones are 1.5-4 s).
DEFAULT_CLIP_SECONDS = 3.0


@dataclass(frozen=True)
class ModelSpec:
    """Everything the decode, explain and render stages need to know about a model.

    ``resize_size`` follows torchvision: an ``int`` resizes the short side then centre-crops
    ``input_size``; a ``(h, w)`` pair resizes to exactly that then centre-crops; ``None`` resizes
    the whole frame straight to ``input_size`` (no crop, so a CAM maps back onto every pixel).
    ``layout`` names how the target layers' outputs are laid out (a key of
    ``core.cam.layouts.LAYOUTS``: ``channels_first`` (N, C, t, h, w) for 3D CNNs).
    """

    name: str
    categories: tuple[str, ...]
    num_frames: int
    input_size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    layers: tuple[str, ...]
    default_layer: str
    resize_size: int | tuple[int, int] | None = None
    sampling: str = "uniform"
    sample_fps: float | None = None
    layout: str = "channels_first"
    description: str = ""
    weights_hint: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def num_classes(self) -> int:
        return len(self.categories)

    @property
    def clip_seconds(self) -> float:
        """How much time one model clip covers: ``num_frames / sample_fps`` for a model sampled at
        a fixed rate; else ``meta["clip_seconds"]``, else :data:`DEFAULT_CLIP_SECONDS`."""
        if self.sampling == "fps" and self.sample_fps:
            return self.num_frames / float(self.sample_fps)
        return float(self.meta.get("clip_seconds") or DEFAULT_CLIP_SECONDS)

    @property
    def clip_rate(self) -> float:
        """Frames per second of the model's own clip (what a timeline samples a long video at)."""
        return self.num_frames / self.clip_seconds

    @property
    def layer_paths(self) -> dict[str, str]:
        """Layer name -> module path, for names that are aliases (``stage4`` -> ``features.6``)."""
        return self.meta.get("layer_paths") or {}
