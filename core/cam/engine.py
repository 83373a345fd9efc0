"""The CAM engine: one forward pass per (clip, model, layer), then cheap gradients per class.

An :class:`Explainer` owns one model: it runs the forward pass once with a hook on the target
layer, keeps the small autograd graph *after* that layer in its own LRU cache, and answers every
class from it with batched vector-Jacobian products (``torch.autograd.grad``). A model may offer
``logits_from_layer(layer)``: a function of the layer's output that computes the logits from
only what they depend on (TimeSformer and ViViT read one class token after their last block, so
that block is needed for one token, not all of them). Then the forward pass stops at the layer,
that function makes the logits, and its much smaller graph is what is kept and differentiated;
the gradients are the same (autograd differentiates either way). Without it, or when it returns
None for the layer, the whole model runs under autograd as above. Asking it for
another class, method, pooling or normalisation of a cached clip never re-runs the forward pass.
Whoever wants that cache keeps the Explainer; dropping it frees the cache (there is no
process-wide cache). Everything that runs the model — explanations, :meth:`Explainer.predict`,
:meth:`Explainer.copy_model` — is serialised by the Explainer's lock, so the hook it puts on the
model while explaining is never seen by another caller, and one copy of a model serves all.

``explain(model, clip, ...)`` is a one-off: a throwaway Explainer, nothing kept. The forward
pass and the maps are :mod:`core.cam.forward`'s, which the whole-video timeline calls too.

Length: one class, the Explainer, whose cache, lock and passes are read together; the passes
themselves are :mod:`core.cam.forward`'s and the methods' own, in their files.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from ..errors import SettingsError
from ..familiarity import FeatureStats, capture_features
from ..models.measured import TABLE_LINK, measured_source
from ..models.spec import ModelSpec
from ..transforms import preprocess
from .forward import (
    LayerForward,
    attribution_maps,
    batched_vjp,
    cam_maps,
    forward_to_layer,
    upsample_and_normalise,
)
from .hooks import evaluating, frozen, resolve_layer
from .registry import method_entry, resolve
from .result import Explanation, Target
from .settings import Settings

__all__ = ["Explainer", "batched_vjp", "chosen_targets", "class_index", "explain", "resolve_device",
           "upsample_and_normalise"]

TargetLike = int | str


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a GPU is a clear error."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError("device='cuda' but no CUDA GPU is visible; use device='cpu' or 'auto'")
    return device


@dataclass
class _Forward:
    """A cached forward pass (its graph kept for more classes) and the gradients asked of it."""

    run: LayerForward  # batch of 1
    grads: dict[tuple[int, int | None], torch.Tensor] = field(default_factory=dict)  # (1, C, t, h, w)
    familiarity: object | None = None  # judged once from the pass's pooled features: every class shares it
    graph_bytes: int = 0  # what autograd saved for the backward pass after the layer (the model's weights excluded)

    def nbytes(self) -> int:
        """The memory this entry holds: its graph, the layer's output and the gradients asked of it."""
        held = [self.run.activation, *self.grads.values()]
        return self.graph_bytes + sum(t.numel() * t.element_size() for t in held)


@dataclass(frozen=True)
class _Classified:
    """The forward pass that predicted a clip's classes for an attribution method: the method's own
    (``run``, a pass of ``core.attribution.CLASSIFYING``, with its graph or map) or a no-grad one."""

    run: object | None
    logits: torch.Tensor  # (classes,) float on the CPU
    familiarity: object | None
    forward_ms: float


@dataclass(frozen=True)
class _Prepared:
    x: torch.Tensor
    key: str
    crop_box: tuple[int, int, int, int]
    frame_size: tuple[int, int]
    indices: tuple[int, ...]
    timestamps: tuple[float, ...]
    ms: float


_GRAPHS_KEPT = 2  # at most this many passes of a method that keeps_graph (its registry entry) per Explainer


def _digest(x: torch.Tensor) -> str:
    return hashlib.blake2b(x.detach().cpu().contiguous().numpy().tobytes(), digest_size=16).hexdigest()


