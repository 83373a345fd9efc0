"""How long a ZeroGPU call books the GPU (``spaces.GPU(duration=)``), from what it will do.

Each wrapped function has a cost function of its arguments: (model name, forward passes, other
seconds). The booking is those passes at the speed the model's last call measured in the worker
(:data:`PRIOR_PASS_S` before its first), times :data:`MARGIN`, plus :data:`START_S`; a call whose
booking is over :data:`MAX_SECONDS` is refused before any slot is asked for (demo/space.py).
"""

from __future__ import annotations

import math
import os

__all__ = ["MAX_SECONDS", "audit_cost", "booking", "explain_cost", "learn", "scan_cost", "trust_cost"]

# What one GPU call may book (ZeroGPU's default is 60 s; shorter bookings queue first). A call
# whose estimate is over this is refused with a message. The first call of a model books as if
# each forward pass took PRIOR_PASS_S; later ones use the speed its last call measured, times MARGIN.
MAX_SECONDS = int(os.environ.get("VIDEOCAM_GPU_MAX_SECONDS") or 120)
START_S = 10.0  # worker start-up (fork, CUDA context, the weights to the GPU) and the round trip
PRIOR_PASS_S = 0.5
MARGIN = 1.5


_pass_s: dict[str, float] = {}  # model -> seconds a forward pass took in its last call in the worker


def booking(model: str, passes: float, extra_s: float = 0.0) -> int:
    """Seconds to book for ``passes`` forward passes of ``model`` (plus ``extra_s``: decoding)."""
    each = _pass_s.get(model, PRIOR_PASS_S / MARGIN) * MARGIN
    return max(5, math.ceil(START_S + extra_s + passes * each))


def learn(model: str | None, passes: float, took_s: float) -> None:
    """The model's speed, as its last call in the worker measured it (a first call, which warms
    the worker up, counts until the next one)."""
    if model and passes >= 1:
        _pass_s[model] = took_s / passes


# What each wrapped call will do, from its arguments: (model, forward passes, other seconds).
TRUST_PASSES = 48  # the trust checks: 5 deletion/insertion curves of 7 steps, 5 counterfactuals, 3 sanity runs
DECODE_S_PER_MINUTE = 3.0  # the whole-video scan's decode (benchmarks: 59 s for 10 min, model included, 2 CPUs)


def explain_cost(explainer, clip, settings, *_, **__) -> tuple[str, float, float]:
    from .models import name_of

    return name_of(explainer), explainer.forward_passes(clip, settings), 0.0


def trust_cost(explainer, *_, **__) -> tuple[str, float, float]:
    from .models import name_of

    return name_of(explainer), TRUST_PASSES, 0.0


def audit_cost(explainer, items, *_, **__) -> tuple[str, float, float]:
    from .models import name_of

    return name_of(explainer), 2 * len(items), 0.1 * len(items)  # a forward and a backward, a decode


def scan_cost(video, model, explainer, *_, **__) -> tuple[str, float, float]:
    import av

    from .config import TIMELINE_MAX_SECONDS

    spec = explainer.spec
    try:
        with av.open(str(video)) as container:
            seconds = (container.duration or 0) / 1e6
    except Exception:  # not a video: the scan says what is wrong with it, in a short booking
        seconds = 0.0
    if not seconds:  # a video that does not say how long it is: book the most a call may
        return model, None, 0.0
    seconds = min(seconds, TIMELINE_MAX_SECONDS)
    windows = 2 * seconds / (spec.num_frames / spec.clip_rate) + 1  # half a window apart
    return model, windows, DECODE_S_PER_MINUTE * seconds / 60
