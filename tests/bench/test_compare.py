"""`tk compare`: runs side by side, with latency from bench.json, as a table, Markdown and one PNG."""

from __future__ import annotations

import json
import shutil

from toolkit.testing import run_cli


def test_compare_two_runs(workdir):
    shutil.copytree(workdir / "runs/tiny/1", workdir / "runs/tiny/2")
    assert run_cli("bench", "runs/tiny/1", "--runtime", "pytorch", "--runtime", "onnx").exit_code == 0
    result = run_cli("compare", "runs/tiny/1", "runs/tiny/2", "--md", "c.md", "--png", "c.png")
    assert result.exit_code == 0, result.output
    for text in ("tiny-1", "tiny-2", "test_efficientnet", "macro-F1", "F1 circle", "PyTorch CPU ms", "not benched"):
        assert text in result.output
    assert "Latency is shown for benched runs only" in result.output
    md = (workdir / "c.md").read_text().splitlines()
    assert md[0].startswith("| run | backbone | px | params (M) | size MB | train time | split | accuracy | macro-F1 |")
    row1 = md[2].split(" | ")
    metrics = json.loads((workdir / "runs/tiny/1/metrics.json").read_text())
    assert f"{metrics['test']['accuracy']:.2%}" in row1 and "test" in row1
    bench = json.loads((workdir / "runs/tiny/1/bench.json").read_text())
    torch_ms = next(r["latency_ms"] for r in bench["rows"] if r["format"] == "pytorch" and r["device"] == "cpu")
    assert f"{torch_ms:.2f}" in row1
    assert "min" in md[2]  # training time from history.jsonl
    png = (workdir / "c.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_compare_needs_runs(in_shared, tmp_path):
    result = run_cli("compare", tmp_path)
    assert result.exit_code == 1 and "not a run folder" in result.output