class Explainer:
    """Explains one model; thread-safe; caches the last ``cache_size`` forward passes.

    ``cache_bytes``: also keep no more of them than fit in that many bytes (each pass counted by
    what autograd saved for its backward pass, the layer's output and its gradients; the newest
    pass always stays): a big model's graphs are hundreds of MB each.

    ``amp``: run the forward pass under bf16 autocast on CUDA (ignored on the CPU).
    """

    def __init__(self, model: nn.Module, spec: ModelSpec | None = None, *, cache_size: int = 4, amp: bool = False,
                 cache_bytes: int | None = None):
        self.model = model
        self.spec = spec if spec is not None else getattr(model, "spec", None)
        self.cache_size = cache_size
        self.cache_bytes = cache_bytes  # None: bounded by count only; else also by the passes' bytes
        self.amp = bool(amp)
        self._cache: OrderedDict[tuple, _Forward] = OrderedDict()
        self._prepared: OrderedDict[int, tuple[weakref.ref, _Prepared]] = OrderedDict()
        self._attributed: OrderedDict[tuple, Explanation] = OrderedDict()  # core.attribution's, by clip+settings
        self._classified: OrderedDict[tuple, _Classified] = OrderedDict()  # their classifying passes, by clip+method
        self._clip_seconds: dict[tuple, float] = {}
        self._lock = threading.RLock()
        self._stats: tuple[FeatureStats | None] | None = None  # parsed on first use

    # -- inputs ---------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        p = next(self.model.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def _prepare(self, clip) -> _Prepared:
        t0 = time.perf_counter()
        if isinstance(clip, torch.Tensor):
            if clip.dim() == 4 and clip.dtype == torch.uint8:  # (T, H, W, 3) frames
                return self._prepare_frames(clip, (), (), t0)
            x = clip.unsqueeze(0) if clip.dim() == 4 else clip
            if x.dim() != 5 or x.shape[0] != 1 or not x.is_floating_point():
                raise SettingsError(
                    f"a tensor clip must be a float model input (1, C, T, H, W) or uint8 frames (T, H, W, 3); got {tuple(clip.shape)} {clip.dtype}"
                )
            x = x.to(self.device)
            H, W = x.shape[-2:]
            return _Prepared(x, _digest(x), (0, 0, H, W), (H, W), (), (), (time.perf_counter() - t0) * 1e3)
        frames = getattr(clip, "frames", None)
        if frames is None:
            raise TypeError(f"clip must be a core.Clip or a tensor, not {type(clip).__name__}")
        return self._prepare_frames(frames, tuple(clip.indices), tuple(clip.timestamps), t0)

    def _prepare_frames(self, frames: torch.Tensor, indices, timestamps, t0: float) -> _Prepared:
        if self.spec is None:
            raise SettingsError("this model has no spec, so frames cannot be preprocessed; pass spec= or a (1, C, T, H, W) tensor")
        device = self.device
        hit = self._prepared.get(id(frames))
        if hit is not None and hit[0]() is frames and hit[1].x.device == device:
            return replace(hit[1], ms=0.0)  # same frames object, model on the same device: reuse it
        x, box = preprocess(frames, self.spec, device=device)
        prep = _Prepared(x, _digest(x), box, tuple(frames.shape[1:3]), indices, timestamps,
                         (time.perf_counter() - t0) * 1e3)
        self._prepared[id(frames)] = (weakref.ref(frames), prep)
        while len(self._prepared) > self.cache_size:
            self._prepared.popitem(last=False)
        return prep

    # -- forward ----------------------------------------------------------------------------------
    def _weights_version(self) -> int:
        return sum(p._version for p in self.model.parameters())

    def _forward(self, prep: _Prepared, layer_name: str, layer: nn.Module) -> tuple[_Forward, bool]:
        key = (prep.key, layer_name, self._weights_version(), str(self.device))
        state = self._cache.get(key)
        if state is not None:
            self._cache.move_to_end(key)
            return state, True
        saved: dict[int, int] = {}  # storage -> bytes of what autograd keeps for the backward pass
        weights = {p.untyped_storage().data_ptr() for p in self.model.parameters()}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storage = t.untyped_storage()
            if storage.data_ptr() not in weights:
                saved[storage.data_ptr()] = storage.nbytes()
            # not ``t`` itself: a saved *output* (an in-place ReLU's, after the hooked layer) would
            # then hold its own grad_fn, a cycle Python's collector cannot see, and the graph of
            # every clip explained at a layer before the last would stay (16 tensors a clip)
            return t.detach()

        with capture_features(self.model, self.spec, self._stats_layers()) as seen, \
                torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            run = forward_to_layer(self.model, prep.x, layer, layer_name, spec=self.spec, amp=self.amp)
        state = _Forward(run, familiarity=self._familiarity(seen), graph_bytes=sum(saved.values()))
        self._cache[key] = state
        self._trim()
        return state, False

    def _trim(self) -> None:
        """Drop the oldest forward passes beyond ``cache_size``, then beyond ``cache_bytes`` (the
        newest always stays). Called under the lock."""
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        if self.cache_bytes is not None:
            while len(self._cache) > 1 and sum(s.nbytes() for s in self._cache.values()) > self.cache_bytes:
                self._cache.popitem(last=False)

    def cached_bytes(self) -> int:
        """The bytes the cached forward passes hold (graphs, layer outputs, gradients)."""
        with self._lock:
            return sum(s.nbytes() for s in self._cache.values())

    # -- how familiar the clip is ---------------------------------------------------------------------
    def feature_stats(self) -> FeatureStats | None:
        """The training data's feature statistics from the model's checkpoint, or None."""
        if self._stats is None:
            self._stats = (FeatureStats.of(self.spec),)
        return self._stats[0]

    def _stats_layers(self) -> tuple[str, ...]:
        stats = self.feature_stats()
        return stats.names if stats is not None else ()

    def _familiarity(self, features: dict):
        stats = self.feature_stats()
        return stats.judge({k: v[:1] for k, v in features.items()}) if stats is not None else None

    # -- targets ----------------------------------------------------------------------------------
    def _categories(self, n: int) -> tuple[str, ...]:
        cats = tuple(self.spec.categories) if self.spec is not None else ()
        return cats if len(cats) == n else tuple(f"class {i}" for i in range(n))

    def _gradients(self, state: _Forward, targets: list[Target]) -> torch.Tensor:
        """(K, 1, C, t, h, w): each target's gradients, computed once per (class, minus)."""
        keys = [(t.index, t.minus) for t in targets]
        todo = list(dict.fromkeys(k for k in keys if k not in state.grads))
        if todo:
            g = state.run.gradients(todo, keep_graph=True)  # the graph stays for more classes
            for k, gk in zip(todo, g, strict=True):
                state.grads[k] = gk  # (1, C, t, h, w)
            self._trim()  # the gradients count too
        return torch.stack([state.grads[k] for k in keys])

    # -- the public call --------------------------------------------------------------------------
    def explain(
        self,
        clip,
        targets: TargetLike | Sequence[TargetLike] | None = None,
        *,
        top_k: int | None = None,
        contrast: tuple[TargetLike, TargetLike] | None = None,
        settings: Settings | None = None,
        layer: str | nn.Module | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        **options,
    ) -> Explanation:
        """Explain ``clip`` (a :class:`core.Clip`, uint8 frames, or a model-input tensor).

        ``targets``: class indices or labels; ``top_k``: the k most probable classes; ``contrast``:
        ``(A, B)`` explains the logit difference A - B. With none of them, the top-1 class.
        ``settings``: a :class:`Settings` (method, pooling, normalize, layer); or give those as
        keywords (``method="layercam"``, ``pooling="frame"``, ``normalize="frame"``,
        ``layer="layer3"``), validated the same way. ``layer`` may also be a module of the model.
        Defaults: Grad-CAM, one weight per channel for the clip, maps scaled per clip, and the
        spec's ``default_layer``. The methods of :mod:`core.attribution` (``rollout``,
        ``relevance``, ``attnlrp``, ``occlusion``, ``rise``) need no layer; the perturbation methods report
        ``progress(done, total)`` forward passes after each batch and stop with
        :class:`core.attribution.Cancelled` before the next one when ``cancel()`` returns True.
        """
        module_layer = layer if isinstance(layer, nn.Module) else None
        if settings is not None and (options or layer is not None):
            raise SettingsError("give either settings= or its fields as keywords, not both")
        settings, defaults = self.settings_for(settings, layer=None if module_layer is not None else layer, **options)
        # How the method runs, as it registered (core.cam.registry): at a layer, or on the whole model
        run = self._cam if method_entry(settings.method).needs_layer else self._attribute
        exp = run(clip, (targets, top_k, contrast), settings, module_layer, progress, cancel)
        frames = getattr(clip, "frames", clip if isinstance(clip, torch.Tensor) and clip.dtype == torch.uint8 else None)
        return replace(exp, defaults=defaults or exp.defaults, frames=frames)

    def settings_for(self, settings: Settings | None = None, **options) -> tuple[Settings, dict]:
        """(the :class:`Settings` an explanation with these arguments uses, the model defaults it
        applied). ``settings`` is used as given; without it, ``options`` are its fields, and a
        method left out is the model's measured default (``spec.default_method``, with its
        ``default_layer``: :mod:`core.models.measured`), recorded in the returned dict."""
        if settings is not None:
            return settings, {}
        if options.get("method") is not None or self.spec is None:
            return Settings(**{k: v for k, v in options.items() if k != "method" or v is not None}), {}
        method = self.spec.default_method
        options = {k: v for k, v in options.items() if k != "method"}
        defaults = {"method": method, "source": measured_source(self.spec) or TABLE_LINK}
        if method_entry(method).needs_layer and options.get("layer") is None:
            defaults["layer"] = self.spec.default_layer
        return Settings(method=method, **options), defaults

    def forward_passes(self, clip, settings: Settings) -> int:
        """How many forward passes explaining ``clip`` with ``settings`` runs (before it runs):
        1 for the Grad-CAM family and the attention methods (0 when cached), the method's count
        (its registered ``passes``) plus one for the others."""
        entry = method_entry(settings.method)
        if entry.needs_layer:  # its forward pass to the layer is the one that predicts the classes
            return 1
        resolved = resolve(self, settings)  # a method that does not apply to this model is refused here
        if entry.passes is None:  # one pass, the one that predicts the classes: no need to preprocess
            return 1  # the clip (under the lock) to count it
        return 1 + entry.forward_passes(resolved.perturbation, self.model_input(clip).shape)

    def _cam(self, clip, asked, settings: Settings, module_layer, progress, cancel) -> Explanation:
        t_start = time.perf_counter()
        which = module_layer if module_layer is not None else settings.layer
        layer_name, module = resolve_layer(self.model, which, self.spec)
        settings = replace(settings, layer=layer_name, perturbation=None)
        with self._lock:
            prep = self._prepare(clip)
            state, cached = self._forward(prep, layer_name, module)
            logits = state.run.logits.detach().float()[0].cpu()
            chosen, cats = self._chosen(logits, asked)
            t0 = time.perf_counter()
            grads = self._gradients(state, chosen)
            t1 = time.perf_counter()
            raw, maps, importance = (m[0] for m in cam_maps(state.run.activation_cthw(), grads, settings,
                                                              state.run.input_size))
        t2 = time.perf_counter()
        timings = {
            "preprocess": prep.ms,
            "forward": 0.0 if cached else state.run.forward_ms,
            "gradients": (t1 - t0) * 1e3,
            "cam": (t2 - t1) * 1e3,
            "total": (t2 - t_start) * 1e3,
        }
        info = {"forward_passes": 0 if cached else 1}
        exp = self._explanation(prep, settings, cats, chosen, logits, (raw, maps, importance), timings, cached, info)
        return replace(exp, familiarity=state.familiarity)

    def _attribute(self, clip, asked, settings: Settings, module_layer, progress, cancel) -> Explanation:
        """A method of :mod:`core.attribution`: one forward pass for the classes (no-grad; for a
        method of ``CLASSIFYING``, its own forward pass instead, which the method then reads),
        kept by clip and method (:meth:`_classify`), then the method's own passes (perturbation
        methods through :meth:`predict`, batch by batch, so other callers of the model interleave
        with them). Another class of a kept clip runs no forward pass for the classes: rollout
        none at all, relevance and attnlrp their backward pass only."""
        t_start = time.perf_counter()
        settings = resolve(self, settings)
        with self._lock:
            prep = self._prepare(clip)
            done, cached = self._classify(prep, settings.method.value)
        t1 = time.perf_counter()
        chosen, cats = self._chosen(done.logits, asked)
        # the same clip, settings and targets again (the page's class change and downloads): kept
        key = (prep.key, settings, tuple(chosen), self._weights_version(), str(self.device))
        with self._lock:
            hit = self._attributed.get(key)
        if hit is not None:  # the maps are the input's; where the frames came from is this clip's
            return replace(hit, cached_forward=True, crop_box=prep.crop_box, frame_size=prep.frame_size,
                           frame_indices=prep.indices, timestamps=prep.timestamps)
        raw, maps, importance, info = attribution_maps(self, prep.x, chosen, settings, progress=progress, cancel=cancel,
                                                       run=done.run, classified=not cached)
        t2 = time.perf_counter()
        timings = {"preprocess": prep.ms, "forward": 0.0 if cached else done.forward_ms,
                   "attribution": (t2 - t1) * 1e3, "total": (t2 - t_start) * 1e3}
        exp = self._explanation(prep, settings, cats, chosen, done.logits, (raw, maps, importance), timings, cached,
                                info)
        exp = replace(exp, familiarity=done.familiarity)
        with self._lock:
            self._attributed[key] = exp
            while len(self._attributed) > self.cache_size:
                self._attributed.popitem(last=False)
        return exp

    def _classify(self, prep: _Prepared, method: str) -> tuple[_Classified, bool]:
        """(the forward pass that predicted the classes of ``prep`` for ``method``, whether it was
        kept). A method of ``CLASSIFYING`` runs its own pass, kept with its graph or map for more
        classes; the others a no-grad forward pass, of which the scores are kept. The last
        ``cache_size`` are kept, by this Explainer only. Called under the lock."""
        key = (prep.key, method, self._weights_version(), str(self.device))
        done = self._classified.get(key)
        if done is not None:
            self._classified.move_to_end(key)
            return done, True
        own = method_entry(method).classify
        t0 = time.perf_counter()
        with frozen(self.model), torch.no_grad(), capture_features(self.model, self.spec, self._stats_layers()) as seen:
            run = own(self, prep.x) if own is not None else None
            logits = (run.logits if run is not None else self.model(prep.x)).detach().float()[0].cpu()
        done = _Classified(run, logits, self._familiarity(seen), (time.perf_counter() - t0) * 1e3)
        self._classified[key] = done
        while len(self._classified) > self.cache_size:
            self._classified.popitem(last=False)
        # the pass of a method that keeps_graph (relevance, AttnLRP) holds the whole model's graph (GBs
        # for a base-size transformer): whatever cache_size says (the app's is 16), only the newest few stay
        heavy = [k for k in self._classified if method_entry(k[1]).keeps_graph]
        for k in heavy[:max(0, len(heavy) - _GRAPHS_KEPT)]:
            del self._classified[k]
        return done, False

    def _chosen(self, logits: torch.Tensor, asked) -> tuple[list[Target], tuple[str, ...]]:
        probs = logits.softmax(-1)
        cats = self._categories(probs.numel())
        return chosen_targets(probs, cats, *asked), cats

    def _explanation(self, prep: _Prepared, settings, cats, chosen, logits, maps, timings, cached, info) -> Explanation:
        raw, on_input, importance = maps
        return Explanation(
            model=self.spec.name if self.spec is not None else type(self.model).__name__,
            settings=settings,
            categories=cats,
            targets=tuple(chosen),
            logits=logits,
            probs=logits.softmax(-1),
            raw_maps=raw.detach().cpu(),
            maps=on_input.cpu(),
            temporal_importance=importance.cpu(),
            crop_box=prep.crop_box,
            frame_size=prep.frame_size,
            frame_indices=prep.indices,
            timestamps=prep.timestamps,
            timings=timings,
            cached_forward=cached,
            method_info=info,
        )

    # -- other work on the same model, under the same lock -------------------------------------------
    @torch.no_grad()
    def predict(self, clips: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
        """Softmax probabilities (N, num_classes) of N model-input clips (N, C, T, H, W), in
        batched no-grad forward passes (the trust checks' perturbed clips)."""
        with self._lock, evaluating(self.model):
            out = [self.model(clips[i:i + batch_size].to(self.device)).float().softmax(-1).cpu()
                   for i in range(0, len(clips), batch_size)]
        return torch.cat(out)

    def clip_seconds(self, batch_size: int = 16) -> float:
        """Seconds per clip of a no-grad forward pass in batches of ``batch_size`` at the spec's
        input size: measured on the first call (a warm-up batch, then the faster of two), kept
        by this Explainer. What the page's time estimate of a perturbation method is made from."""
        key = (batch_size, str(self.device))
        if key not in self._clip_seconds:
            if self.spec is None:
                raise SettingsError("this model has no spec, so its input size is unknown; pass spec=")
            x = torch.zeros(batch_size, 3, self.spec.num_frames, *self.spec.input_size)
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                self.predict(x, batch_size=batch_size)
                runs.append(time.perf_counter() - t0)
            self._clip_seconds[key] = min(runs[1:]) / batch_size
        return self._clip_seconds[key]

    def copy_model(self) -> nn.Module:
        """A private deep copy of the model (e.g. to randomise its weights for a sanity check)."""
        with self._lock:
            return copy.deepcopy(self.model)

    def model_input(self, clip) -> torch.Tensor:
        """The (1, C, T, H, W) tensor the model sees for ``clip`` (cached like the forward pass)."""
        with self._lock:
            return self._prepare(clip).x

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._prepared.clear()
            self._attributed.clear()
            self._classified.clear()

    @contextmanager
    def exclusive(self) -> Iterator[nn.Module]:
        """The model, for other work that hooks it (a whole-video timeline), under the same lock
        as :meth:`explain`: no explanation runs on it until the ``with`` block ends."""
        with self._lock:
            yield self.model


def class_index(t: TargetLike, cats: Sequence[str]) -> int:
    """The index of class ``t`` (an index, or a label in any case) in ``cats``; a close-match
    hint when there is none."""
    if isinstance(t, bool) or not isinstance(t, (int, str)):
        raise SettingsError(f"a target is a class index or label, not {type(t).__name__}")
    if isinstance(t, int):
        if not 0 <= t < len(cats):
            raise SettingsError(f"target class index {t} is out of range 0..{len(cats) - 1}")
        return t
    if t in cats:
        return cats.index(t)
    low = [c.lower() for c in cats]
    if t.lower() in low:
        return low.index(t.lower())
    close = difflib.get_close_matches(t, cats, n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else "; list them with `python -m core models`"
    raise SettingsError(f"unknown class {t!r}{hint}")


def chosen_targets(probs: torch.Tensor, cats: Sequence[str], targets=None, top_k=None, contrast=None) -> list[Target]:
    """What ``targets=``, ``top_k=`` and ``contrast=`` (as :meth:`Explainer.explain` takes them) ask
    for of a clip whose class probabilities are ``probs``: the contrast, the targets, the top k, in
    that order; the top-1 when none is asked. A :class:`SettingsError` for a class ``cats`` lacks."""
    chosen: list[Target] = []
    if contrast is not None:
        if len(contrast) != 2:
            raise SettingsError("contrast takes two classes: (A, B) explains 'why A rather than B'")
        a, b = (class_index(c, cats) for c in contrast)
        chosen.append(Target(a, cats[a], b, cats[b]))
    if targets is not None:
        for t in [targets] if isinstance(targets, (int, str)) else targets:
            i = class_index(t, cats)
            chosen.append(Target(i, cats[i]))
    if top_k is not None:
        if int(top_k) < 1:
            raise SettingsError(f"top_k={top_k}; need at least 1")
        chosen += [Target(i, cats[i]) for i in probs.topk(min(int(top_k), len(cats))).indices.tolist()]
    if not chosen:
        i = int(probs.argmax())
        chosen.append(Target(i, cats[i]))
    return chosen


def explain(model: nn.Module, clip, targets=None, *, spec: ModelSpec | None = None, **kwargs) -> Explanation:
    """Explain ``clip`` with ``model`` once; see :meth:`Explainer.explain` for the arguments.

    Nothing is kept: for several classes or settings of one clip, keep an :class:`Explainer`.
    """
    return Explainer(model, spec, cache_size=1).explain(clip, targets, **kwargs)
