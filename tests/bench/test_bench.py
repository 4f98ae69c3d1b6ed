"""`tk bench` on a trained, exported run: rows per runtime, bench.json, and accuracy equal to `tk eval`."""

from __future__ import annotations

import json
import sys

import pytest

from toolkit.testing import run_cli

ROW_FIELDS = {"model", "format", "runtime", "device", "precision", "status", "file", "size_mb", "load_s", "latency_ms",
              "latency_p90_ms", "per_batch", "throughput_batch", "throughput_ips", "accuracy", "split", "images",
              "agreement"}


def _rows(report, **match):
    return [r for r in report["rows"] if all(r.get(k) == v for k, v in match.items())]


def test_bench_writes_json_with_every_field_and_accuracy_equals_eval(workdir):
    result = run_cli("bench", "runs/tiny/1", "--json", "b.json", "--md", "b.md")
    assert result.exit_code == 0, result.output
    report = json.loads((workdir / "runs/tiny/1/bench.json").read_text())
    assert json.loads((workdir / "b.json").read_text())["rows"] == report["rows"]
    # the recipe's [bench] table: batches [1, 4], 3 timed calls, 1 warm-up
    assert report["settings"]["batches"] == [1, 4] and report["settings"]["iters"] == 3
    assert report["settings"]["warmup"] == 1
    assert {"platform", "cpu_count", "torch", "onnxruntime"} <= set(report["machine"])

    torch_cpu, = _rows(report, format="pytorch", device="cpu")
    onnx_cpu, = _rows(report, format="onnx", device="cpu", precision="fp32")
    int8_cpu, = _rows(report, format="onnx", device="cpu", precision="int8")
    for row in (torch_cpu, onnx_cpu, int8_cpu):
        assert row["status"] == "ok", row
        assert ROW_FIELDS <= set(row)
        assert row["latency_ms"] > 0 and row["latency_p90_ms"] >= row["latency_ms"]
        assert set(row["per_batch"]) == {"1", "4"} and row["throughput_batch"] == 4 and row["throughput_ips"] > 0
        assert row["split"] == "test" and row["size_mb"] > 0
    assert torch_cpu["runtime"] == "PyTorch eager" and onnx_cpu["runtime"] == "ONNX Runtime"
    assert onnx_cpu["agreement"] == 1.0 and torch_cpu["agreement"] == 1.0
    assert int8_cpu["size_mb"] < onnx_cpu["size_mb"]

    for model, row in (("runs/tiny/1", torch_cpu), ("exports/tiny-1/onnx/tiny.onnx", onnx_cpu),
                       ("exports/tiny-1/onnx/tiny.int8.onnx", int8_cpu)):
        ev = run_cli("eval", model, "--json", "e.json")
        assert ev.exit_code == 0, ev.output
        assert json.loads((workdir / "e.json").read_text())["accuracy"] == row["accuracy"]

    coreml = _rows(report, format="coreml")
    if sys.platform != "darwin":
        assert [r["device"] for r in coreml] == ["CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE", "ALL"]
        assert all(r["status"] == "unavailable" and r["reason"] == "needs macOS" for r in coreml)
        assert "need macOS (Core ML): run `tk bench` on a Mac" in result.output
    for name in ("PyTorch eager", "ONNX Runtime", "p50 ms (b1)", "img/s", "accuracy", "agreement"):
        assert name in result.output
    md = (workdir / "b.md").read_text()
    assert "| format | runtime | device |" in md and md.count("\n| ") >= len(report["rows"]) + 1


def test_bench_options_override_the_recipe(workdir):
    result = run_cli("bench", "--runtime", "onnx", "--batch", "1,2", "--iters", "2", "--warmup", "0", "--threads", "1")
    assert result.exit_code == 0, result.output
    report = json.loads((workdir / "runs/tiny/1/bench.json").read_text())
    assert {r["format"] for r in report["rows"]} == {"onnx"}
    assert report["settings"]["batches"] == [1, 2] and report["settings"]["threads"] == 1
    assert all(r["throughput_batch"] == 2 for r in report["rows"] if r["status"] == "ok")
    unavailable = [r for r in report["rows"] if r["status"] == "unavailable"]
    assert unavailable and all(r["reason"] for r in unavailable)  # CUDA / CoreML execution providers absent here


def test_bench_a_model_file_finds_its_run_for_accuracy(in_shared, tmp_path):
    result = run_cli("bench", "exports/tiny-1/onnx/tiny.int8.onnx", "--iters", "2", "--warmup", "0",
                     "--json", tmp_path / "m.json")
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "m.json").read_text())["rows"]
    ok, = [r for r in rows if r["status"] == "ok"]
    assert ok["format"] == "onnx" and ok["precision"] == "int8" and ok["model"] == "tiny-1"
    assert ok["split"] == "test" and "accuracy" in ok and "agreement" in ok


def test_unknown_runtime_is_one_line(in_shared):
    result = run_cli("bench", "--runtime", "tflite")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: Unknown runtime 'tflite' in bench runtimes; known: coreml, hf, onnx, pytorch."


@pytest.mark.macos
def test_coreml_rows_on_macos_show_compute_plan(workdir):
    result = run_cli("bench", "--runtime", "coreml")
    assert result.exit_code == 0, result.output
    report = json.loads((workdir / "runs/tiny/1/bench.json").read_text())
    rows = [r for r in report["rows"] if r["format"] == "coreml" and r["status"] == "ok"]
    assert {r["device"] for r in rows} == {"CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE", "ALL"}
    assert all(sum(r["compute_plan"].values()) > 0 and r["accuracy"] is not None for r in rows)


def test_bench_of_a_run_finds_exports_written_with_out(workdir):
    """`tk export RUN --out ELSEWHERE` is recorded in the run's exports.json; `tk bench RUN` uses it."""
    import shutil

    run = workdir / "runs/tiny/copy"  # a copy: the shared run's own exports stay as the other tests expect
    shutil.copytree(workdir / "runs/tiny/1", run)
    (run / "exports.json").unlink(missing_ok=True)
    out = workdir / "elsewhere"
    exported = run_cli("export", run, "--onnx", "--out", out, "--set", "export.onnx.opset=18")
    assert exported.exit_code == 0, exported.output
    record = json.loads((run / "exports.json").read_text())
    mine = [e for e in record["exports"] if (run / e["file"]).resolve().is_relative_to(out.resolve())]
    assert len(mine) == 1 and mine[0]["format"] == "onnx" and mine[0]["parity_passed"] is True
    assert mine[0]["exporter_options"]["opset"] == 18
    result = run_cli("bench", run, "--runtime", "onnx", "--iters", "1", "--warmup", "0", "--batch", "1",
                     "--json", "elsewhere.json")
    assert result.exit_code == 0, result.output
    files = {r.get("file") for r in json.loads((workdir / "elsewhere.json").read_text())["rows"] if r["status"] == "ok"}
    assert any(str(f).startswith(str(out.resolve())) or str(f).startswith("elsewhere") for f in files), files
