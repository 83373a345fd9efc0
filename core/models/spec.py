"""What a model expects and offers: one frozen record per registered model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..options import Choice
from ..video import Sampling

__all__ = ["Layout", "ModelSpec", "Sampling"]

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# A model that samples its clip uniformly saw whole short clips in training; with no record of
# how long, a timeline assumes this many seconds (Something-Something clips average about 4 s;
# the project's rendered ones are 1.5-4 s).
DEFAULT_CLIP_SECONDS = 3.0


class Layout(Choice):
    """How a target layer's output is laid out; the values are the keys of
    :data:`core.cam.layouts.LAYOUTS` (one function each turns the output into (N, C, t, h, w))."""

    CHANNELS_FIRST = "channels_first", "(N, C, t, h, w): 3D CNNs"
    CHANNELS_LAST = "channels_last", "(N, t, h, w, C): Swin3D stages"
    TOKENS = "tokens", "(N, L, C) tokens in (t, h, w) order: MViT, VideoMAE, ViViT"
    TOKENS_HWT = "tokens_hwt", "(N, L, C) tokens in (h, w, t) order: TimeSformer"


@dataclass(frozen=True)
class ModelSpec:
    """Everything the decode, explain and render stages need to know about a model.

    ``resize_size`` follows torchvision: an ``int`` resizes the short side then centre-crops
    ``input_size``; a ``(h, w)`` pair resizes to exactly that then centre-crops; ``None`` resizes
    the whole frame straight to ``input_size`` (no crop, so a CAM maps back onto every pixel).
    ``sampling`` (:class:`Sampling`) and ``layout`` (:class:`Layout`) take a member or its
    string, parsed once here.

    What the engine needs to find inside the model:

    - ``layer_paths``: layer name -> module path, for names that are aliases (``stage4`` ->
      ``features.6``); a name not in it is its own path.
    - ``token_grid``: the (t, h, w) grid of a token layout's patch tokens, when the layer's output
      does not carry it (Hugging Face models; MViT blocks return theirs).
    - ``head``: the module path of the classifier head (``fc``, ``classifier``, ``head``,
      ``model.classifier``): the first module the sanity check re-initialises.
    - ``clip_seconds``: how long one training clip of a uniformly sampled model lasted, if known.
    - ``checkpoint``: the JSON record of the checkpoint the weights came from, if any.
    - ``default_method``: the method an explanation uses when none is given (a
      :class:`core.Method` value); with ``default_layer``, the best *measured* one for the shipped
      models and their families (:mod:`core.models.measured`).
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
    sampling: Sampling = Sampling.UNIFORM
    sample_fps: float | None = None
    layout: Layout = Layout.CHANNELS_FIRST
    description: str = ""
    weights_hint: str = ""
    layer_paths: Mapping[str, str] = field(default_factory=dict, hash=False)
    token_grid: tuple[int, int, int] | None = None
    head: str | None = None
    clip_seconds: float | None = None
    checkpoint: Mapping | None = field(default=None, compare=False, hash=False, repr=False)
    default_method: str = "gradcam"

    def __post_init__(self):
        what = f"ModelSpec {self.name!r}:"
        object.__setattr__(self, "sampling", Sampling.parse(self.sampling, f"{what} sampling"))
        object.__setattr__(self, "layout", Layout.parse(self.layout, f"{what} layout"))
        object.__setattr__(self, "layer_paths", dict(self.layer_paths or {}))
        if self.token_grid is not None:
            object.__setattr__(self, "token_grid", tuple(int(v) for v in self.token_grid))

    @property
    def num_classes(self) -> int:
        """How many classes the model tells apart (its logits' length)."""
        return len(self.categories)

    @property
    def clip_duration(self) -> float:
        """How much time one model clip covers: ``num_frames / sample_fps`` for a model sampled at
        a fixed rate; else ``clip_seconds``, else :data:`DEFAULT_CLIP_SECONDS`."""
        if self.sampling == Sampling.FPS and self.sample_fps:
            return self.num_frames / float(self.sample_fps)
        return float(self.clip_seconds or DEFAULT_CLIP_SECONDS)

    @property
    def clip_rate(self) -> float:
        """Frames per second of the model's own clip (what a timeline samples a long video at)."""
        return self.num_frames / self.clip_duration
