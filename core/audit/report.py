"""``report.html``: the audit on one page that opens offline (every image inlined, no script).

A table of the classes (accuracy, the class most often predicted instead, the evidence screen,
the causal test, the flag); then, class by class, its mean evidence map with its region and its
temporal profile, the 2017 post's three tables (positive: right; medium: the labelled class
second; negative: not in the top 2) as "original | heatmap" GIFs with the true label and the top-2
predictions, and for a flagged class, the evidence for the flag. The GIFs are also written to
``clips/`` beside it.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..render import colorize, combined_frames, overlay, save_gif
from ..transforms import fit_frames
from ..video import read_clip
from .evidence import maps_on_display
from .shortcuts import paste_region

__all__ = ["write_report"]

_GIF_SIDE = 144
_MAP_SIDE = 168
_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#1b1b1f;max-width:1200px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccd;padding:4px 8px;font-size:14px;
vertical-align:top}th{background:#eef}.flag{background:#ffd9d9;font-weight:bold}.ok{color:#2a7a2a}
.muted{color:#667}section{border-top:2px solid #ccd;margin-top:28px}img{image-rendering:auto}
.maps{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
"""


def _png(rgb: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _img(src: str, alt: str) -> str:
    return f'<img src="{src}" alt="{html.escape(alt)}">'


def _map_image(mean: list[list[float]], region: dict | None) -> np.ndarray:
    """The class's mean evidence map, scaled to its peak, with the region's box in white."""
    m = np.asarray(mean, np.float64)
    m = m / m.max() if m.max() > 0 else m
    gh, gw = m.shape
    side = _MAP_SIDE
    big = np.asarray(Image.fromarray((m * 255).astype(np.uint8)).resize((side, round(side * gh / gw)),
                                                                        Image.NEAREST)) / 255.0
    rgb = colorize(big[None])[0]
    if region is not None:
        im = Image.fromarray(rgb)
        y0, x0, y1, x1 = region["cells"]
        sy, sx = rgb.shape[0] / gh, rgb.shape[1] / gw
        ImageDraw.Draw(im).rectangle([x0 * sx, y0 * sy, x1 * sx - 1, y1 * sy - 1], outline=(255, 255, 255), width=2)
        rgb = np.asarray(im)
    return rgb


def _profile_svg(profile: list[float]) -> str:
    w, h = 240, 60
    n = len(profile)
    top = max(max(profile), 1e-9)
    pts = " ".join(f"{i * (w - 8) / max(n - 1, 1) + 4:.1f},{h - 4 - v / top * (h - 12):.1f}"
                   for i, v in enumerate(profile))
    return (f'<svg width="{w}" height="{h}" role="img" aria-label="temporal profile">'
            f'<rect width="{w}" height="{h}" fill="#f6f6fb"/>'
            f'<polyline points="{pts}" fill="none" stroke="#d03" stroke-width="2"/></svg>'
            f'<div class="muted">evidence per sampled frame (first to last)</div>')


def _gif(explainer, settings, item, target: int, path: Path, limits, kept: Path) -> str:
    """The "original | heatmap" GIF of a clip: its maps from the audit's records (``kept``), or
    explained again where this process has none (another rank's videos, without a shared disk)."""
    clip = read_clip(item.path, explainer.spec, limits=limits)
    frames = fit_frames(clip.frames.numpy(), max_side=_GIF_SIDE)
    if kept.is_file():
        with np.load(kept) as z:
            maps = maps_on_display(z["maps"], tuple(frames.shape[1:3]), explainer.spec)
    else:
        exp = explainer.explain(clip, [target], settings=settings)
        maps = exp.maps_on_frames(tuple(frames.shape[1:3]))[0].numpy()
    save_gif(combined_frames(frames, overlay(frames, maps)), path)
    return "data:image/gif;base64," + base64.b64encode(path.read_bytes()).decode()


def _input_image(x, spec) -> np.ndarray:
    """The middle frame of a model input (1, C, T, H, W), as RGB uint8."""
    f = x[0, :, x.shape[2] // 2].numpy()
    mean, std = np.asarray(spec.mean)[:, None, None], np.asarray(spec.std)[:, None, None]
    return (np.clip(f * std + mean, 0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)


def _rates(s: dict) -> str:
    r = s["removal"]
    paste = f"{s['flip_rate']:.0%} ({s['control_rate']:.0%})" if s.get("flip_rate") is not None else s["why"]
    removal = f"{r['drop_rate']:.0%} ({r['control_drop_rate']:.0%})" if r.get("drop_rate") is not None else r["why"]
    return f"{paste} / {removal}"


def _pair(explainer, before, after, captions: tuple[str, str]) -> str:
    imgs = [Image.fromarray(_input_image(v, explainer.spec)).resize((_MAP_SIDE, _MAP_SIDE)) for v in (before, after)]
    return "<div class='maps'>" + "".join(
        f"<figure>{_img(_png(np.asarray(im)), cap)}<figcaption>{html.escape(cap)}</figcaption></figure>"
        for im, cap in zip(imgs, captions, strict=True)) + "</div>"


def _flag_evidence(s: dict, explainer, load, grid) -> str:
    """What confirmed the flag: each test's rates against its control, and one example of each."""
    cells, r = tuple(s["tested_cells"]), s["removal"]
    parts = [f"<p><b>Evidence for the flag</b> (confirmed by: {', '.join(s['flagged_by'])}).</p><ul>"]
    if s.get("flip_rate") is not None:
        parts.append(f"<li><i>Paste</i>: the region's pixels from this class's clips, pasted into {s['n']} clips of "
                     f"other classes that the model got right, turn {s['flip_rate']:.0%} of them into this class "
                     f"(mean probability {s['mean_p_class']:.2f}); the same region from clips of third classes turns "
                     f"{s['control_rate']:.0%} (mean {s['mean_p_class_control']:.2f}).</li>")
    if r.get("drop_rate") is not None:
        parts.append(f"<li><i>Removal</i>: covering the region in {r['n']} of this class's clips that the model got "
                     f"right (with the same place of other classes' clips) loses the class in {r['drop_rate']:.0%} of "
                     f"them (mean probability {r['mean_p_class']:.2f}); covering a box of the same size in the "
                     f"farthest corner loses it in {r['control_drop_rate']:.0%} (mean {r['mean_p_class_control']:.2f}).</li>")
    parts.append(f"<li>{s['forward_passes'] + r['forward_passes']} forward passes.</li></ul>")

    def example(clip: int, source: int, captions: tuple[str, str]) -> str:
        """Clip ``clip`` before and after the region's cells of clip ``source`` went in."""
        before = load(clip)
        return _pair(explainer, before, paste_region(before, load(source), cells, grid), captions)

    if "paste" in s["flagged_by"]:
        ex = next(e for e in s["examples"] if e["flipped"])
        parts.append(example(ex["recipient"], ex["donor"], (
            f"clip {ex['recipient']} as it is",
            f"with the region of clip {ex['donor']}: this class at {ex['p_class']:.2f}")))
    if "removal" in s["flagged_by"]:
        ex = next(e for e in r["examples"] if e["dropped"])
        parts.append(example(ex["clip"], ex["filler"], (
            f"clip {ex['clip']} as it is: this class at {ex['p_before']:.2f}",
            f"the region covered: this class at {ex['p_class']:.2f}")))
    return "".join(parts)


def _moves(m: dict | None) -> str:
    """A class's motion-or-appearance cell: verdict (share on what moves / moving area)."""
    if m is None:
        return "&ndash;"
    share = "&ndash;" if m["share"] is None else f"{m['share']:.2f}"
    return f"{m['verdict']} ({share} / {m['area']:.2f})"


def write_report(out: Path, audit: dict, explainer, settings, items: dict, load, limits=None,
                 maps_dir: Path | None = None) -> Path:
    """Write ``out/report.html`` (and the GIFs it shows, to ``out/clips/``): ``items`` maps a
    record's index to its :class:`~core.audit.inputs.Item`, ``load`` an index to its model input."""
    clips = out / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    cats = list(explainer.spec.categories)
    t = audit["thresholds"]
    rows, sections = [], []
    for label, c in audit["classes"].items():
        ev, s = c["evidence"], c["shortcut"]
        confused = next(iter(c["confusions"].items()), None)
        test = "not suspicious" if s is None else _rates(s)
        flag = "FLAGGED" if s and s.get("flagged") else ""
        screen = ("&ndash;" if ev is None else
                  f"{ev['concentration']:.2f} / {ev['fixed']:.2f} / {ev['off_motion']:.2f} / {ev['region_area']:.2f}")
        anchor = f"c{cats.index(label)}"
        rows.append(f"<tr class='{'flag' if flag else ''}'><td><a href='#{anchor}'>{html.escape(label)}</a></td>"
                    f"<td>{c['n']}</td><td>{c['top1']:.0%}</td>"
                    f"<td>{html.escape(f'{confused[0]} ({confused[1]})') if confused else '&ndash;'}</td>"
                    f"<td>{screen}</td><td>{test}</td><td>{_moves(c.get('motion'))}</td><td>{flag}</td></tr>")
        body = [f"<section id='{anchor}'><h2>{html.escape(label)}</h2>"
                f"<p>{c['n']} clips, {c['top1']:.0%} right.</p>"]
        if ev is not None:
            body.append("<div class='maps'><figure>" + _img(_png(_map_image(ev["mean_map"], ev["region"])),
                                                            "mean evidence")
                        + f"<figcaption>mean evidence for the class over its clips, with its region "
                          f"{ev['region']['box']} (x0, y0, x1, y1 of the frame)</figcaption></figure>"
                        f"<figure>{_profile_svg(ev['profile'])}</figure></div>")
        if s and s.get("flagged"):
            body.append(_flag_evidence(s, explainer, load, tuple(ev["grid"])))
        for table, entries in c["tables"].items():
            body.append(f"<h3>{table}</h3>")
            if not entries:
                body.append("<p class='muted'>none</p>")
                continue
            body.append("<table><tr><th>#</th><th>original | heatmap of the true class</th><th>labels</th></tr>")
            for e in entries:
                src = _gif(explainer, settings, items[e["index"]], cats.index(label), clips / f"{e['index']}.gif", limits,
                           Path(maps_dir or out) / f"{e['index']:07d}.npz")
                preds = "<br>".join(f"{k + 1}. {html.escape(lab)} :&ndash; {p:.2f}" for k, (lab, p) in enumerate(e["top2"]))
                body.append(f"<tr><td>{e['index']}</td><td>{_img(src, e['video'])}</td><td><b>True</b><br>"
                            f"{html.escape(label)}<br><br><b>Predictions</b><br>{preds}"
                            f"<br><span class='muted'>{html.escape(e['video'])}</span></td></tr>")
            body.append("</table>")
        sections.append("".join(body) + "</section>")
    errors = "".join(f"<li>{html.escape(e['video'])}: {html.escape(e['error'])}</li>" for e in audit["errors"])
    layer = f" at {audit['layer']}" if audit["layer"] else ""
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Audit: {html.escape(audit['model'])}</title>
<style>{_CSS}</style></head><body>
<h1>Audit of {html.escape(audit['model'])} on {html.escape(str(audit['data']))}</h1>
<p>{audit['videos']} videos, {len(audit['errors'])} unreadable; each explained for its labelled class with
{html.escape(audit['method'])}{html.escape(layer)}. Flagged: <b>{html.escape(', '.join(audit['flagged']) or 'none')}</b>.</p>
<p class="muted">Screen: concentration (the mean map's share in its region) / fixed (clips whose own peak is within a
cell of the region) / off-motion (evidence on cells that move less than the clip's average) / region area. A class is
suspicious when its region covers at most {t['max_region']:.0%} of the frame, fixed &ge; {t['min_fixed']} and
off-motion &ge; {t['min_off_motion']}; its region is then tested. Paste: pasted from the class's clips into clips of
other classes, does it turn them into the class (control: the region from third classes)? Removal: covered in the
class's own clips, does the class go (control: a box of the same size covered in the farthest corner)? Flagged: a test's
rate is &ge; {t['flag_flip_rate']:.0%} and {t['flag_margin_over_control']:.0%} above its control. Motion or appearance:
the verdict on the class's median drops in probability when motion is removed (every frame the middle one) and when
appearance is removed (what does not change over the clip made flat), (the evidence's mean share on what moves / the
moving area, a uniform map's share); see docs/trust.md.</p>
<table><tr><th>class</th><th>clips</th><th>top-1</th><th>most often predicted instead</th>
<th>screen</th><th>paste: flips (control) / removal: drops (control)</th><th>motion or appearance</th><th>flag</th></tr>
{''.join(rows)}</table>
{f'<h2>Unreadable videos</h2><ul>{errors}</ul>' if errors else ''}
{''.join(sections)}
</body></html>
"""
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
