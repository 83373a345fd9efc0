"""The benchmark runs end to end on tiny settings and writes its report (it times nothing here)."""

from __future__ import annotations

import re

import pytest

import core

pytest.importorskip("pytorch_grad_cam")


@pytest.mark.slow
def test_quick_benchmark_writes_the_report(tmp_path, capsys):
    from benchmarks.explain import OPS
    from benchmarks.run import COMMAND, main

    out = tmp_path / "benchmarks.md"
    main(["--quick", "--out", str(out)])
    text = out.read_text()
    assert capsys.readouterr().out == text + "\n"  # the report is also printed
    assert "Provisional" in text and COMMAND in text
    assert "No GPU was lent" in text or "CUDA GPU was visible" in text

    targets = text.split("## Targets")[1].split("\n## ")[0]
    rows = [r for r in targets.splitlines() if r.startswith("| ") and "---" not in r][1:]
    verdicts = [r.rstrip(" |").rsplit("| ", 1)[1] for r in rows]
    assert len(rows) >= 10 and set(verdicts) <= {"PASS", "**MISS**", "–"}
    # every target the quick run measures gets a verdict; the app and the GPU are not run
    measured = dict(zip([r.split(" | ")[0].lstrip("| ") for r in rows], verdicts, strict=True))
    assert measured["i3d_tiny: explain 1 class / forward"] in {"PASS", "**MISS**"}
    assert measured["app RSS after a few requests (default model)"] == "–"

    timing = text.split("## Explanation time")[1].split("\n## ")[0]
    tiny = next(r for r in timing.splitlines() if r.startswith("| i3d_tiny"))
    cells = [c.strip() for c in tiny.strip("|").split("|")]
    # timed at the model's default layer, the measured one (core/models/measured.json)
    assert cells[2] == "1x3x8x32x32" and cells[3] == core.get_spec("i3d_tiny").default_layer
    assert all(re.fullmatch(r"[\d.]+ (ms|s)", c) for c in cells[4:4 + len(OPS)]), cells
    assert re.search(r"\| i3d_tiny \| \d+ MB \| \d+ MB \| [\d.]+x \|", text)  # peak memory
    assert re.search(r"`read_clip` \(1 s 320x180", text)


@pytest.mark.slow
def test_the_audit_benchmark_writes_its_section(tmp_path, monkeypatch, capsys):
    from benchmarks import audit as bench

    monkeypatch.setattr(bench.tempfile, "gettempdir", lambda: str(tmp_path))  # its rendered videos
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\nbefore\n")
    assert bench.main(["--model", core.DEFAULT_MODEL, "--per-class-videos", "1", "--rounds", "1",
                       "--per-class", "1", "--update", str(report)]) == 0
    text = report.read_text()
    assert text.startswith("# Benchmarks\n\nbefore\n") and text.count("<!-- audit:begin -->") == 1
    row = next(r for r in text.splitlines() if r.startswith(f"| {core.DEFAULT_MODEL} | 13 |"))
    assert re.search(r"\| [\d.]+x \| >= 0.8x \| (PASS|MISS) \| [\d.]+ s \| [\d.]+x \| \d+ \| none \|$", row), row
    bench.update(report, bench.markdown([], "again"))  # a second run replaces the section
    assert report.read_text().count("<!-- audit:begin -->") == 1 and "`again`" in report.read_text()


@pytest.mark.slow
def test_the_live_benchmark_writes_its_section(tmp_path):
    from benchmarks import live as bench

    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n\nbefore\n")
    bench.main(["--minutes", "0.1", "--default-seconds", "5", "--base-seconds", "0", "--update", str(report)])
    text = report.read_text()
    assert text.startswith("# Benchmarks\n\nbefore\n") and text.count("<!-- live:begin -->") == 1
    row = next(r for r in text.splitlines() if r.startswith(f"| {core.DEFAULT_MODEL}, smallest stride: 1 frame"))
    assert re.search(r"\| [\d.]+ \| >= 4 \| (PASS|\*\*MISS\*\*) \| \d+ ms \| <= 300 \|", row), row
    assert f"{core.DEFAULT_MODEL} explains a clip in" in text
