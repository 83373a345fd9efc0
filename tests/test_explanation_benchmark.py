"""python -m lab.benchmark end to end, in seconds: a tiny random Hugging Face VideoMAE (saved with
``save_pretrained`` into tmp_path, loaded offline) on a tiny rendered split: the leaderboard
has every kind of evidence with intervals, a killed run resumes without redoing a clip, and a
folder of another run is refused. The motion column is checked on two toy models whose answer
is known (one reads only frame differences, one only the middle frame's contrast), on records
made before the column existed, and (slow) two shards run as two processes give the board one
process gives."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.models.spec import ModelSpec
from lab.data import CLASSES, write_dataset
from lab.data.classes import HOLDING, MOVING_LEFT_TO_RIGHT, MOVING_RIGHT_TO_LEFT, MOVING_UP


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_dataset(root, n_train=0, n_val=0, n_test=3, seed=3,
                  render_options={"size": (48, 64), "fps": 12, "duration": 1.0})
    return root


@pytest.fixture(scope="module")
def dots(tmp_path_factory):
    """The same three clips in lab.data's appearance-free style: every frame is black and white
    dots, so a frame's contrast is all appearance, and a clip's high-pass keeps only what moves."""
    root = tmp_path_factory.mktemp("dots")
    write_dataset(root, n_train=0, n_val=0, n_test=3, seed=3,
                  render_options={"size": (48, 64), "fps": 12, "duration": 1.0, "style": "appearance_free"})
    return root


class _FrameDifference(nn.Module):
    """(N, 1, T, H, W): each voxel's absolute difference to its neighbouring frames (the larger),
    mean over the colours; a gain to learn (so the cascade has something to randomise)."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))

    def forward(self, x):
        d = (x[:, :, 1:] - x[:, :, :-1]).abs().mean(1, keepdim=True)
        return self.gain * torch.maximum(F.pad(d, (0, 0, 0, 0, 1, 0)), F.pad(d, (0, 0, 0, 0, 0, 1)))


class _MiddleFrame(nn.Module):
    """(N, 1, T, H, W): the middle frame's contrast (each pixel's distance from the frame's mean
    colour) in the middle frame, 0 in every other one: what one frame looks like, and nothing else."""

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(1))

    def forward(self, x):
        mid = x.shape[2] // 2
        frame = x[:, :, mid]
        out = torch.zeros_like(x[:, :1])
        out[:, 0, mid] = (frame - frame.mean((2, 3), keepdim=True)).abs().mean(1)
        return self.gain * out


class _Toy(nn.Module):
    """The three moving classes against Holding, on the mean of ``features`` (Grad-CAM's layer):
    ``"motion"`` reads only frame differences (frozen, it sees nothing; high-passed, the same
    clip), ``"appearance"`` only one frame's contrast (frozen, the same frame; high-passed, a flat
    one). The mean is about 0.04-0.11 (motion) and 0.06-0.07 (appearance) on the dots clips,
    0 frozen (motion) and under 0.01 high-passed (appearance), so ``level`` splits them."""

    def __init__(self, reads: str):
        super().__init__()
        self.features = _FrameDifference() if reads == "motion" else _MiddleFrame()
        self.level = 0.01 if reads == "motion" else 0.02
        self.spec = ModelSpec(name=f"toy_{reads}", categories=(MOVING_LEFT_TO_RIGHT, MOVING_RIGHT_TO_LEFT, MOVING_UP,
                                                              HOLDING),
                              num_frames=8, input_size=(24, 32), mean=(0.45,) * 3, std=(0.225,) * 3,
                              layers=("features",), default_layer="features")

    def forward(self, x):
        s = 5 * (self.features(x).flatten(1).mean(1) / self.level - 1)
        return torch.stack([s, s, s, -s], 1)


