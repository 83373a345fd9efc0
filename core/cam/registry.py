"""The registry of methods: each method registers itself where it is defined, as a model family does
with :func:`core.models.register_model`; the engine, its count of forward passes, the CLI's
``--method`` choices and the page (its choices and its cost estimate) all read it.

The Grad-CAM family (:mod:`core.cam.methods`) and the methods of :mod:`core.attribution` are peers
here: each is one :class:`MethodEntry`, and what sets them apart is declared, not looked up in a
list. ``needs_layer`` picks the engine's path:

- ``needs_layer=True``: ``run(A, G, dims)`` turns a layer's activations ``A`` (1, C, *S) and
  their gradients ``G`` (K, C, *S) into K maps over S before the ReLU (``dims``: the axes of S
  that the pooling averages over). The engine runs the forward pass to the layer, which also
  predicts the classes, and one batched gradient per class (:mod:`core.cam.forward`).
- ``needs_layer=False``: ``run(explainer, x, targets, params, *, progress, cancel)`` ->
  ``(maps (K, t, h, w) on the method's own grid, info)`` for the (1, C, T, H, W) model input
  ``x``; ``info["forward_passes"]`` counts what it ran. The engine predicts the classes first
  (with ``classify`` when the method has one, whose pass it then hands over as ``run=``; one that
  holds the whole model's graph says ``keeps_graph``, and an Explainer keeps only the newest few)
  and scales the maps as Grad-CAM's (:func:`core.cam.forward.attribution_maps`).

The built-in families are imported on the first lookup that needs them (:data:`_FAMILIES`), so a
Grad-CAM explanation does not import :mod:`core.attribution`; a method of your own registers when
its module is imported (``docs/extending.md``). A name that :class:`Method` does
not have yet becomes a member of it, with its ``label``, so ``Settings(method=...)``, the
page's choices and the CLI's accept it like the others.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace

from ..errors import SettingsError
from .settings import Method, Settings

__all__ = ["MethodEntry", "MethodTable", "method_entry", "method_names", "methods_for", "register_method", "registered",
           "resolve"]


@dataclass(frozen=True)
class MethodEntry:
    """One registered method: what it needs, what it costs, how it runs."""

    method: Method
    run: Callable  # see the module's docstring: a layer's weighting, or a whole method
    needs_layer: bool = False  # the Grad-CAM family: maps at a layer, from its activations and gradients
    class_agnostic: bool = False  # one map for every class (rollout): made once per clip
    needs_tokens: bool = False  # reads a Hugging Face video transformer's attention: only for a spec with a token grid
    params: Callable[[], object] | None = None  # the record of its parameters, made with its defaults (Perturbation)
    passes: Callable[[object, tuple], int] | None = None  # (params, input shape) -> forward passes besides the classifying one
    classify: Callable | None = None  # (explainer, x) -> its own pass that predicts the classes, kept for more classes
    on_input: Callable | None = None  # (raw maps, params, (T, H, W)) -> maps on the input grid; None: interpolated
    probe: Callable | None = None  # (explainer, settings, shape, clock) -> its measured cost (core.attribution.cost)
    keeps_graph: bool = False  # its ``classify`` pass holds the whole model's autograd graph: an Explainer keeps few

    @property
    def perturbs(self) -> bool:
        """It takes occlusion's and RISE's parameters (``params``): many forward passes of changed
        clips, batch by batch, asking ``cancel()`` between batches, so the page offers **Stop**."""
        return self.params is not None

    def forward_passes(self, params, shape) -> int:
        """Forward passes the method runs for a model input of ``shape`` (..., T, H, W), before it
        runs, besides the one that predicts the classes (``params``: None for its defaults)."""
        if self.passes is None:
            return 0
        return self.passes(params if params is not None or self.params is None else self.params(), shape)


_ENTRIES: dict[Method, MethodEntry] = {}
# The built-in families, imported by the first lookup that needs them: each module registers its methods.
_FAMILIES = (".methods", "..attribution")  # relative: the package is also installed as videocam
_loaded = False
_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in _FAMILIES:
            importlib.import_module(module, __package__)
        _loaded = True


def _new_member(name: str, label: str) -> Method:
    """``name`` as a new member of :class:`Method`, shown as ``label``. An Enum is closed once
    defined; this is the one place that adds to it, as the Enum class itself would have."""
    member = str.__new__(Method, name)
    member._value_, member._name_, member.__objclass__, member.label = name, name.upper(), Method, label
    member._sort_order_ = len(Method._member_names_)
    setattr(Method, member._name_, member)  # before it is a member: an Enum refuses to reassign one
    Method._member_names_.append(member._name_)
    Method._member_map_[member._name_] = member
    Method._value2member_map_[name] = member
    return member


def register_method(name: str, *, label: str | None = None, needs_layer: bool = False, class_agnostic: bool = False,
                    needs_tokens: bool = False, params: Callable[[], object] | None = None,
                    passes: Callable[[object, tuple], int] | None = None, classify: Callable | None = None,
                    on_input: Callable | None = None, probe: Callable | None = None,
                    keeps_graph: bool = False) -> Callable:
    """Decorator: register the function it decorates as method ``name`` (see :class:`MethodEntry`
    for the fields). A name :class:`Method` does not have needs a ``label`` (what the page shows)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"method name {name!r}: use lower-case letters, digits and underscores")
    member = Method._value2member_map_.get(name)
    if member is not None and member in _ENTRIES:
        raise ValueError(f"method {name!r} is already registered")
    if member is None and not label:
        raise ValueError(f"method {name!r} is new: give label= (what the page shows)")

    def add(run: Callable) -> Callable:
        method = member if member is not None else _new_member(name, label)
        _ENTRIES[method] = MethodEntry(method, run, needs_layer=needs_layer, class_agnostic=class_agnostic,
                                       needs_tokens=needs_tokens, params=params, passes=passes, classify=classify,
                                       on_input=on_input, probe=probe, keeps_graph=keeps_graph)
        return run

    return add


