"""Score a long video window by window, and explain every window, in one streamed decode.

The video is indexed (a demux pass, no decoding), the grid and windows are planned
(:mod:`core.longvideo.plan`), then one decode pass yields the grid frames in order
(``core.video.iter_frames``: frames no grid time needs are skipped by the decoder where it
can, only grid frames are converted to RGB). Each grid frame is preprocessed once and kept only
until the last window that holds it has run; windows go through the model in batches, each
batch one forward pass with the target layer captured and one batched vector-Jacobian product
for the classes whose maps it keeps: :mod:`core.cam.forward`, the Explainer's own path (with a
model's class-token head, and amp), under the Explainer's lock when one is given. Memory is flat in the video's length: what grows is one
row of probabilities and a few layer-sized maps per window.

Which maps are kept: the ``targets`` given, for every window; else, for each window, those of
the classes that are the top class at one of its frames (:mod:`.moments`): exactly what the
whole-video heatmap shows, in the same single pass. A frame's top class is known once every window
holding it has been scored, so a batch's maps wait (its graph kept) until the batches after it
have been scored: at most ``num_frames / stride`` windows more, however long the video. A class's
map is NaN in the windows where it was not needed (:meth:`TimelineResult.classes_with_maps`
names the classes kept for every window). Computing every class's map in every window cost more
than the forward pass itself on the shipped model (13 classes: 1.2 s of gradients and maps for
1.5 s of forward per batch of 8); give ``targets`` for a class to be kept everywhere.

Length: the result type and the one streaming pass that fills it; the plan, the moments, the outputs
and the sharding are modules of their own.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..cam.engine import Explainer, class_index
from ..cam.forward import LayerForward, cam_maps, forward_to_layer
from ..cam.hooks import resolve_layer
from ..cam.methods import CAM_FUNCTIONS
from ..cam.settings import Normalize, Settings
from ..errors import SettingsError, VideoError, VideoTooLargeError
from ..transforms import crop_box_for, preprocess, resized_size
from ..video import Budget, Decoded, Limits, iter_frames, open_video
from .moments import frame_means, moment_classes, top_per_frame
from .plan import DEFAULT_MAX_DURATION, Plan, nearest_positions, plan_windows

__all__ = ["DEFAULT_MAX_DURATION", "TimelineResult", "timeline"]

_INDEX_SECONDS = 30.0  # wall-clock budget of the demux pass
MIN_SHORT_SIDE = 224  # grid frames are converted at least this size (the heatmap video's panels)
MIN_DECODE_BUDGET_S = 10.0  # the decode budget of a short video (seconds_per_minute scales it up)


@dataclass
class TimelineResult:
    """What :func:`timeline` found: per-window class probabilities and maps, on the plan's grid.

    ``maps[c]`` is (windows, num_frames, h, w) float16: class ``c``'s map of each window at the
    layer's spatial size, upsampled in time to the window's frames and scaled to [0, 1] per window;
    NaN in the windows where the scan did not need it (without ``targets``, a class's map is kept
    only in the windows holding a frame where it is the top class: see :meth:`classes_with_maps`).
    """

    video: str
    model: str
    categories: tuple[str, ...]
    settings: Settings
    plan: Plan
    probs: np.ndarray  # (windows, classes)
    maps: dict[int, np.ndarray]
    frame_size: tuple[int, int]  # (H, W) of the decoded frames, upright
    crop_box: tuple[int, int, int, int]  # what the model sees of a frame, in frame pixels
    source_fps: float
    num_source_frames: int
    targets: tuple[int, ...] | None = None  # the classes asked for, if any
    passes: int = 1
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.plan.duration

    @property
    def num_windows(self) -> int:
        return len(self.plan.starts)

    def top_classes(self, n: int = 5) -> list[tuple[int, float]]:
        """The ``n`` classes with the highest mean probability over the windows."""
        mean = self.probs.mean(0)
        order = np.argsort(-mean, kind="stable")[:n]
        return [(int(i), float(mean[i])) for i in order]

    def classes_with_maps(self) -> list[int]:
        """The classes whose maps were kept for every window (those a pinned heatmap can show)."""
        return sorted(c for c, m in self.maps.items() if not np.isnan(m.reshape(len(m), -1)[:, 0]).any())

    def combined_maps(self, cls: int, *, partial: bool = False) -> np.ndarray:
        """(grid frames, h, w) float32 in [0, 1]: class ``cls``'s evidence over the whole video.

        Each grid frame gets the mean, over the windows holding it, of that window's map times the
        window's probability of the class: where the model looks, and how sure it is there.
        ``partial``: allow a class kept for some windows only (frames held by a window without its
        map come out NaN); otherwise such a class is refused.
        """
        if cls not in self.maps or not (partial or cls in self.classes_with_maps()):
            raise SettingsError(f"no maps were kept for class {cls} in every window; pass it in targets=")
        weighted = self.maps[cls].astype(np.float32) * self.probs[:, cls, None, None, None]
        return self._per_frame(weighted)

    def moment_top(self) -> tuple[np.ndarray, np.ndarray]:
        """Each grid frame's top class (the highest mean probability over the windows holding it)
        and that probability: ((grid frames,) int, (grid frames,) float32)."""
        return top_per_frame(self.plan, self.probs)

    def moment_classes(self) -> list[int]:
        """The classes that are the top class at some grid frame, in index order."""
        return moment_classes(self.plan, self.probs)

    def frame_probs(self, cls: int) -> np.ndarray:
        """(grid frames,): the mean probability of class ``cls`` over the windows holding each frame."""
        return frame_means(self.plan, self.probs[:, [cls]])[:, 0]  # as moment_top averages them

    def _per_frame(self, values: np.ndarray) -> np.ndarray:
        """(windows, num_frames, ...) values of each window's frames -> (grid frames, ...): per grid
        frame, the mean over the windows holding it (a short video's repeated last frame counts once)."""
        plan = self.plan
        total = np.zeros((len(plan.grid), *values.shape[2:]), np.float32)
        count = np.zeros(len(plan.grid), np.float32)
        for k in range(self.num_windows):
            distinct = min(plan.num_frames, len(plan.grid) - plan.starts[k])
            for j, g in enumerate(plan.frames(k)[:distinct]):
                total[g] += values[k, j]
                count[g] += 1
        return total / np.maximum(count, 1).reshape(-1, *([1] * (values.ndim - 2)))


Progress = Callable[[int, int], None]  # (windows done, windows in all)
FrameSink = Callable[[int, np.ndarray], None]  # (grid frame, (H, W, 3) uint8 RGB)


def timeline(
    model: nn.Module | Explainer,
    video: str | os.PathLike,
    *,
    stride: float | None = None,
    targets: Sequence[int | str] | None = None,
    settings: Settings | None = None,
    batch_size: int = 8,
    max_duration: float = DEFAULT_MAX_DURATION,
    seconds_per_minute: float | None = None,
    on_frame: FrameSink | None = None,
    progress: Progress | None = None,
    amp: bool | None = None,
) -> TimelineResult:
    """Slide the model's own clip over the whole of ``video`` and score and explain each window.

    ``stride``: seconds between window starts (default half a window; rounded to the grid).
    ``targets``: classes (indices or labels) whose maps are kept; see the module doc for the
    default. ``settings``: CAM method, pooling and layer (normalisation is always per window).
    ``max_duration``: longer videos are refused (a :class:`core.VideoError`), before decoding.
    ``seconds_per_minute``: wall-clock budget for the decode, per minute of video (None: none).
    ``on_frame`` receives every grid frame once, in order (to draw a heatmap video without
    keeping the frames); ``progress`` is called after every batch of windows.
    ``model``: a model (from :func:`core.load_model`), or the :class:`core.Explainer` that owns
    it: then each batch of windows runs under the Explainer's lock (other callers' explanations
    wait for a batch, not for the whole video) and with its ``amp``. ``amp``: bf16 autocast on
    CUDA (default: the Explainer's, else off).
    """
    explainer = model if isinstance(model, Explainer) else Explainer(model, cache_size=0)
    amp = explainer.amp if amp is None else bool(amp)
    model, spec = explainer.model, explainer.spec
    if spec is None:
        raise SettingsError("this model has no spec (num_frames, input size, categories); load it with core.load_model")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise SettingsError(f"batch_size must be a positive int, got {batch_size!r}")
    settings = settings or Settings()
    if settings.method not in CAM_FUNCTIONS:
        raise SettingsError(f"the whole-video timeline runs the Grad-CAM family ({', '.join(CAM_FUNCTIONS)}); "
                            f"method={settings.method.value!r} explains one clip: use it with explain")
    layer_name, layer = resolve_layer(model, settings.layer, spec)
    settings = replace(settings, layer=layer_name)
    cats = tuple(spec.categories)
    keep = None if targets is None else [class_index(t, cats) for t in targets]
    path = os.fspath(video)
    name = os.path.basename(path) or path
    t0 = time.perf_counter()
    line = _index(path, max_duration)
    plan = plan_windows(line.times, line.duration, rate=spec.clip_rate, num_frames=spec.num_frames, stride=stride)
    run = _Run(explainer, amp, spec, layer, layer_name, settings, plan, batch_size, path, name, line, seconds_per_minute)
    probs, maps = run.stream(keep, on_frame, progress)
    return TimelineResult(
        video=path, model=spec.name, categories=cats, settings=settings, plan=plan, probs=probs,
        maps=maps, frame_size=run.frame_size, crop_box=crop_box_for(run.frame_size, spec),
        source_fps=line.fps, num_source_frames=line.n, passes=1,
        targets=None if targets is None else tuple(keep),
        timings={"total_s": time.perf_counter() - t0, **run.timings},
    )


def convert_pixels(spec, frame_size: tuple[int, int]) -> int:
    """How many pixels a grid frame is converted to RGB at: its short side shrunk (never
    enlarged) to twice what the model resizes it to, and at least :data:`MIN_SHORT_SIDE`.

    Converting a 720p frame at full size and then resizing it for the model costs more than
    decoding it; swscale's area filter shrinks it in the conversion instead. The model then
    resizes from this size rather than from the full frame, so a window's scores can differ
    slightly (antialiasing) from ``read_clip`` + ``explain`` of the same frames.
    """
    h, w = resized_size(frame_size, spec)
    short = max(MIN_SHORT_SIDE, 2 * min(h, w))
    scale = min(1.0, short / min(frame_size))
    return max(1, int(frame_size[0] * frame_size[1] * scale * scale) + 1)


def _index(path: str, max_duration: float):
    """The demux pass; refuses a video longer than ``max_duration`` or with too few frames."""
    with open_video(path, limits=Limits(max_duration=max_duration + 1.0, time_budget=_INDEX_SECONDS)) as video:
        line = video.index()
    if line.duration > max_duration + 1e-6:
        raise VideoTooLargeError(
            f"{video.name}: is longer than {_minutes(max_duration)}, the limit for a whole-video timeline; "
            "trim it (or split it) first"
        )
    return line


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} s"


