"""Explanations and trust reports in a notebook: the HTML Jupyter shows for an
:class:`~core.cam.Explanation` and a :class:`~core.trust.TrustReport` (their ``_repr_html_``
calls these), self-contained: the pictures are inline base64 GIF and PNG.

>>> exp = core.explain(model, clip, top_k=2)
>>> exp                                   # in Jupyter: original | heatmap, the top-2, the evidence plot
>>> core.trust.trust_check(model, clip, exp)          # the curves, the verdicts, the sanity maps
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from . import render
from .transforms import resize_frames

__all__ = ["curves_figure", "explanation_html", "mean_map", "peak_frame", "sanity_picture", "trust_html"]

_STYLE = "font-family: sans-serif; font-size: 13px; max-width: 760px"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _gif(frames: np.ndarray, fps: float) -> str:
    with tempfile.TemporaryDirectory() as tmp:  # save_gif writes files: the one GIF writer, reused
        data = render.save_gif(frames, Path(tmp) / "x.gif", fps=fps).read_bytes()
    return "data:image/gif;base64," + base64.b64encode(data).decode("ascii")


def _png_image(image: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th style='text-align:left; padding:2px 8px'>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='padding:2px 8px'>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def explanation_html(exp, frames=None, *, target: int = 0, alpha: float = 0.5, max_side: int = 240,
                     fps: float = 4.0, top: int = 2) -> str:
    """``exp`` as HTML: the animation original | heatmap of ``exp.targets[target]`` (as the 2017
    post shows it), the ``top`` most probable classes and the evidence-over-time plot.

    ``frames``: the clip's (T, H, W, 3) uint8 frames; default ``exp.frames`` (the frames it was
    explained on). Without frames (a model-input tensor was explained) the heatmap plays alone.
    """
    frames = exp.frames if frames is None else frames
    t = exp.targets[target]
    maps = exp.maps_on_frames()[target]  # (T, H, W) over the sampled frames
    stamps = exp.timestamps or tuple(range(maps.shape[0]))
    labels = [f"{t.name} | {f't={s:.2f}s' if exp.timestamps else f'frame {s}'}" for s in stamps]
    if frames is not None:
        shown = render.combined_frames(frames, render.overlay(frames, maps, alpha=alpha), labels=labels,
                                       max_side=max_side)
        caption = "original | heatmap"
    else:
        shown = render._fit(render.colorize(maps), max_side)
        caption = "heatmap (no frames: pass frames= to see the clip under it)"
    rows = [[html.escape(lab), f"{p:.1%}",
             f"<div style='background:#f97316; height:10px; width:{max(1, round(150 * p))}px'></div>"]
            for lab, p in exp.topk(top)]
    fig = render.temporal_plot(exp.temporal_importance, timestamps=exp.timestamps or None,
                               labels=[x.name for x in exp.targets])
    how = f"{exp.method.value}" + (f" at {exp.layer}" if exp.layer else "")
    return (
        f"<div class='videocam-explanation' style='{_STYLE}'>"
        f"<div><b>{html.escape(exp.model)}</b> · {html.escape(how)} · explaining "
        f"<b>{html.escape(t.name)}</b></div>"
        f"<figure style='margin:4px 0'><img alt='{caption}' src='{_gif(shown, fps)}'/>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        f"<div><b>Top-{top}</b>{_table(rows, ['class', 'probability', ''])}</div>"
        f"<figure style='margin:4px 0'><img alt='evidence over time' src='{_png(fig)}'/>"
        "<figcaption>When is the evidence? Each frame's share of the heatmap.</figcaption></figure>"
        "</div>"
    )


def mean_map(maps) -> torch.Tensor:
    """(T, H, W) maps -> (H, W): their mean over time, scaled to [0, 1] (all zeros stays zeros):
    one picture that stands for the whole clip, where one frame may hold no evidence at all."""
    m = torch.as_tensor(maps, dtype=torch.float32).mean(0)
    m = m - m.min()
    return m / m.max() if m.max() > 0 else m


def peak_frame(maps) -> int:
    """The index of the frame holding the most of ``maps`` (T, H, W): the one to draw them on."""
    return int(torch.as_tensor(maps, dtype=torch.float32).flatten(1).sum(1).argmax())


def curves_figure(report):
    """Deletion (left) and insertion (right) curves, by frame (top) and by region (bottom); the
    heatmap's order solid, a random order dashed, the areas under the curves in the legends."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.4), dpi=100, layout="constrained")
    axes = fig.subplots(2, 2, sharex=True, sharey=True)
    colours = {"deletion": "tab:red", "insertion": "tab:blue"}
    top = max(max(c.probs) for c in report.curves.values())
    for row, unit in enumerate(("frames", "regions")):
        for col, mode in enumerate(("deletion", "insertion")):
            ax = axes[row, col]
            for order, style, name in (("cam", "-", "heatmap order"), ("random", "--", "random order")):
                c = report.curves[f"{unit}_{mode}_{order}"]
                ax.plot(c.fractions, c.probs, style, marker="o", markersize=3, linewidth=1.5,
                        color=colours[mode], label=f"{name} (AUC {c.auc:.3f})", clip_on=True)
            ax.set_xlabel(f"fraction of {unit} {'removed' if mode == 'deletion' else 'added back'}")
            if col == 0:
                ax.set_ylabel("P(class)")
            if row == 0:
                ax.set_title("Deletion: lower is better" if mode == "deletion"
                             else "Insertion: higher is better", fontsize=10)
            # every curve inside its axes: the top is the highest probability of all, plus room
            # for the markers and the legend (which sits where the curves are not)
            ax.set_ylim(0, min(1.0, top) * 1.12 + 0.02)
            ax.set_xlim(-0.03, 1.03)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, frameon=True, framealpha=0.8, loc="best")
    return fig