def _toy_benchmark(reads: str, data, records, methods=("gradcam",), resume=False, rank=None):
    from lab.benchmark import benchmark
    from lab.benchmark.measure import Options

    return benchmark(_Toy(reads), data, records=records, methods=list(methods), layers=["features"],
                     perturbation_per_class=0, options=Options(noise_samples=1, cascade_depth=1), resume=resume,
                     rank=rank, progress=False)


@pytest.fixture
def one_thread():
    """One torch thread: on a machine shared by other jobs, two threads of a model this small wait
    on each other far longer than they compute (8x slower seen on 2 busy cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_mae(tmp_path, hf_offline):
    transformers = pytest.importorskip("transformers")
    config = transformers.VideoMAEConfig(
        image_size=32, patch_size=16, num_frames=4, tubelet_size=2, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=37, num_labels=len(CLASSES),
        id2label=dict(enumerate(CLASSES)), label2id={c: i for i, c in enumerate(CLASSES)})
    folder = tmp_path / "tiny_mae"
    transformers.AutoModelForVideoClassification.from_config(config).save_pretrained(folder)
    return folder


def test_the_benchmark_runs_on_tokens_and_resumes(split, tiny_mae, tmp_path, one_thread, monkeypatch):
    import lab.benchmark.__main__
    import lab.evaluate.methods
    from core.errors import SettingsError
    from lab.benchmark.__main__ import main
    from lab.benchmark.board import FIGURES, KINDS
    from lab.benchmark.report import anchor

    out, records = tmp_path / "bench" / "benchmark.json", tmp_path / "records"
    argv = ["--data", str(split), "--model", str(tiny_mae), "--methods", "gradcam", "attnlrp", "--layers", "layer.1",
            "--clips-per-class", "1", "--perturbation-clips-per-class", "0", "--noise-samples", "1",
            "--out", str(out), "--records", str(records)]
    assert main(argv) == 0
    (board,) = json.loads(out.read_text())
    assert board["clips"] == 3 and board["split"] == "test" and board["command"].startswith("python -m lab.benchmark")
    rows = {r["key"]: r for r in board["rows"]}
    assert set(rows) == {"gradcam@layer.1", "attnlrp"}
    for r in rows.values():
        assert r["clips"] == 3 and r["passes"] >= 1 and set(r["figures"]) == {n for _, n, _ in FIGURES}
        for name in ("srg", "noise", "shift", "reencode", "flicker", "gini_spatial", "entropy_temporal",
                     "sanity_head", "sanity_full", "random_logit", "emprt", "deletion", "time_mass"):
            f = r["figures"][name]  # a random model's AttnLRP map may be all negative, so 0 once scaled
            assert f["n"] == 3 or r["key"] == "attnlrp", (r["key"], name, f)
            assert f["n"] == 0 or f["lo"] <= f["mean"] <= f["hi"], (r["key"], name, f)
        assert set(r["per_class"]) == set(board["classes"])
    # completeness: a number where the method claims it, "does not apply" where it does not
    assert rows["attnlrp"]["figures"]["completeness"]["n"] == 3
    assert rows["gradcam@layer.1"]["figures"]["completeness"]["applies"] is False
    assert len(board["pairs"]["pointing"]) <= 1 and board["default"]["rule"]
    assert board["motion"]["clips"] == 3 and sum(board["motion"]["verdicts"].values()) == 3
    assert board["motion"]["passes"] == 2 and rows["gradcam@layer.1"]["motion"]["clips"] == 3
    text = out.with_suffix(".md").read_text()
    assert all(f"### {k.capitalize()}" in text for k in KINDS) and "Regenerate: `python -m lab.benchmark" in text
    assert board["run"]["timed_clips"] == 3 and board["run"]["threads"] == [1] and "The whole run, every test of every row, on its 3 timed clips:" in text

    # killed after two clips: the third is redone, the others read back, the board is the same
    folder = next(p for p in records.iterdir() if p.is_dir())
    done = sorted(folder.glob("0*.json"))
    kept = {p.name: p.read_text() for p in done[:2]}
    done[2].unlink()
    with pytest.raises(SettingsError, match="--resume"):
        main(argv)
    measured = tmp_path / "measured.json"
    monkeypatch.setattr(lab.evaluate.methods, "MEASURED_FILE", measured)
    # a default must name a table that ships with the code: refused before anything runs
    with pytest.raises(SettingsError, match="ships with the code"):
        main([*argv, "--resume", "--record-default"])
    assert not measured.exists()
    monkeypatch.setattr(lab.benchmark.__main__, "REPOSITORY", tmp_path)  # as if tmp_path were the repository
    assert main([*argv, "--resume", "--record-default"]) == 0
    assert {p.name: p.read_text() for p in sorted(folder.glob("0*.json"))[:2]} == kept
    (again,) = json.loads(out.read_text())
    # the default it records names the section of the report it was measured in
    rec = json.loads(measured.read_text())["models"][board["model"]]
    heading = f"## `{board['model']}` on `{split.name}`, test split"
    assert heading in text and rec["source"] == f"bench/benchmark.md#{anchor(board)}"
    assert again["rows"][0]["figures"]["pointing"] == board["rows"][0]["figures"]["pointing"]
    with pytest.raises(SettingsError, match="another benchmark run"):
        main([*argv[:-2], "--records", str(records), "--noise-samples", "2", "--resume"])


# -- motion or appearance, per row --------------------------------------------------------------------

def test_the_motion_column_reads_a_frame_difference_model_as_motion_and_a_one_frame_model_as_appearance(
        dots, tmp_path, one_thread, monkeypatch):
    import lab.benchmark.measure as measure
    from core.trust.motion import motion_check
    from lab.benchmark.report import markdown

    checks = []

    def counted(*args, **kwargs):
        checks.append(1)
        return motion_check(*args, **kwargs)

    monkeypatch.setattr(measure, "motion_check", counted)
    motion = _toy_benchmark("motion", dots, tmp_path / "motion", methods=("gradcam", "layercam"))
    assert len(checks) == 3  # once a clip, not once a row: the drops do not depend on the map
    look = _toy_benchmark("appearance", dots, tmp_path / "look")

    m, a = motion["motion"], look["motion"]
    assert m["verdicts"] == {"motion": 3, "appearance": 0, "both": 0, "neither": 0} and m["weak"] == 0
    assert a["verdicts"] == {"motion": 0, "appearance": 3, "both": 0, "neither": 0} and a["weak"] == 0
    assert m["motion_drop"]["mean"] > 0.99 and m["appearance_drop"]["mean"] < 0.01 and m["passes"] == 2
    assert a["appearance_drop"]["mean"] > 0.99 and a["motion_drop"]["mean"] < 0.01
    assert {c["verdict"] for c in m["per_class"].values()} == {"motion"} and len(m["per_class"]) == 3
    assert {c["verdict"] for c in a["per_class"].values()} == {"appearance"}
    # where the map points: the frame-difference model's evidence is on what moves, well above a
    # uniform map's share; the one-frame model's is spread over the whole (dotted) frame
    (row_m, _), (row_a,) = motion["rows"], look["rows"]
    share_m, share_a = row_m["figures"]["motion_share"], row_a["figures"]["motion_share"]
    assert share_m["n"] == share_a["n"] == 3
    assert share_m["mean"] > 0.4 and share_a["mean"] < 0.15, (share_m, share_a)
    lift = row_m["motion"]["share_minus_area"]
    assert lift["real"] and lift["lo"] > 0 and row_m["motion"]["verdicts"]["motion"] == 3
    assert row_a["motion"]["share_minus_area"]["mean"] < lift["lo"]

    # the board's figures are the records' means, clip by clip
    records = [json.loads(p.read_text()) for p in sorted((tmp_path / "motion").glob("0*.json"))]
    shares = [r["rows"][row_m["key"]]["motion_share"] for r in records]
    areas = [r["motion"]["area"] for r in records]
    assert share_m["mean"] == pytest.approx(np.mean(shares)) and share_m["lo"] <= share_m["mean"] <= share_m["hi"]
    assert lift["mean"] == pytest.approx(np.mean(np.subtract(shares, areas)))
    assert m["area"]["mean"] == pytest.approx(np.mean(areas)) and 0 < m["area"]["mean"] < 0.5
    assert Counter(r["motion"]["verdict"] for r in records) == {"motion": 3}
    assert all(r["motion"]["forward_passes"] == 2 and r["motion"]["appearance_removal"] == "high-pass"
               for r in records)

    text = markdown([motion, look], "# header")
    assert text.count("### Motion or appearance?") == 2 and "**3 / 0 / 0 / 0** of 3 clips" in text
    assert "**0 / 3 / 0 / 0** of 3 clips" in text and "| Grad-CAM | features | 0." in text
    assert "### Per class: motion or appearance?" in text


def test_records_and_boards_made_before_the_motion_column_read_not_recorded(dots, tmp_path, one_thread):
    from lab.benchmark.report import markdown

    records = tmp_path / "records"
    _toy_benchmark("motion", dots, records)
    old = sorted(records.glob("0*.json"))[0]  # as a record of the earlier benchmark has it
    rec = json.loads(old.read_text())
    del rec["motion"]
    for figures in rec["rows"].values():
        del figures["motion_share"]
    old.write_text(json.dumps(rec))

    board = _toy_benchmark("motion", dots, records, resume=True)  # reads the three back
    (row,) = board["rows"]
    share = row["figures"]["motion_share"]
    assert share["n"] == 2 and share["unrecorded"] == 1  # left out, not counted as 0
    assert "unrecorded" not in row["figures"]["pointing"]
    assert board["motion"]["clips"] == 2 and board["motion"]["unrecorded"] == 1
    assert sum(board["motion"]["verdicts"].values()) == 2 and row["motion"]["share_minus_area"]["n"] == 2
    text = markdown([board], "# header")
    assert "(1 clip not recorded)" in text and "1 clip not recorded" in text and "of 2 clips" in text

    # a board of the JSON written before the column: no motion anywhere
    board.pop("motion")
    board["pairs"].pop("motion_share")
    for r in board["rows"]:
        r.pop("motion")
        r["figures"].pop("motion_share")
    text = markdown([json.loads(json.dumps(board))], "# header")
    assert "Not recorded: these records were made before the motion column" in text
    assert "| motion_share |" not in text  # no row table of nothing
    assert "- **motion_share**: not recorded" in text


def test_correlations_are_judged_by_their_size_so_clips_of_opposite_sign_do_not_cancel(dots, tmp_path, one_thread):
    """A map that turns over after the head is re-initialised keeps as much of the trained map as
    one that stays: +0.6 on two clips and -0.6 on the third is a sanity correlation of 0.6, which
    fails the default rule's bar of 0.3 (a signed mean, 0.2, passed it)."""
    records = tmp_path / "records"
    _toy_benchmark("motion", dots, records)
    for rec_path, rho in zip(sorted(records.glob("0*.json")), (0.6, -0.6, 0.6), strict=True):
        rec = json.loads(rec_path.read_text())
        rec["rows"]["gradcam@features"].update(sanity_head=rho, sanity_top=rho, sanity_full=rho, random_logit=-rho)
        rec_path.write_text(json.dumps(rec))

    board = _toy_benchmark("motion", dots, records, resume=True)
    (row,) = board["rows"]
    for name in ("sanity_head", "sanity_top", "sanity_full", "random_logit"):
        f = row["figures"][name]
        assert f["n"] == 3 and f["mean"] == pytest.approx(0.6) and f["lo"] == pytest.approx(0.6), name
    assert board["default"]["note"] == "no row passed the sanity bar"
    assert board["magnitude"] == ["sanity_head", "sanity_top", "sanity_full", "random_logit"]
    # a board built before (no "magnitude") says its randomisation figures are signed means
    from lab.benchmark.report import markdown

    assert "signed means" not in markdown([board], "# h")
    del board["magnitude"]
    assert "**Randomisation figures are signed means**" in markdown([board], "# h")