@dataclass
class _Run:
    """One streamed pass over the video: decode the grid, run the windows in batches."""

    explainer: Explainer  # its lock is held while a batch runs
    amp: bool
    spec: object
    layer: nn.Module
    layer_name: str
    settings: Settings
    plan: Plan
    batch_size: int
    path: str
    name: str
    line: object
    seconds_per_minute: float | None
    frame_size: tuple[int, int] = (0, 0)
    timings: dict[str, float] = field(default_factory=dict)

    def stream(self, keep: list[int] | None, on_frame: FrameSink | None, progress: Progress | None):
        """(probs, maps) of every window; ``keep``: the classes whose maps every window keeps, or
        None for each window's moment classes (see the module doc)."""
        plan, n_win = self.plan, len(self.plan.starts)
        grid_of: dict[int, list[int]] = {}  # source frame -> the grid frames it stands for
        for g, p in enumerate(nearest_positions(self.line.times, plan.grid)):
            grid_of.setdefault(p, []).append(g)
        self._last_use = plan.last_use()
        self._frames: dict[int, np.ndarray] = {}  # grid frame -> RGB, until preprocessed
        self._inputs: dict[int, torch.Tensor] = {}  # grid frame -> its (C, h, w) model input
        self._device = self.explainer.device
        self._probs = np.zeros((n_win, len(self.spec.categories)), np.float32)
        self._maps: dict[int, np.ndarray] = {}
        self._pending: deque[tuple[list[int], LayerForward, tuple[int, ...]]] = deque()  # batches awaiting classes
        self._keep, self._progress = keep, progress
        self.timings.setdefault("preprocess_s", 0.0)
        self.timings.setdefault("model_s", 0.0)
        budget_s = (1e9 if self.seconds_per_minute is None
                    else max(MIN_DECODE_BUDGET_S, self.seconds_per_minute * self.line.duration / 60))
        limits = Limits(max_duration=math.inf, max_decoded_frames=self.line.n + 64, time_budget=budget_s)
        self._done = 0  # windows run so far
        with open_video(self.path, limits=limits) as video:
            container, stream = video.container, video.stream
            cc = stream.codec_context
            limits = replace(limits, display_pixels=convert_pixels(self.spec, (cc.height, cc.width)))
            out = Decoded()
            # Decoding and the model take turns. A decode thread running ahead was tried: on 2 cores
            # FFmpeg's threads and torch's then slow each other down (the model's time rose by 70%).
            self._budget = Budget(self.name, limits)  # decode time only: model time is added back
            self._consume(iter_frames(container, stream, self.line, sorted(grid_of), self._budget, out),
                          out, grid_of, on_frame)
        done = self._done
        if done < n_win:  # the last windows, and those past a truncated tail (holding its last frame)
            held = {**self._frames, **self._inputs}
            if not held:
                raise VideoError(f"{self.name}: no frame could be decoded; the file is corrupt or truncated — re-export it")
            last = max(held)
            for g in range(last + 1, len(plan.grid)):
                (self._frames if last in self._frames else self._inputs)[g] = held[last]
            while done < n_win:
                done = self._run_batch(done)
        return self._probs, self._maps

    def _consume(self, frames, out: Decoded, grid_of: dict[int, list[int]], on_frame: FrameSink | None) -> None:
        """Take the decoded grid frames in order; run each batch of windows once its frames are in."""
        for pos, _, rgb in frames:
            turns = round(out.rotation / 90) % 4
            frame = np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
            self.frame_size = tuple(frame.shape[:2])
            for g in grid_of[pos]:
                self._frames[g] = frame
                if on_frame is not None:
                    on_frame(g, frame)
            ready = max(grid_of[pos])
            while self._count_ready(self._done, ready) >= self.batch_size:
                self._done = self._run_batch(self._done)

    def _count_ready(self, done: int, ready: int) -> int:
        """How many windows from ``done`` on have all their grid frames in hand."""
        n, last = 0, len(self.plan.grid) - 1
        for k in range(done, len(self.plan.starts)):
            if min(self.plan.starts[k] + self.plan.num_frames - 1, last) > ready:
                break
            n += 1
        return n

    def _preprocess(self, grid_frames: list[int]) -> None:
        """Model inputs for the grid frames not yet preprocessed: one call for all of them."""
        todo = [g for g in dict.fromkeys(grid_frames) if g not in self._inputs]
        if not todo:
            return
        t = time.perf_counter()
        x = preprocess(torch.from_numpy(np.stack([self._frames.pop(g) for g in todo])), self.spec, device=self._device)[0]
        x = x[0].transpose(0, 1).contiguous()  # (C, n, h, w) => (n, C, h, w): one block per frame
        for i, g in enumerate(todo):
            self._inputs[g] = x[i]
        self.timings["preprocess_s"] += time.perf_counter() - t

    def _run_batch(self, done: int) -> int:
        """Run windows ``done``.. (a batch of them); drop the frames no later window holds."""
        start = time.perf_counter()
        batch = list(range(done, min(len(self.plan.starts), done + self.batch_size)))
        self._preprocess([g for k in batch for g in self.plan.frames(k)])
        t = time.perf_counter()
        T = self.plan.num_frames
        x = _stack([self._inputs[g] for k in batch for g in self.plan.frames(k)])  # (B * T, C, h, w)
        x = x.view(len(batch), T, *x.shape[1:]).transpose(1, 2).contiguous()  # => (B, C, T, h, w)
        done = batch[-1] + 1
        with self.explainer.exclusive() as model:
            run = forward_to_layer(model, x, self.layer, self.layer_name, spec=self.spec, amp=self.amp)
            self._probs[batch] = run.logits.detach().float().softmax(-1).cpu().numpy()
            if self._keep is not None:  # the same classes in every window
                if self._keep:
                    self._store(batch, run, x.shape, {k: self._keep for k in batch})
            else:  # each window's moment classes, once the windows after it are scored
                self._pending.append((batch, run, tuple(x.shape)))
                self._settle(done)
        self.timings["model_s"] += time.perf_counter() - t
        self._budget.deadline += time.perf_counter() - start  # the budget bounds decoding, not the model
        for g in [g for g in self._inputs if self._last_use[g] < done]:
            del self._inputs[g]
        if self._progress is not None:
            self._progress(done, len(self.plan.starts))
        return done

    def _settle(self, done: int) -> None:
        """Keep the maps of the waiting batches whose frames' top classes are now known: a frame's
        is known once every window holding it is scored, i.e. before the first window not yet run."""
        plan, n = self.plan, len(self.plan.grid)
        known = plan.starts[done] if done < len(plan.starts) else n  # frames before this one are settled
        ready = []
        while self._pending and min(plan.starts[self._pending[0][0][-1]] + plan.num_frames, n) <= known:
            ready.append(self._pending.popleft())
        if not ready:
            return
        top = top_per_frame(plan, self._probs)[0]
        for batch, run, shape in ready:
            wanted = {k: sorted({int(c) for c in top[plan.starts[k]:min(plan.starts[k] + plan.num_frames, n)]})
                      for k in batch}
            self._store(batch, run, shape, wanted)

    def _store(self, batch: list[int], run: LayerForward, shape: tuple[int, ...], wanted: dict[int, list[int]]) -> None:
        """Keep class ``c``'s map of window ``k`` for each ``c`` in ``wanted[k]``; the others stay NaN.
        The same classes everywhere (``targets``): one batched backward; else one backward pass
        for each class a window wants (usually one), each window asking for its own class."""
        depth = max(len(cs) for cs in wanted.values())
        if self._keep is not None and depth > 1:  # one vmap-batched product for the targets
            grads = run.gradients([(c, None) for c in self._keep], keep_graph=False)  # (K, B, C, t, h, w)
        else:
            grads = run.gradients_per_clip([[wanted[k][j] if j < len(wanted[k]) else None for k in batch]
                                            for j in range(depth)], keep_graph=False)
        act = run.activation_cthw()
        # at the layer's spatial size, spread over the window's frames when the layer pooled time
        # (tubelets), and scaled to [0, 1] per map, as the Explainer does for a clip
        _, maps, _ = cam_maps(act, grads, self.settings, (shape[2], *act.shape[-2:]), normalize=Normalize.CLIP)
        maps = maps.cpu().numpy().astype(np.float16)  # (B, K, T, h, w): window b's j-th class in [b, j]
        for i, k in enumerate(batch):
            for j, c in enumerate(wanted[k]):
                if c not in self._maps:
                    self._maps[c] = np.full((len(self.plan.starts), *maps.shape[2:]), np.nan, np.float16)
                self._maps[c][k] = maps[i, j]


def _stack(tensors: list[torch.Tensor]) -> torch.Tensor:
    """``torch.stack`` of a batch's frames; on the CPU through numpy, in one thread: torch's cat
    runs each of the ~128 small copies as a parallel region, and with the 2 cores busy (decoder
    threads, another request) it took 1.4 s for a batch of 8 windows where numpy takes 5 ms."""
    if tensors[0].device.type != "cpu":
        return torch.stack(tensors)
    return torch.from_numpy(np.stack([t.numpy() for t in tensors]))
