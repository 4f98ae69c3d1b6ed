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
    assert any(c.startswith(f"{metrics['test']['accuracy']:.2%} [") for c in row1) and "test" in row1
    bench = json.loads((workdir / "runs/tiny/1/bench.json").read_text())
    torch_ms = next(r["latency_ms"] for r in bench["rows"] if r["format"] == "pytorch" and r["device"] == "cpu")
    assert f"{torch_ms:.2f}" in row1
    assert "min" in md[2]  # training time from history.jsonl
    png = (workdir / "c.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_compare_needs_runs(in_shared, tmp_path):
    result = run_cli("compare", tmp_path)
    assert result.exit_code == 1 and "not a run folder" in result.output


def test_compare_says_whether_a_difference_is_significant(workdir):
    """Two runs scored on the same images get McNemar's test; the counts are those of their predictions.csv."""
    import csv

    trained = run_cli("run", "tiny.toml", "--quiet", "--set", "train.epochs=1", "--set", "optim.lr=0.001")
    assert trained.exit_code == 0, trained.output
    result = run_cli("compare", "runs/tiny/1", "runs/tiny/2", "--md", "c.md", "--png", "c.png")
    assert result.exit_code == 0, result.output

    def correct(run):
        with open(workdir / run / "predictions.csv", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
        return [r["label"] == r["predicted"] for r in rows]

    a, b = correct("runs/tiny/1"), correct("runs/tiny/2")
    only_a = sum(x and not y for x, y in zip(a, b))
    only_b = sum(y and not x for x, y in zip(a, b))
    # neither run was benched: no empty latency columns in the terminal's table, the note says why
    assert "ONNX CPU ms" not in result.output and "not benched" not in result.output
    assert "Latency is shown for benched runs only" in result.output and "ONNX CPU ms" in (workdir / "c.md").read_text()
    line = next(line for line in result.output.splitlines() if line.startswith("tiny-2 vs tiny-1: "))
    assert f"on the same {len(a)} images; McNemar p = " in line
    assert f"({only_a} images only tiny-1 gets right, {only_b} only tiny-2)" in line
    assert ("a significant difference" in line) != ("not significant" in line)
    assert line in (workdir / "c.md").read_text()
    # the accuracy cell carries its 95% interval
    metrics = json.loads((workdir / "runs/tiny/1/metrics.json").read_text())
    lo, hi = metrics["test"]["accuracy_ci"]
    assert f"{metrics['test']['accuracy']:.2%} [{lo:.1%}–{hi:.1%}]" in (workdir / "c.md").read_text()


def test_identical_runs_are_not_significantly_different(workdir):
    shutil.copytree(workdir / "runs/tiny/1", workdir / "runs/tiny/2")
    result = run_cli("compare", "runs/tiny/1", "runs/tiny/2", "--png", "c.png")
    assert "tiny-2 vs tiny-1: accuracy +0.00 points" in result.output
    assert "McNemar p = 1 (0 images only tiny-1 gets right, 0 only tiny-2): not significant" in result.output


def test_the_chart_shows_intervals_and_says_when_runs_are_not_comparable(workdir, monkeypatch):
    """#30: compare.png carries each run's 95% interval, and says so on the picture when the runs
    were scored on different images (no paired test is possible)."""
    import matplotlib.figure

    drawn = []
    real = matplotlib.figure.Figure.savefig

    def keep(fig, *args, **kwargs):
        drawn.append(fig)
        return real(fig, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    shutil.copytree(workdir / "runs/tiny/1", workdir / "runs/tiny/3")
    assert run_cli("compare", "runs/tiny/1", "runs/tiny/3", "--png", "same.png").exit_code == 0
    same = drawn[-1]
    assert same._suptitle is None  # the same images: a fair comparison, nothing to warn about
    bars = [c for c in same.axes[0].containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(bars) == 2  # one 95% interval per run

    predictions = workdir / "runs/tiny/3/predictions.csv"
    lines = predictions.read_text().splitlines()
    lines[1:] = [line.replace(".png", "-elsewhere.png", 1) for line in lines[1:]]  # images the other never scored
    predictions.write_text("\n".join(lines) + "\n")
    result = run_cli("compare", "runs/tiny/1", "runs/tiny/3", "--png", "apart.png")
    assert result.exit_code == 0, result.output
    title = drawn[-1]._suptitle.get_text()
    assert title.startswith("Not comparable:") and "different images" in title
