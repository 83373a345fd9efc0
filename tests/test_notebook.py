"""In Jupyter an Explanation and a TrustReport show themselves: their ``_repr_html_`` is read here
as a notebook would render it (parsed, its pictures decoded), no Jupyter needed."""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from PIL import Image

import core
from core.trust import TrustReport
from core.trust.perturb import Curve


class _Page(HTMLParser):
    """The images (decoded) and the visible text of an HTML fragment."""

    def __init__(self, text: str):
        super().__init__()
        self.images: dict[str, Image.Image] = {}
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            head, data = a["src"].split(",", 1)
            assert head in ("data:image/gif;base64", "data:image/png;base64"), head
            self.images[a["alt"]] = Image.open(io.BytesIO(base64.b64decode(data)))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="module")
def explained(default_checkpoint):
    from harness import samples

    model = core.load_model()
    clip = core.read_clip(samples()[0][0], model.spec)
    return clip, core.explain(model, clip, top_k=2)


def test_an_explanation_shows_the_animation_the_top2_and_the_plot(explained):
    clip, exp = explained
    page = _Page(exp._repr_html_())
    gif = page.images["original | heatmap"]
    assert gif.format == "GIF" and gif.n_frames == clip.num_frames
    assert gif.width > 2 * (gif.height - 30)  # two panels side by side (under a label bar)
    gif.seek(0)
    first = np.asarray(gif.convert("RGB"))
    left, right = first[:, : gif.width // 2], first[:, gif.width // 2:]
    assert np.abs(left.astype(int) - right.astype(int)).mean() > 5  # the heatmap is drawn on one side only
    plot = page.images["evidence over time"]
    assert plot.format == "PNG" and plot.width > 200
    for label, p in exp.topk(2):
        assert f"{label} {p:.1%}" in page.words
    assert exp.topk(3)[2][0] not in page.words  # the top-2 only
    assert exp.targets[0].name in page.words and exp.model in page.words


def test_an_explanation_of_a_model_input_shows_the_heatmap_alone(explained):
    _, exp = explained
    page = _Page(replace(exp, frames=None)._repr_html_())
    (name, gif), = [(k, v) for k, v in page.images.items() if v.format == "GIF"]
    assert name.startswith("heatmap") and gif.n_frames == exp.maps.shape[1]


def test_an_explanation_keeps_the_callers_frames_but_does_not_pickle_them(explained):
    import pickle

    clip, exp = explained
    assert exp.frames is clip.frames  # a reference, not a copy
    back = pickle.loads(pickle.dumps(exp))
    assert back.frames is None and torch.equal(back.maps, exp.maps) and back.targets == exp.targets
    assert len(pickle.dumps(exp)) == len(pickle.dumps(replace(exp, frames=None)))


def _report() -> TrustReport:
    up, down = (0.0, 0.5, 1.0), (0.2, 0.6, 0.9)
    curves = {}
    for unit in ("frames", "regions"):
        curves[f"{unit}_deletion_cam"] = Curve(up, (0.6, 0.2, 0.1))
        curves[f"{unit}_deletion_random"] = Curve(up, (0.6, 0.5, 0.1))
        curves[f"{unit}_insertion_cam"] = Curve(up, down)
        curves[f"{unit}_insertion_random"] = Curve(up, (0.2, 0.3, 0.6))
    # the highest point is in the last panel, not the first: axes shared in y must still hold it
    curves["regions_insertion_cam"] = Curve(up, (0.2, 0.97, 0.6))
    cf = {"original": {"top1": "Dropping [something]", "top1_prob": 0.9, "target_prob": 0.9, "flipped": False},
          "reversed": {"top1": "Moving [something] up", "top1_prob": 0.7, "target_prob": 0.1, "flipped": True}}
    frames_first = torch.zeros(4, 7, 7)
    frames_first[2, 3, 3] = 1.0  # one frame holds the map: the mean over time still shows it
    return TrustReport("Dropping [something]", 3, curves, cf, [{"randomized": ["layer4"], "spearman": 0.12}],
                       {"trained": frames_first, "layer4": torch.rand(4, 7, 7)})


def test_a_trust_report_shows_its_verdicts_curves_and_sanity_maps():
    report = _report()
    page = _Page(report._repr_html_())
    v = report.verdicts
    assert f"Faithfulness: {v.faithfulness}" in page.words and f"in {v.passed} of 4 tests" in page.words
    assert "change the top-1: reversed" in page.words and "Moving [something] up" in page.words
    assert "depends on the weights" in page.words and "rank corr. 0.12" in page.words
    assert page.images["deletion and insertion curves"].format == "PNG"
    trained = np.asarray(page.images["trained"].convert("RGB")).astype(int)
    assert trained[3, 3, 0] > 100 and trained[3, 3, 2] < 50  # (dark) red where the one frame's evidence is
    assert trained[0, 0, 2] > 100 and trained[0, 0, 0] < 50  # blue elsewhere
    assert "layer4" in page.images


def test_the_curves_stay_inside_their_axes():
    fig = core.notebook.curves_figure(_report())
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        for line in ax.get_lines():
            y = line.get_ydata()
            assert lo <= min(y) and max(y) < hi  # markers included: none sits on or past the top edge
