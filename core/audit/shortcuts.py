"""Per class: where the evidence lies, whether it looks like a shortcut, and whether it is one.

**Screen** (no ground truth needed). From the class's records (the labelled class explained):

- the class's mean evidence map, and its *region*: the box around the map's peak cell that holds
  the cells above half the peak connected to it (4-neighbours);
- ``concentration``: the share of the mean map inside the region;
- ``fixed``: the share of the class's clips whose own evidence peak lies in the region or within
  one cell of it (an object that moves about gives a low value, a fixed corner a high one);
- ``off_motion``: the mean over clips of the evidence that lies on cells moving less than the
  clip's average (from frame differences: what moves is what an action is made of).

A class is *suspicious* when its region covers at most :data:`MAX_REGION` of the frame, and
``fixed`` >= :data:`MIN_FIXED` and ``off_motion`` >= :data:`MIN_OFF_MOTION`.

**Causal tests** (for each suspicious class), both on the model input, for the whole clip, on the
region grown by one cell on every side (:func:`grown`: a coarse map blurs an artifact's edges,
and a test that leaves a rim of it in place tests nothing):

- *paste* (is the region enough?): the region's pixels from the class's clips are pasted over the
  same place of up to ``n`` clips of other classes that the model gets right. ``flip_rate``: how
  often the prediction becomes the class; ``control_rate``: the same with the region taken from
  clips of third classes, so that pasting as such is accounted for.
- *removal* (is the region needed?): the region of up to ``n`` of the class's own clips that the
  model gets right is covered with the same place of other classes' clips. ``drop_rate``: how
  often the class is lost (no longer the prediction, or less than half as probable);
  ``control_drop_rate``: the same with a box of the same size covered in the farthest corner.

A class is **flagged** when either test confirms the region: its rate >= :data:`FLAG_FLIP` and
at least :data:`FLAG_MARGIN` above its control (``flagged_by`` says which). A flag means the
model uses the region, not that it looks odd.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["FLAG_FLIP", "FLAG_MARGIN", "MAX_REGION", "MIN_FIXED", "MIN_OFF_MOTION", "causal_test",
           "class_evidence", "far_box", "flagged", "grown", "paste_region", "removal_test"]

REGION_LEVEL = 0.5  # a region's cells hold at least half the peak (its full width at half maximum)
MAX_REGION = 0.1  # an artifact (a logo, a timestamp) is a small part of the frame; a quarter is a scene
MIN_FIXED = 0.5
MIN_OFF_MOTION = 0.5
FLAG_FLIP = 0.5
FLAG_MARGIN = 0.25


def _region(mean: np.ndarray) -> tuple[int, int, int, int]:
    """(y0, x0, y1, x1), end-exclusive, of the cells >= :data:`REGION_LEVEL` x the peak that are
    connected to the peak."""
    h, w = mean.shape
    py, px = np.unravel_index(int(mean.argmax()), mean.shape)
    keep = mean >= mean[py, px] * REGION_LEVEL
    seen = np.zeros_like(keep)
    stack = [(py, px)]
    seen[py, px] = True
    while stack:
        y, x = stack.pop()
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= ny < h and 0 <= nx < w and keep[ny, nx] and not seen[ny, nx]:
                seen[ny, nx] = True
                stack.append((ny, nx))
    ys, xs = np.nonzero(seen)
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def _near(peak: tuple[int, int], box: tuple[int, int, int, int]) -> bool:
    y, x = peak
    y0, x0, y1, x1 = box
    return y0 - 1 <= y <= y1 and x0 - 1 <= x <= x1


def class_evidence(records: list[dict]) -> dict:
    """The screen's numbers for one class's records (all on one grid), and its mean map."""
    ev = np.stack([np.asarray(r["evidence"], np.float64) for r in records])
    mo = np.stack([np.asarray(r["motion"], np.float64) for r in records])
    mean = ev.mean(0)
    gh, gw = mean.shape
    box = _region(mean)
    y0, x0, y1, x1 = box
    peaks = [np.unravel_index(int(e.argmax()), e.shape) for e in ev]
    still = mo < mo.mean((1, 2), keepdims=True)
    out = {
        "grid": [gh, gw],
        "mean_map": [[round(v, 5) for v in row] for row in mean.tolist()],
        "profile": [round(v, 5) for v in np.mean([r["profile"] for r in records], 0).tolist()],
        "region": {"cells": [y0, x0, y1, x1],
                   "box": [round(x0 / gw, 4), round(y0 / gh, 4), round(x1 / gw, 4), round(y1 / gh, 4)]},
        "region_area": round((y1 - y0) * (x1 - x0) / (gh * gw), 4),
        "concentration": round(float(mean[y0:y1, x0:x1].sum()), 4),
        "fixed": round(float(np.mean([_near(tuple(map(int, p)), box) for p in peaks])), 4),
        "off_motion": round(float((ev * still).sum((1, 2)).mean()), 4),
    }
    out["suspicious"] = bool(out["region_area"] <= MAX_REGION and out["fixed"] >= MIN_FIXED
                             and out["off_motion"] >= MIN_OFF_MOTION)
    return out


def paste_region(into: torch.Tensor, source: torch.Tensor, cells: tuple[int, int, int, int],
                 grid: tuple[int, int]) -> torch.Tensor:
    """``into`` (1, C, T, H, W) with the input pixels under grid ``cells`` (y0, x0, y1, x1) taken
    from ``source`` (the same shape), in every frame."""
    H, W = into.shape[-2:]
    y0, x0, y1, x1 = cells
    gh, gw = grid
    py0, py1 = round(y0 * H / gh), round(y1 * H / gh)
    px0, px1 = round(x0 * W / gw), round(x1 * W / gw)
    out = into.clone()
    out[..., py0:py1, px0:px1] = source[..., py0:py1, px0:px1]
    return out


def causal_test(predict: Callable[[torch.Tensor], torch.Tensor], load: Callable[[int], torch.Tensor],
                c: int, region: dict, grid: tuple[int, int], records: list[dict], *, n: int = 24) -> dict:
    """Paste class ``c``'s region into up to ``n`` correctly predicted clips of other classes.

    ``load(index)`` gives a record's model input (1, C, T, H, W); ``predict`` maps a batch of
    inputs to probabilities. Recipients are taken class by class in turn (each class's clips in
    list order); donors cycle through class ``c``'s clips (those the model gets right first), and
    the control's donors through the other classes' clips. Returns the rates and what was run.
    """
    cells = tuple(region["cells"])
    own = sorted((r for r in records if r["target"] == c), key=lambda r: (r["rank"] != 0, r["index"]))
    by_class: dict[int, list[dict]] = {}
    for r in sorted(records, key=lambda r: r["index"]):
        if r["target"] != c and r["rank"] == 0:
            by_class.setdefault(r["target"], []).append(r)
    recipients = []
    while len(recipients) < n and any(by_class.values()):
        for k in sorted(by_class):
            if by_class[k] and len(recipients) < n:
                recipients.append(by_class[k].pop(0))
    if not own or not recipients:
        return {"n": 0, "flip_rate": None, "control_rate": None, "forward_passes": 0,
                "why": "no clips of the class" if not own else "no correctly predicted clips of other classes"}
    others = [r for r in sorted(records, key=lambda r: r["index"]) if r["target"] != c]
    pasted, control, pairs = [], [], []
    for i, rec in enumerate(recipients):
        donor = own[i % len(own)]
        third = [r for r in others if r["target"] != rec["target"]]
        ctrl = third[(i * 7) % len(third)] if third else rec
        x = load(rec["index"])
        pasted.append(paste_region(x, load(donor["index"]), cells, grid))
        control.append(paste_region(x, load(ctrl["index"]), cells, grid))
        pairs.append((rec["index"], donor["index"], ctrl["index"]))
    p = predict(torch.cat(pasted + control))
    k = len(recipients)
    flips = (p[:k].argmax(1) == c).tolist()
    ctrl_flips = (p[k:].argmax(1) == c).tolist()
    return {
        "n": k,
        "flip_rate": round(sum(flips) / k, 4),
        "control_rate": round(sum(ctrl_flips) / k, 4),
        "mean_p_class": round(float(p[:k, c].mean()), 4),
        "mean_p_class_control": round(float(p[k:, c].mean()), 4),
        "forward_passes": 2 * k,
        "examples": [{"recipient": a, "donor": b, "control_donor": d, "flipped": bool(f),
                      "p_class": round(float(q), 4)}
                     for (a, b, d), f, q in zip(pairs, flips, p[:k, c].tolist(), strict=True)],
    }


def grown(cells, grid: tuple[int, int]) -> list[int]:
    """The box ``cells`` (y0, x0, y1, x1) grown by one cell on every side, within the grid."""
    y0, x0, y1, x1 = cells
    return [max(y0 - 1, 0), max(x0 - 1, 0), min(y1 + 1, grid[0]), min(x1 + 1, grid[1])]


def far_box(cells: tuple[int, int, int, int], grid: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box of the same size as ``cells`` in the frame's corner farthest from it (the removal
    test's control: the same amount of the clip hidden, somewhere else)."""
    y0, x0, y1, x1 = cells
    h, w = y1 - y0, x1 - x0
    gh, gw = grid
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    corners = [(a, b, a + h, b + w) for a in (0, gh - h) for b in (0, gw - w)]
    return max(corners, key=lambda k: ((k[0] + k[2]) / 2 - cy) ** 2 + ((k[1] + k[3]) / 2 - cx) ** 2)


