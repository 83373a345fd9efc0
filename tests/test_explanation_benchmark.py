"""python -m lab.benchmark end to end, in seconds: a tiny random Hugging Face VideoMAE (saved with
``save_pretrained`` into tmp_path, loaded offline) on a tiny rendered split: the leaderboard
has every kind of evidence with intervals, a killed run resumes without redoing a clip, and a
folder of another run is refused."""

from __future__ import annotations

import json

import pytest

from lab.data import CLASSES, write_dataset


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_dataset(root, n_train=0, n_val=0, n_test=3, seed=3,
                  render_options={"size": (48, 64), "fps": 12, "duration": 1.0})
    return root


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


def test_the_benchmark_runs_on_tokens_and_resumes(split, tiny_mae, tmp_path, one_thread):
    from core.errors import SettingsError
    from lab.benchmark.__main__ import main
    from lab.benchmark.board import FIGURES, KINDS

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
    text = out.with_suffix(".md").read_text()
    assert all(f"### {k.capitalize()}" in text for k in KINDS) and "Regenerate: `python -m lab.benchmark" in text

    # killed after two clips: the third is redone, the others read back, the board is the same
    folder = next(p for p in records.iterdir() if p.is_dir())
    done = sorted(folder.glob("0*.json"))
    kept = {p.name: p.read_text() for p in done[:2]}
    done[2].unlink()
    with pytest.raises(SettingsError, match="--resume"):
        main(argv)
    assert main([*argv, "--resume"]) == 0
    assert {p.name: p.read_text() for p in sorted(folder.glob("0*.json"))[:2]} == kept
    (again,) = json.loads(out.read_text())
    assert again["rows"][0]["figures"]["pointing"] == board["rows"][0]["figures"]["pointing"]
    with pytest.raises(SettingsError, match="another benchmark run"):
        main([*argv[:-2], "--records", str(records), "--noise-samples", "2", "--resume"])