def method_entry(method: Method | str) -> MethodEntry:
    """The entry of ``method`` (a :class:`Method` or its name); a :class:`SettingsError` naming the
    methods there are otherwise."""
    entry = _ENTRIES.get(method)  # a Method, or its name: a member hashes and compares as its value
    if entry is None:  # a family not imported yet (the Grad-CAM family always is: core.attribution loads when first asked)
        method = Method.parse(method, "method")
        _load()
        entry = _ENTRIES.get(method)
    if entry is None:
        raise SettingsError(f"method={str(method)!r} is not registered; "
                            f"choose one of {', '.join(m.value for m in registered())}")
    return entry


def registered() -> dict[Method, MethodEntry]:
    """Every registered method and its entry, in :class:`Method`'s order."""
    _load()
    return {m: _ENTRIES[m] for m in Method if m in _ENTRIES}


def method_names(keep: Callable[[MethodEntry], bool] = lambda entry: True) -> list[str]:
    """The names of the registered methods whose entry ``keep`` accepts, in :class:`Method`'s
    order: a CLI's ``--method`` choices (``lambda e: e.needs_layer`` where only the Grad-CAM
    family runs), read when its parser is built, so a method registered before then is there."""
    return [m.value for m, e in registered().items() if keep(e)]


def methods_for(spec) -> list[Method]:
    """The methods that apply to a model with this :class:`core.ModelSpec`: those that read
    attention (``needs_tokens``) only where the spec declares a token grid (the Hugging Face video
    transformers)."""
    attention = spec is not None and spec.token_grid is not None
    return [m for m, e in registered().items() if attention or not e.needs_tokens]


def resolve(explainer, settings: Settings) -> Settings:
    """``settings`` as a method that needs no layer runs them on ``explainer``'s model (no layer;
    the parameters' defaults filled in, or none for a method that takes none); a
    :class:`SettingsError` naming the methods that apply when this one does not."""
    entry = method_entry(settings.method)
    allowed = methods_for(explainer.spec)
    if settings.method not in allowed:
        name = explainer.spec.name if explainer.spec is not None else type(explainer.model).__name__
        raise SettingsError(
            f"method={settings.method.value!r} reads a Hugging Face video transformer's attention "
            f"(VideoMAE, TimeSformer, ViViT); {name} has none. Methods that apply to {name}: "
            f"{', '.join(m.value for m in allowed)}")
    params = (settings.perturbation or entry.params()) if entry.params is not None else None
    return replace(settings, layer=None, perturbation=params)


class MethodTable(Mapping):
    """A live, read-only view of the methods registered so far: those whose entry ``keep``
    accepts -> ``pick`` of it (``core.cam.methods.CAM_FUNCTIONS``, ``core.attribution.ATTRIBUTIONS``,
    ...). A name works as a key as well as a :class:`Method`. It loads no family: each table lives
    in a family's module, so its own methods are there."""

    def __init__(self, keep: Callable[[MethodEntry], bool], pick: Callable[[MethodEntry], object]):
        self._keep, self._pick = keep, pick

    def _entry(self, method) -> MethodEntry | None:
        entry = _ENTRIES.get(Method._value2member_map_.get(method)) if isinstance(method, str) else None
        return entry if entry is not None and self._keep(entry) else None

    def __getitem__(self, method):
        entry = self._entry(method)
        if entry is None:
            raise KeyError(method)
        return self._pick(entry)

    def __contains__(self, method) -> bool:
        return self._entry(method) is not None

    def __iter__(self) -> Iterator[Method]:
        return iter([m for m in Method if self._entry(m) is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)