# -- two shards, two processes ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _without_timings(board: dict) -> str:
    from lab.benchmark.__main__ import _finite

    board = json.loads(json.dumps(_finite(board)))  # NaN as null, as the CLI writes it
    board.pop("command", None)  # the CLI's
    board["motion"].pop("seconds")
    board["run"].pop("clip_seconds")
    board["run"].pop("cpu_seconds")
    for r in board["rows"]:
        r.pop("seconds")
    return json.dumps(board, sort_keys=True)


@pytest.mark.slow
def test_two_shards_in_two_processes_give_the_boards_of_one(dots, tmp_path, one_thread):
    """``python -m lab.benchmark --model A B`` with RANK / WORLD_SIZE as torchrun sets them, in two
    plain processes (two toy models of 3 clips; ``load_model`` gives them): each rank measures its
    share of both models into the shared records folders before any gather, the turns going on
    from the first model to the second (3 clips each, not 4 and 2); rank 0 gathers them (gloo)
    and writes both boards, equal to one process's."""
    child = tmp_path / "child.py"
    child.write_text(
        "import json, sys, torch\n"
        f"sys.path[:0] = [{str(Path(__file__).parent)!r}, {str(Path(__file__).parent.parent)!r}]\n"
        "torch.set_num_threads(1)\n"
        "import core.models, lab.benchmark.run as run\n"
        "from lab.benchmark.__main__ import main\n"
        "from test_explanation_benchmark import _Toy\n"
        "core.models.load_model = lambda name, device=None: _Toy(name)\n"
        "done, measure = [], run.measure_clip\n"
        "run.measure_clip = lambda *a: done.append((a[0].spec.name, a[1].index)) or measure(*a)\n"
        f"main(['--data', {str(dots)!r}, '--model', 'motion', 'appearance', '--methods', 'gradcam', "
        "'--layers', 'features', '--perturbation-clips-per-class', '0', '--noise-samples', '1', "
        f"'--cascade-depth', '1', '--out', {str(tmp_path / 'boards.json')!r}, '--records', {str(tmp_path / 'shards')!r}])\n"
        "print(json.dumps(done))\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(_free_port())}
    procs = [subprocess.Popen([sys.executable, str(child)], env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              cwd=Path(__file__).parent.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for r in (0, 1)]
    said = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-2000:]
            said.append(json.loads(out.strip().splitlines()[-1]))
    finally:  # a rank that failed leaves the other waiting in the gather
        for p in procs:
            p.kill()
    # each rank measured its share only, turn by turn across the models
    assert said == [[["toy_motion", 0], ["toy_motion", 2], ["toy_appearance", 1]],
                    [["toy_motion", 1], ["toy_appearance", 0], ["toy_appearance", 2]]]
    sharded = json.loads((tmp_path / "boards.json").read_text())
    assert [b["model"] for b in sharded] == ["toy_motion", "toy_appearance"]
    for board, reads in zip(sharded, ("motion", "appearance"), strict=True):
        assert len(list((tmp_path / "shards" / f"toy_{reads}_test").glob("0*.json"))) == 3 and board["clips"] == 3
        single = _toy_benchmark(reads, dots, tmp_path / f"single_{reads}")
        assert _without_timings(board) == _without_timings(single)


def test_ranks_take_turns_across_lists():
    """Two lists of 13 on two ranks: 13 clips each (a barrier a list would give 14 and 12)."""
    from core.longvideo.shard import Rank

    first, second = list(range(13)), list(range(13, 26))
    shares = [Rank(r, 2).take(first) + Rank(r, 2).take(second, start=13) for r in (0, 1)]
    assert [len(s) for s in shares] == [13, 13] and sorted(shares[0] + shares[1]) == first + second
    assert Rank(2, 3).take(list("abcdefg"), start=4) == ["b", "e"] and Rank(0, 3).take(list("abcdefg"), start=4) == ["c", "f"]


@pytest.mark.slow
def test_records_are_gathered_model_after_model_under_torchrun_whoever_gets_there_first(tmp_path):
    """The benchmark gathers once a model in one torchrun job. Rank 1 reaches the second gather
    while rank 0 still measures: the second gather must wait for it (a process group made again
    read the first one's addresses from torchrun's store: "Connection refused", the run lost)."""
    script = tmp_path / "gather.py"
    script.write_text(
        "import json, sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
        "from core.longvideo.shard import gather_records, this_rank\n"
        "rank, out = this_rank(), []\n"
        "for model in range(2):\n"
        "    if rank.rank == 0 and model == 1:\n"
        "        time.sleep(5)  # still measuring its last clip\n"
        "    gather_records(rank, [{'index': rank.rank, 'model': model}],\n"
        "                   lambda records: out.append([(r['index'], r['model']) for r in records]))\n"
        "print(json.dumps(out))\n")
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script)], capture_output=True, text=True, timeout=240,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    said = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("[")]
    assert sorted(said) == [[], [[[0, 0], [1, 0]], [[0, 1], [1, 1]]]], run.stdout  # rank 0 got both, twice


