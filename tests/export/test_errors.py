"""Export errors a user can cause: each one line, no traceback, exit status 1."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from toolkit.testing import run_cli


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_run_without_best_pt(workdir):
    (workdir / "runs/tiny/1/best.pt").unlink()
    line = _one_line_error(run_cli("export", "runs/tiny/1", "--onnx"))
    assert line == ("Error: runs/tiny/1: no best.pt in this run. The run has last.pt: export it with "
                    "`tk export runs/tiny/1/last.pt`.")


def test_no_runs_at_all(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _one_line_error(run_cli("export"))
    assert line.startswith("Error: No runs under runs/: train one with `tk run RECIPE`")


def test_unknown_format_suggests_close_names(in_shared):
    line = _one_line_error(run_cli("export", "runs/tiny/1", "--format", "onxx"))
    assert "unknown exporter 'onxx'" in line and "Did you mean 'onnx'?" in line


def test_exported_model_is_not_an_export_source(in_shared):
    line = _one_line_error(run_cli("export", "exports/tiny-1/onnx/tiny.onnx"))
    assert "expected a run folder or a checkpoint (.pt)" in line


def test_exporter_missing_its_dependency(in_shared, monkeypatch):
    # A None entry in sys.modules is how Python itself marks a module as unimportable.
    monkeypatch.setitem(sys.modules, "coremltools", None)
    line = _one_line_error(run_cli("export", "runs/tiny/1", "--coreml"))
    assert line == ("Error: Exporter 'coreml' cannot export on this machine: missing dependency: the 'coremltools' "
                    "package is not installed (pip install coremltools).")


def test_parity_failure_fails_loudly_and_keeps_the_evidence(shared, tmp_path, monkeypatch):
    """An exporter whose model misses its own tolerance: here ONNX held to exact equality, which
    float arithmetic in a different runtime does not meet — a real mismatch, measured for real."""
    from tk_exporters.onnx_exporter import OnnxExporter

    from toolkit import hookimpl
    from toolkit.export import ExportError, Tolerance, export_run
    from toolkit.testing import make_plugins

    class ExactOnnx(OnnxExporter):
        name = "onnx_exact"

        def tolerance(self, options):
            return Tolerance(min_agreement=1.0, max_prob_diff=0.0)

    class Plugin:
        @hookimpl
        def tk_register_exporters(self, register):
            register("onnx_exact", ExactOnnx)

    monkeypatch.chdir(shared)
    plugins = make_plugins(Plugin(), entry_points=True, names=["exact"])
    with pytest.raises(ExportError) as info:
        export_run("runs/tiny/1", formats=["onnx_exact"], out=tmp_path / "x", plugins=plugins, log=None)
    message = str(info.value)
    assert message.startswith("Exported model does not match the trained one: onnx_exact (")
    assert "top-1 agreement 100.00%" in message and "max probability difference" in message
    assert "max probability difference ≤ 0" in message and "\n" not in message
    manifest = json.loads((tmp_path / "x/onnx_exact/manifest.json").read_text())
    assert manifest["parity"]["passed"] is False and manifest["parity"]["max_prob_diff"] > 0


def test_missing_validation_image_is_named(workdir):
    split = json.loads((workdir / "runs/tiny/1/split.json").read_text())
    missing = split["val"][0][0]
    shutil.move(missing, workdir / "moved.png")
    line = _one_line_error(run_cli("export", "runs/tiny/1", "--onnx", "--out", "o"))
    assert line.startswith(f"Error: {missing}: validation image of the run cannot be read")
