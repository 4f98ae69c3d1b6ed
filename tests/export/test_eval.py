"""`tk eval`: classification report and confusion matrix for any format, on the run's split."""

from __future__ import annotations

import json
import re
import sys

import pytest

from toolkit.testing import run_cli


def test_eval_checkpoint_matches_the_runs_metrics(in_shared, tmp_path):
    result = run_cli("eval", "runs/tiny/1", "--split", "val", "--json", tmp_path / "e.json")
    assert result.exit_code == 0, result.output
    out = result.output
    for name in ("circle", "square", "stripes", "macro avg", "weighted avg", "confusion matrix"):
        assert name in out
    metrics = json.loads((in_shared / "runs/tiny/1/metrics.json").read_text())  # the engine's own evaluation
    mine = json.loads((tmp_path / "e.json").read_text())
    assert mine["split"] == "val" and mine["runtime"] == "PyTorch eager"
    assert mine["accuracy"] == pytest.approx(metrics["accuracy"])
    assert mine["confusion_matrix"] == metrics["confusion_matrix"]
    assert re.search(rf"accuracy {mine['accuracy']:.4f} \(\d+/{metrics['num_samples']}\)", out)


def test_eval_defaults_to_the_test_split_and_onnx_agrees(in_shared, tmp_path):
    a = run_cli("eval", "runs/tiny/1", "--json", tmp_path / "a.json")
    b = run_cli("eval", "exports/tiny-1/onnx/tiny.onnx", "--json", tmp_path / "b.json")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    ja, jb = json.loads((tmp_path / "a.json").read_text()), json.loads((tmp_path / "b.json").read_text())
    assert ja["split"] == jb["split"] == "test"  # the run has a test split
    assert jb["runtime"] == "ONNX Runtime" and jb["run"] == ja["run"]
    assert ja["accuracy"] == jb["accuracy"] and ja["confusion_matrix"] == jb["confusion_matrix"]
    metrics = json.loads((in_shared / "runs/tiny/1/metrics.json").read_text())
    assert ja["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert "test images of" in b.output


def test_eval_needs_labelled_images(in_shared, tmp_path):
    lone = tmp_path / "lone.onnx"
    lone.write_bytes((in_shared / "exports/tiny-1/onnx/tiny.onnx").read_bytes())
    result = run_cli("eval", lone)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "no labelled images to evaluate on" in result.output and "--run RUN_DIR" in result.output
    result = run_cli("eval", lone, "--run", "runs/tiny/1", "--split", "val")
    assert result.exit_code == 0, result.output


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML runs on macOS")
def test_eval_mlpackage_says_it_needs_macos(in_shared):
    result = run_cli("eval", "exports/tiny-1/coreml/tiny.mlpackage")
    assert result.exit_code == 1 and "needs macOS" in result.output