def removal_test(predict: Callable[[torch.Tensor], torch.Tensor], load: Callable[[int], torch.Tensor],
                 c: int, region: dict, grid: tuple[int, int], records: list[dict], *, n: int = 24) -> dict:
    """Hide class ``c``'s region in up to ``n`` of its own correctly predicted clips, by pasting
    the same place from clips of other classes (cycled in list order), and count how often the
    class loses it: it is no longer the prediction, or its probability falls below half of what
    it was (``drop_rate``; the record's ``p_true`` is the before); ``control_drop_rate``: the same
    with a box of the same size hidden in the farthest corner (:func:`far_box`)."""
    cells = tuple(region["cells"])
    own = [r for r in sorted(records, key=lambda r: r["index"]) if r["target"] == c and r["rank"] == 0][:n]
    others = [r for r in sorted(records, key=lambda r: r["index"]) if r["target"] != c]
    if not own or not others:
        return {"n": 0, "drop_rate": None, "control_drop_rate": None, "forward_passes": 0,
                "why": "no correctly predicted clips of the class" if not own else "no clips of other classes"}
    far = far_box(cells, grid)
    hidden, control, pairs = [], [], []
    for i, rec in enumerate(own):
        filler = others[(i * 5) % len(others)]["index"]
        x = load(rec["index"])
        hidden.append(paste_region(x, load(filler), cells, grid))
        control.append(paste_region(x, load(filler), far, grid))
        pairs.append((rec["index"], filler))
    p = predict(torch.cat(hidden + control))
    k = len(own)
    before = torch.tensor([r["p_true"] for r in own], dtype=p.dtype)
    drops = ((p[:k].argmax(1) != c) | (p[:k, c] < before / 2)).tolist()
    ctrl = ((p[k:].argmax(1) != c) | (p[k:, c] < before / 2)).tolist()
    return {"n": k, "drop_rate": round(sum(drops) / k, 4), "control_drop_rate": round(sum(ctrl) / k, 4),
            "control_cells": list(far), "mean_p_class": round(float(p[:k, c].mean()), 4),
            "mean_p_class_control": round(float(p[k:, c].mean()), 4), "forward_passes": 2 * k,
            "examples": [{"clip": a, "filler": b, "dropped": bool(d), "p_before": r["p_true"], "p_class": round(float(q), 4)}
                         for (a, b), d, q, r in zip(pairs, drops, p[:k, c].tolist(), own, strict=True)]}


def flagged(test: dict | None, removal: dict | None = None) -> list[str]:
    """Which tests confirm the region ([] when none): ``"paste"`` (it is enough to make the class)
    and ``"removal"`` (the class goes without it)."""
    out = []
    if test and test.get("flip_rate") is not None and test["flip_rate"] >= FLAG_FLIP \
            and test["flip_rate"] - test["control_rate"] >= FLAG_MARGIN:
        out.append("paste")
    if removal and removal.get("drop_rate") is not None and removal["drop_rate"] >= FLAG_FLIP \
            and removal["drop_rate"] - removal["control_drop_rate"] >= FLAG_MARGIN:
        out.append("removal")
    return out