def sanity_picture(report, exp, frames, *, alpha: float = 0.5, panel_side: int = 200) -> np.ndarray:
    """(H, W, 3) uint8: the sanity check of ``report`` (made for ``exp``) as pictures side by
    side, the trained model's heatmap first and then the randomised models', each titled with its
    rank correlation. ``frames`` (T, h, w, 3) uint8: the clip as shown (``exp``'s maps are placed
    on them as :meth:`~core.cam.Explanation.maps_on_frames` does). Each is drawn on the frame where
    the trained model's evidence peaks (a fixed first frame may hold none: all blue), scaled to its
    own maximum there, so the panels compare where each map points; ``panel_side``: each panel's
    longest side (small clips are enlarged)."""
    frames = np.asarray(frames)
    h, w = frames.shape[1:3]
    scale = panel_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    peak = peak_frame(report.sanity_maps["trained"])
    frame = resize_frames(frames[peak:peak + 1], size)
    stacked = torch.stack([m[peak:peak + 1] for m in report.sanity_maps.values()])
    maps = replace(exp, maps=stacked).maps_on_frames(frame_size=size)  # (N, 1, H, W)
    rhos = {"+".join(s["randomized"]): s["spearman"] for s in report.sanity}
    panels = []
    for name, m in zip(report.sanity_maps, maps, strict=True):
        newest = name.rsplit("+", 1)[-1]  # the layer this step randomised, on top of the last
        title = ("trained model\nthe heatmap shown" if name == "trained" else
                 f"{'' if newest == name else '+ '}{newest} random\nrank corr. {rhos[name]:.2f}")
        top = float(m.max())
        panel = render.titled(render.overlay(frame, m / top if top > 0 else m, alpha=alpha), title)[0]
        if panels:
            panels.append(np.full((panel.shape[0], 6, 3), 255, np.uint8))  # a white gap
        panels.append(panel)
    return np.concatenate(panels, axis=1)


def trust_html(report) -> str:
    """A :class:`~core.trust.TrustReport` as HTML: the verdicts in words, the deletion /
    insertion curves, the counterfactual clips and the sanity check (each map averaged over time)."""
    v = report.verdicts
    tests = ", ".join(f"{name.replace('_', ' ')}: {mark}" for name, mark in v.tests.items())
    flips = ", ".join(f.replace("_", " ") for f in v.flips) or "none"
    cf = [[html.escape(k.replace("_", " ")), html.escape(c["top1"]), f"{c['top1_prob']:.3f}",
           f"{c['target_prob']:.3f}", "✓" if c["flipped"] else "✗"] for k, c in report.counterfactuals.items()]
    rhos = {"+".join(s["randomized"]): s["spearman"] for s in report.sanity}
    thumbs = []
    for name, maps in report.sanity_maps.items():
        picture = _png_image(render.colorize(mean_map(maps)[None])[0])
        what = "trained model" if name == "trained" else f"{name} random · rank corr. {rhos.get(name, float('nan')):.2f}"
        thumbs.append(f"<figure style='display:inline-block; margin:2px 6px'><img width='110' "
                      f"alt='{html.escape(name)}' src='{picture}'/><figcaption>{html.escape(what)}</figcaption></figure>")
    sanity = v.sanity or "no layers to randomise"
    m = getattr(report, "motion", None)  # core.trust.motion's check
    motion = "" if m is None else (
        f"<p><b>Motion or appearance: {html.escape(m.verdict)}</b>{' (weak)' if m.weak else ''} — P(class) "
        f"{m.prob:.3f}, {m.prob_frozen:.3f} with motion removed, {m.prob_still_removed:.3f} with appearance removed; "
        f"{'-' if m.share is None else f'{m.share:.0%}'} of the evidence on the {m.area:.0%} of the clip that moves</p>")
    return (
        f"<div class='videocam-trust' style='{_STYLE}'>"
        f"<div>Checks for <b>{html.escape(report.target)}</b></div>"
        f"<p><b>Faithfulness: {html.escape(v.faithfulness)}</b> — the heatmap's order beats a random one "
        f"in {v.passed} of {len(v.tests)} tests ({html.escape(tests)}).</p>"
        f"<img alt='deletion and insertion curves' src='{_png(curves_figure(report))}'/>"
        f"<p><b>Counterfactuals</b> that change the top-1: {html.escape(flips)}</p>"
        f"{_table(cf, ['clip', 'top-1', 'P(top-1)', 'P(class)', 'flipped'])}{motion}"
        f"<p><b>Sanity:</b> the map {html.escape(sanity)} (each map averaged over time)</p>"
        f"<div>{''.join(thumbs)}</div>"
        "</div>"
    )
