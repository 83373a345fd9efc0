"""What an explanation is: data only (detached CPU tensors + metadata). Drawing is elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..familiarity import Familiarity
from ..transforms import maps_to_frames
from .settings import Settings

__all__ = ["Explanation", "Target"]


@dataclass(frozen=True)
class Target:
    """What a map explains: the logit of ``index``, or ``index`` minus ``minus`` (a contrast)."""

    index: int
    label: str
    minus: int | None = None
    minus_label: str | None = None

    @property
    def name(self) -> str:
        return self.label if self.minus is None else f"{self.label} minus {self.minus_label}"


@dataclass(frozen=True)
class Explanation:
    """One clip explained for one or more targets.

    Tensors are detached, on the CPU, float32:
    ``logits``/``probs`` (num_classes,); ``raw_maps`` (K, t, h', w') on the method's own grid, not
    normalised (the Grad-CAM family: the layer's, after ReLU; ``rollout``/``relevance``/``attnlrp``: the
    token grid, attnlrp's signed; ``occlusion``: the stride grid, a window's drop in score, which may be negative;
    ``rise``: the model input's, may be negative); ``maps`` (K, T, h, w) over the model input, normalised to [0, 1];
    ``temporal_importance`` (K, T): each target's share of CAM mass per sampled frame (sums to 1).
    """

    model: str
    settings: Settings  # as used: ``settings.layer`` is the resolved layer name
    categories: tuple[str, ...]
    targets: tuple[Target, ...]
    logits: torch.Tensor
    probs: torch.Tensor
    raw_maps: torch.Tensor
    maps: torch.Tensor
    temporal_importance: torch.Tensor
    crop_box: tuple[int, int, int, int]
    frame_size: tuple[int, int]
    frame_indices: tuple[int, ...] = ()
    timestamps: tuple[float, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    cached_forward: bool = False
    # what the method ran: ``forward_passes`` (0 when the forward pass was cached) and its
    # parameters (occlusion's window and stride, RISE's masks and seed, what rollout reads, ...)
    method_info: dict = field(default_factory=dict)
    # the model's defaults the explanation applied because the caller left them out: ``method``
    # (and ``layer``) and ``source``, the table they were measured in (core.models.measured)
    defaults: dict = field(default_factory=dict)
    # how far the clip lies from the model's training data (core.familiarity), or None when the
    # model's checkpoint carries no feature statistics (Hub and torchvision models)
    familiarity: Familiarity | None = None
    # the clip's sampled frames (T, H, W, 3) uint8 as given (the caller's tensor, not a copy), or
    # None when a model-input tensor was explained: what a notebook draws the heatmap on
    frames: torch.Tensor | None = field(default=None, repr=False, compare=False)

    # The settings' fields, read straight off the explanation (``exp.layer``, ``exp.method``, ...)
    layer = property(lambda self: self.settings.layer, doc="the layer explained (its name)")
    method = property(lambda self: self.settings.method, doc="a :class:`Method`")
    pooling = property(lambda self: self.settings.pooling, doc="a :class:`Pooling`")
    normalize = property(lambda self: self.settings.normalize, doc="a :class:`Normalize`")

    def __getstate__(self) -> dict:
        """Pickled (a ZeroGPU worker's result, a file) without ``frames``: the caller's clip, which
        the receiver of a worker's result has already and a file need not hold twice."""
        return {**self.__dict__, "frames": None}

    def _repr_html_(self) -> str:
        """Jupyter's view: original | heatmap, the top-2 and the evidence plot (core.notebook draws)."""
        # drawing lives in the render layer, loaded when shown
        from ..notebook import explanation_html

        return explanation_html(self)

    def topk(self, k: int = 5) -> list[tuple[str, float]]:
        """The k most probable classes as (label, probability), best first."""
        p, i = self.probs.topk(min(k, self.probs.numel()))
        return [(self.categories[j], float(q)) for q, j in zip(p.tolist(), i.tolist(), strict=True)]

    def ranked_labels(self) -> list[str]:
        """Every class label, most probable first."""
        return [self.categories[j] for j in self.probs.argsort(descending=True).tolist()]

    def maps_on_frames(self, frame_size: tuple[int, int] | None = None) -> torch.Tensor:
        """(K, T, H, W) maps over the sampled frames (0 outside the crop box the model saw).

        ``frame_size`` resamples to another size of the same frames (e.g. a display size).
        """
        if frame_size is None or tuple(frame_size) == tuple(self.frame_size):
            return maps_to_frames(self.maps, self.crop_box, self.frame_size)
        sy, sx = frame_size[0] / self.frame_size[0], frame_size[1] / self.frame_size[1]
        top, left, h, w = self.crop_box
        box = (round(top * sy), round(left * sx), max(1, round(h * sy)), max(1, round(w * sx)))
        return maps_to_frames(self.maps, box, tuple(frame_size))

    def to_dict(self, top_k: int = 5) -> dict:
        """JSON-ready metadata (no maps)."""
        return {
            "model": self.model,
            **self.settings.to_dict(),
            "top_k": [{"label": lab, "score": round(p, 6)} for lab, p in self.topk(top_k)],
            "targets": [
                {"label": t.label, "index": t.index, "minus": t.minus_label, "name": t.name}
                for t in self.targets
            ],
            "frame_indices": list(self.frame_indices),
            "timestamps": [round(s, 4) for s in self.timestamps],
            "crop_box": {"top": self.crop_box[0], "left": self.crop_box[1],
                         "height": self.crop_box[2], "width": self.crop_box[3]},
            "frame_size": list(self.frame_size),
            "layer_map_shape": list(self.raw_maps.shape[1:]),
            "temporal_importance": [[round(v, 5) for v in row] for row in self.temporal_importance.tolist()],
            "timings_ms": {k: round(v, 2) for k, v in self.timings.items()},
            "cached_forward": self.cached_forward,
            "forward_passes": self.method_info.get("forward_passes", 0 if self.cached_forward else 1),
            "method_params": {k: list(v) if isinstance(v, tuple) else v
                              for k, v in self.method_info.items() if k != "forward_passes"},
            "defaults_applied": dict(self.defaults),
            # None: the model carries no statistics of its training data, so nothing is claimed
            "familiarity": self.familiarity.to_dict() if self.familiarity is not None else None,
        }
