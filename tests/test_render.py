"""core.render: colours, blending, layout and the files a user downloads."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from core import cli, render
from core.errors import RenderInputError, RenderInputTypeError, UserError
from core.render import (
    OUTPUT_KINDS,
    colorize,
    combined_frames,
    overlay,
    render_explanation,
    save_gif,
    save_mp4,
    save_npy,
    temporal_plot,
)


def _clip(t: int = 5, h: int = 12, w: int = 16) -> np.ndarray:
    """Flat-coloured frames, all different, so GIF frames are never merged."""
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, size=(t, 1, 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.broadcast_to(colours, (t, h, w, 3)))


def _ramp(t: int = 5, h: int = 12, w: int = 16) -> np.ndarray:
    """Maps that go 0 -> 1 left to right."""
    return np.broadcast_to(np.linspace(0, 1, w, dtype=np.float32), (t, h, w)).copy()


def test_colormap_ends_blue_low_red_high_green_middle():
    rgb = colorize(np.array([[[0.0, 0.5, 1.0]]]))[0, 0].astype(int)
    low, mid, high = rgb
    assert low[2] > 100 and low[2] > low[0] + 80 and low[2] > low[1] + 80
    assert high[0] > 100 and high[0] > high[1] + 80 and high[0] > high[2] + 80
    assert mid[1] > mid[0] and mid[1] > mid[2]
    assert colorize(np.zeros((2, 3, 4))).dtype == np.uint8


def test_colorize_accepts_torch_and_numpy_alike():
    m = _ramp()
    np.testing.assert_array_equal(colorize(torch.from_numpy(m)), colorize(m))
    assert colorize(m).shape == (5, 12, 16, 3)


def test_overlay_alpha_ends_give_frames_and_heatmap():
    frames, maps = _clip(), _ramp()
    np.testing.assert_array_equal(overlay(frames, maps, alpha=0.0), frames)
    np.testing.assert_array_equal(overlay(frames, maps, alpha=1.0), colorize(maps))
    half = overlay(torch.from_numpy(frames), torch.from_numpy(maps), alpha=0.5)
    assert half.dtype == np.uint8
    half = half.astype(int)
    expect = (frames.astype(int) + colorize(maps).astype(int)) / 2
    assert np.abs(half - expect).max() <= 1


def test_overlay_upsamples_small_maps_to_frame_size():
    frames = _clip(t=3, h=8, w=8)
    maps = np.zeros((3, 2, 2), np.float32)
    maps[:, :, 1] = 1.0  # right half hot
    out = overlay(frames, maps, alpha=1.0)
    assert out.shape == (3, 8, 8, 3) and out.dtype == np.uint8
    left, right = out[:, :, 0].astype(int), out[:, :, -1].astype(int)
    assert (left[..., 2] > left[..., 0]).all() and (right[..., 0] > right[..., 2]).all()
    flat = overlay(frames, np.full((3, 2, 2), 0.3, np.float32), alpha=1.0)
    np.testing.assert_array_equal(flat, colorize(np.full((3, 8, 8), 0.3, np.float32)))


def test_combined_frames_layout_and_labels():
    frames, heat = _clip(), overlay(_clip(), _ramp())
    out = combined_frames(frames, heat, gap=4)
    assert out.shape == (5, 12, 2 * 16 + 4, 3)
    np.testing.assert_array_equal(out[:, :, :16], frames)
    np.testing.assert_array_equal(out[:, :, 20:], heat)
    assert (out[:, :, 16:20] == 255).all()

    labelled = combined_frames(frames, heat, labels=[f"frame {i}" for i in range(5)])
    bar = labelled.shape[1] - 12
    assert bar >= 10 and labelled.shape[2] == 36
    np.testing.assert_array_equal(labelled[:, bar:], combined_frames(frames, heat))
    assert (labelled[:, :bar] < 128).any(axis=(1, 2, 3)).all()  # text drawn on every bar
    assert not np.array_equal(labelled[0, :bar], labelled[1, :bar])  # and it differs
    same = combined_frames(frames, heat, labels="dog")
    np.testing.assert_array_equal(same[0, : same.shape[1] - 12], same[4, : same.shape[1] - 12])


@pytest.mark.parametrize("size", [10, 16, 24])
def test_label_bars_are_the_pixels_pillow_draws(size):
    """Label bars come from cached words (a long video has thousands of labels): every pixel
    must be what ImageDraw.text draws for the whole line, including clipping at the edge."""
    from PIL import ImageDraw

    font = render.label_font(size)
    texts = ["  12.19s  Spinning [something]  p=0.47", "Pushing something from left to right", "x", "",
             "a" * 200, "p=0.00  (tie)  Dropping, Ä/ü"]
    bars = render._label_bars(texts, 300, round(size / 0.07))
    for text, bar in zip(texts, bars, strict=True):
        im = Image.new("RGB", (300, bar.shape[0]), (255, 255, 255))
        ImageDraw.Draw(im).text((4, 3), text, fill=(0, 0, 0), font=font)
        np.testing.assert_array_equal(bar, np.asarray(im), err_msg=text)
    # a caption of two lines (the sanity check's panels): each line where Pillow draws it, a
    # line's height apart, and one bar as tall as the longest caption needs
    two = ["+ layer4 random\nrank corr. 0.12", "one line"]
    bars = render._label_bars(two, 200, 0, px=size)
    line_h = font.getbbox("Ag")[3] + 3
    assert bars.shape[1] == font.getbbox("Ag")[3] + 6 + line_h
    for text, bar in zip(two, bars, strict=True):
        im = Image.new("RGB", (200, bar.shape[0]), (255, 255, 255))
        for i, line in enumerate(text.split("\n")):
            ImageDraw.Draw(im).text((4, 3 + i * line_h), line, fill=(0, 0, 0), font=font)
        np.testing.assert_array_equal(bar, np.asarray(im), err_msg=text)
    frames = np.zeros((2, 20, 200, 3), np.uint8)
    np.testing.assert_array_equal(render.titled(frames, two[0], px=size), np.concatenate([bars[:1].repeat(2, 0), frames], 1))
    np.testing.assert_array_equal(render.titled(frames, two[0].replace("\n", "\r\n"), px=size)[0], _bar_on(bars[0], frames[0]))


def _bar_on(bar, frame):
    return np.concatenate([bar, frame], 0)


@pytest.mark.parametrize(("title", "px", "error", "names"), [
    (("a", "b"), 13, RenderInputTypeError, "title must be a str"),
    (None, 13, RenderInputTypeError, "title must be a str"),
    ("a", 0, RenderInputError, "px must be an int >= 1"),
    ("a", True, RenderInputTypeError, "px must be an int >= 1"),
    ("a", 13.5, RenderInputTypeError, "px must be an int >= 1"),
])
def test_a_caption_says_which_argument_is_wrong(title, px, error, names):
    with pytest.raises(error, match=names):
        render.titled(np.zeros((1, 8, 8, 3), np.uint8), title, px=px)


def test_overlay_is_the_rounded_float_blend_for_any_opacity():
    frames, maps = _clip(), _ramp()
    heat = colorize(maps)
    for alpha in (0.0, 0.25, 0.5, 0.77, 1.0):
        want = np.clip(np.rint(np.float32(1 - alpha) * frames + np.float32(alpha) * heat), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(overlay(frames, maps, alpha=alpha), want)


def test_combined_frames_max_side_shrinks_panels():
    frames = _clip(t=2, h=32, w=64)
    out = combined_frames(frames, frames, gap=2, max_side=16)
    assert out.shape == (2, 8, 2 * 16 + 2, 3)


def test_gif_round_trip(tmp_path):
    frames = overlay(_clip(t=6, h=20, w=30), _ramp(t=6, h=20, w=30))
    path = save_gif(frames, tmp_path / "a.gif", fps=4.0)
    assert path == tmp_path / "a.gif"
    with Image.open(path) as im:
        assert im.n_frames == 6 and im.size == (30, 20)
        assert im.info["loop"] == 0 and im.info["duration"] == 250
        im.seek(3)
        back = np.asarray(im.convert("RGB")).astype(int)
    assert np.abs(back - frames[3]).mean() < 6  # 255-colour palette, no dithering
    with Image.open(save_gif(frames, tmp_path / "once.gif", loop=None)) as im:
        assert "loop" not in im.info


def test_mp4_is_readable_with_all_frames(tmp_path):
    frames = _clip(t=7, h=16, w=24)
    path = save_mp4(frames, tmp_path / "a.mp4", fps=4.0)
    with av.open(str(path)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        assert c.streams.video[0].codec_context.name in {"h264", "mpeg4"}
    assert len(decoded) == 7 and decoded[0].shape == (16, 24, 3)
    assert np.abs(decoded[3].astype(int) - frames[3]).mean() < 12


def test_mp4_falls_back_to_mpeg4(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "_mp4_codec", lambda: "mpeg4")
    with av.open(str(save_mp4(_clip(t=4), tmp_path / "b.mp4", fps=2.5))) as c:
        assert c.streams.video[0].codec_context.name == "mpeg4"
        assert sum(1 for _ in c.decode(video=0)) == 4


def test_odd_frame_sizes(tmp_path):
    frames, maps = _clip(t=4, h=17, w=9), np.random.default_rng(1).random((4, 3, 2))
    heat = overlay(frames, maps.astype(np.float32))
    both = combined_frames(frames, heat, labels="x")
    assert heat.shape == (4, 17, 9, 3) and both.shape[2] == 2 * 9 + 4
    with Image.open(save_gif(both, tmp_path / "o.gif")) as im:
        assert im.size == (both.shape[2], both.shape[1]) and im.n_frames == 4
    with av.open(str(save_mp4(heat, tmp_path / "o.mp4"))) as c:
        sizes = {(f.height, f.width) for f in c.decode(video=0)}
    assert sizes == {(18, 10)}  # padded by one pixel to even size


def test_save_npy_writes_float32_at_exact_path(tmp_path):
    maps = torch.rand(3, 4, 5, dtype=torch.float64)
    path = save_npy(maps, tmp_path / "maps.bin")
    assert path == tmp_path / "maps.bin" and path.exists()
    back = np.load(path)
    assert back.dtype == np.float32 and back.shape == (3, 4, 5)
    np.testing.assert_allclose(back, maps.numpy(), rtol=1e-6)


def test_temporal_plot(tmp_path):
    fig = temporal_plot(np.random.rand(2, 6), timestamps=np.arange(6) / 4,
                        labels=["dog", "cat"], path=tmp_path / "t.png")
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 2
    assert fig.axes[0].get_xlabel() == "time (s)"
    with Image.open(tmp_path / "t.png") as im:
        assert im.format == "PNG"
    fig2 = Figure()
    ax = fig2.add_subplot()
    assert temporal_plot({"a": torch.rand(5)}, ax=ax) is fig2
    assert ax.get_legend().get_texts()[0].get_text() == "a" and ax.get_xlabel() == "frame"


def test_render_explanation_writes_everything(tmp_path):
    frames, maps = _clip(t=4, h=40, w=60), np.random.default_rng(2).random((4, 5, 5))
    out = render_explanation(frames, maps.astype(np.float32), tmp_path / "new", files=OUTPUT_KINDS,
                             max_side=30, labels="dog")
    assert set(out) == set(OUTPUT_KINDS)
    assert all(p.exists() and p.parent == tmp_path / "new" and p.name == k for k, p in out.items())
    with Image.open(out["heatmap.gif"]) as h, Image.open(out["combined.gif"]) as c:
        assert h.size == (60, 40)  # heatmap and original keep the frames' size
        assert c.size[0] == 2 * 30 + 4 and c.n_frames == 4  # combined panels shrink to max_side
    named = render_explanation(frames, maps.astype(np.float32), tmp_path, files={"combined.gif": "a.gif"})
    assert list(named) == ["combined.gif"] and named["combined.gif"] == tmp_path / "a.gif"
    with pytest.raises(ValueError, match="unknown output kinds"):
        render_explanation(frames, maps.astype(np.float32), tmp_path, files=("combined.webm",))


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda f, m: overlay(f.astype(np.float32), m), TypeError, "uint8"),
        (lambda f, m: overlay(f.transpose(0, 3, 1, 2), m), ValueError, "permute"),
        (lambda f, m: overlay(f[0], m), ValueError, "x[None]"),
        (lambda f, m: overlay(f.tolist(), m), TypeError, "numpy array or torch tensor"),
        (lambda f, m: overlay(f, m, alpha=1.5), ValueError, "alpha"),
        (lambda f, m: overlay(f, m, alpha="0.5"), TypeError, "alpha"),
        (lambda f, m: overlay(f, m[:2]), ValueError, "upsample the CAM in time"),
        (lambda f, m: overlay(f, m * 3), ValueError, "normalise"),
        (lambda f, m: overlay(f, m * np.nan), ValueError, "NaN"),
        (lambda f, m: overlay(f, (m * 255).astype(np.uint8)), TypeError, "divide by 255"),
        (lambda f, m: overlay(f, m[None]), ValueError, "(T, h, w)"),
        (lambda f, m: colorize(m, cmap="nope"), ValueError, "cmap"),
        (lambda f, m: combined_frames(f, f[:, :5]), ValueError, "same shape"),
        (lambda f, m: combined_frames(f, f, labels=["a"]), ValueError, "one string per frame"),
        (lambda f, m: combined_frames(f, f, gap=-1), ValueError, "gap"),
        (lambda f, m: combined_frames(f, f, max_side=0), ValueError, "max_side"),
        (lambda f, m: save_gif(f, "unused.gif", fps=0), ValueError, "fps"),
        (lambda f, m: save_gif(f, "unused.gif", loop=-1), ValueError, "loop"),
        (lambda f, m: save_mp4(f, "unused.mp4", fps=float("inf")), ValueError, "fps"),
        (lambda f, m: temporal_plot(m[0, 0], labels=["a", "b"]), ValueError, "labels"),
        (lambda f, m: temporal_plot(m[0, 0], timestamps=[0.0]), ValueError, "timestamps"),
    ],
)
def test_bad_arguments_say_what_to_fix(call, error, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written, but never into the repo
    with pytest.raises(error) as info:
        call(_clip(), _ramp())
    assert words in str(info.value)
    assert isinstance(info.value, RenderInputError), "what the user can fix is a UserError (the CLI's exit 2)"
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("call", "words"), [
    (lambda: overlay(_clip().astype(np.float32), _ramp()), "frames must be uint8"),
    (lambda: render.write_mp4(iter([]), "unused.mp4"), "frames is empty"),
    (lambda: save_npy(np.array(["a"]), "unused.npy"), "maps must be numeric"),
    (lambda: render_explanation(_clip(), _ramp(), ".", files=("combined.webm",)), "files: unknown output kinds"),
])
def test_bad_input_to_a_drawing_function_is_a_message_and_exit_2_not_an_internal_error(
        call, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "_command", lambda args: call())  # a command whose drawing gets bad input
    assert cli.main(["models"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and words in err and "internal error" not in err
    assert issubclass(RenderInputError, UserError) and not list(tmp_path.iterdir())


def test_the_jet_table_without_matplotlib_equals_matplotlibs():
    from matplotlib import colormaps

    from core.render import _lut

    want = np.rint(colormaps["jet"](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)
    np.testing.assert_array_equal(_lut("jet"), want)
    np.testing.assert_array_equal(_lut("turbo")[[0, -1]],
                                  np.rint(colormaps["turbo"]([0.0, 1.0])[:, :3] * 255).astype(np.uint8))
