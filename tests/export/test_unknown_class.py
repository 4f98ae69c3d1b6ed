"""#14's acceptance figure: images of a class left out of training come out ``unknown`` far
more often than new images of the classes the model knows, from best.pt and from the ONNX model.

A real training run (generated 16:9 screens, resnet10t from scratch at 64×112, 12 epochs, one
thread: bit-for-bit the same run every time on a machine), so it is marked slow: 5–8 minutes.
`make test-acceptance` runs it, and `.ci/run` calls that after the README's test command.
benchmarks/unknown_class.py measures every class left out in turn (the README's table); this
is its row for PowerPoint's editor — "a new app", the issue's own example of what a model has
never seen — with the benchmark's recipe, at one thread.
"""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from toolkit.testing import run_cli

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "unknown_class.py"
LEFT_OUT = "may_be_slide_powerpoint_edit_mode"


def benchmark():
    """benchmarks/unknown_class.py as a module: its recipe is the one this test trains."""
    spec = importlib.util.spec_from_file_location("unknown_class_bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def answers(model: Path, images: Path, out: Path) -> list[tuple[str, float]]:
    """(class, calibrated maximum probability) per image, from `tk predict`."""
    result = run_cli("predict", model, images, "--out", out)
    assert result.exit_code == 0, result.output
    with out.open(newline="") as f:
        return [(row["class"], float(row["probability"])) for row in csv.DictReader(f)]


def same_answers(a: list, b: list, threshold: float) -> bool:
    """Equal classes, except where a probability sits within float error of the threshold."""
    return len(a) == len(b) and all(x[0] == y[0] or abs(x[1] - threshold) < 1e-4 for x, y in zip(a, b))


@pytest.mark.slow
def test_a_class_left_out_of_training_comes_out_unknown(tmp_path, monkeypatch):
    from tk_screens import CLASSES, generate_dataset

    bench = benchmark()
    known = [c for c in CLASSES if c not in (LEFT_OUT, bench.CATCH_ALL)]
    monkeypatch.chdir(tmp_path)
    scored = generate_dataset("unknown_root", counts={LEFT_OUT: 100}, size=(448, 256), seed=2)
    Path("recipe.toml").write_text(bench.RECIPE.format(
        counts="{ " + ", ".join(f"{c} = 375" for c in known) + " }", unknown_root=scored, backbone="resnet10t",
        epochs=12, threads=1, coverage=0.9))
    result = run_cli("run", "recipe.toml", "--out", "run", "--quiet")
    assert result.exit_code == 0, result.output
    exported = run_cli("export", "run", "--onnx", "--out", "exports")
    assert exported.exit_code == 0, exported.output
    onnx = next(Path("exports").rglob("*.onnx"))

    left_out = generate_dataset("left_out", counts={LEFT_OUT: 200}, size=(448, 256), seed=1)
    new = generate_dataset("known", counts={c: 40 for c in known}, size=(448, 256), seed=1)
    a = answers(Path("run"), left_out, tmp_path / "left_out.csv")
    b = answers(Path("run"), new, tmp_path / "known.csv")
    left_out_unknown = sum(c == "unknown" for c, _ in a) / len(a)
    known_unknown = sum(c == "unknown" for c, _ in b) / len(b)
    cal = json.loads(Path("run/metrics.json").read_text())["calibration"]["unknown"]
    report = (f"left-out {left_out_unknown:.0%} unknown, known {known_unknown:.0%} unknown "
              f"(threshold {cal['threshold']:.4f}, validation coverage {cal['coverage']:.1%})")
    print(report)
    # Measured on the 2-core development VM: see the README. Which images the split puts in
    # validation moves this figure: 88% and 84% with earlier near-duplicate detectors' splits,
    # 72% and 68% with the same-frame detector's (2026-12-07), against 8-10% of known images.
    # The margins allow for that and for a machine whose floating point differs in the last
    # bits; the ratio is the property: a new kind of screen is refused far more often.
    assert left_out_unknown >= 0.60, report
    assert known_unknown <= 0.15, report
    assert left_out_unknown >= 5 * known_unknown, report
    # The exported model says the same: the threshold travels inside it.
    assert same_answers(answers(onnx, left_out, tmp_path / "left_out_onnx.csv"), a, cal["threshold"])
    assert same_answers(answers(onnx, new, tmp_path / "known_onnx.csv"), b, cal["threshold"])