def test_a_perturbation_rows_random_logit_map_is_the_one_asked_for_alone(dots, one_thread):
    """Occlusion and RISE score every class with the same passes, so the benchmark takes the other
    class's map from the first run: it must be the map a run for that class alone gives."""
    from dataclasses import replace

    from core.attribution import Perturbation
    from core.cam import Explainer
    from core.cam.settings import Method
    from core.video import read_clip
    from lab.benchmark.measure import Options, Row, measure_clip
    from lab.benchmark.metrics import randomisation as ra
    from lab.benchmark.run import samples
    from lab.data.ssv2 import DATASET_LIMITS

    class Halves(_Toy):  # each class reads its own half of the frame: four different maps
        def forward(self, x):
            f = self.features(x)
            h, w = f.shape[-2:]
            halves = (f[..., : w // 2], f[..., w // 2:], f[..., : h // 2, :], f[..., h // 2:, :])
            return 50 * torch.stack([p.flatten(1).mean(1) for p in halves], 1)

    model = Halves("motion")
    model.spec = replace(model.spec, input_size=(56, 56))  # room for the perturbation methods' windows
    ex = Explainer(model, model.spec, cache_size=2)
    s = next(c for c in samples(model.spec, dots, "test", per_class=None, perturbation_per_class=1) if c.perturbation)
    opts = Options(noise_samples=1, cascade_depth=1, masks=24)
    rec = measure_clip(ex, s, [Row(Method.GRADCAM, "features"), Row(Method.OCCLUSION), Row(Method.RISE)], opts)
    clip = read_clip(s.path, model.spec, limits=DATASET_LIMITS)
    rng = np.random.default_rng([opts.seed, s.index])
    ra.other_class(s.target, len(model.spec.categories), rng)  # Grad-CAM's draw, the first row's
    for method in ("occlusion", "rise"):
        other = ra.other_class(s.target, len(model.spec.categories), rng)
        extra = {"perturbation": Perturbation(masks=24, seed=0)} if method == "rise" else {}
        alone = [ex.explain(clip, t, method=method, **extra).raw_maps[0] for t in (s.target, other)]
        rho = ra.spearman(*alone)
        assert rho < 0.9 and rec["rows"][method]["random_logit"] == pytest.approx(rho, abs=1e-12)
        # and its cost is the class's own: the second map took no more passes
        assert rec["cost"][method]["passes"] == ex.forward_passes(clip, ex.settings_for(method=method, **extra)[0])
