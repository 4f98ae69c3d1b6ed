"""`tk bench` on a busy machine (#28 item 4): one stated thread count for every runtime, an interval
on each median, the load recorded, one Warning: line when the comparison cannot be trusted, and
each model file benched once.

No absolute time is asserted: only what always holds (the interval holds the median, p50 ≤ p90,
a spinning process started by this test is seen and warned about).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from toolkit.assess.bench import bench_warning, median_interval
from toolkit.core.threads import available_cores
from toolkit.testing import run_cli

HAS_PROC_STAT = Path("/proc/stat").is_file() and Path("/proc/self/stat").is_file()


def _ok_rows(report):
    return [r for r in report["rows"] if r["status"] == "ok"]


@pytest.mark.skipif(not HAS_PROC_STAT, reason="other processes' CPU time is read from /proc/stat")
def test_bench_under_load_prints_one_warning_and_writes_it_into_bench_json(workdir):
    cores = available_cores()[0]
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.3)  # both spinning before the bench starts
        result = run_cli("bench", "runs/tiny/1", "--runtime", "pytorch", "--runtime", "onnx", "--iters", "20",
                         "--warmup", "2", "--threads", str(cores))
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()
    assert result.exit_code == 0, result.output
    report = json.loads((workdir / "runs/tiny/1/bench.json").read_text())

    load = report["load"]
    assert load["cpus"] == cores and len(load["loadavg_before"]) == 3 and len(load["loadavg_after"]) == 3
    assert load["others_cpu"] > 0.25  # the spinners were seen: the bench wanted every core
    assert report["warning"] and "\n" not in report["warning"]
    assert "other processes kept" in report["warning"] and "Rerun on a quiet machine" in report["warning"]
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert warnings == [f"Warning: {report['warning']}"]

    # one thread policy, stated on screen and in the file
    assert report["settings"]["threads"] == cores
    assert f"{cores} intra-op thread" in report["settings"]["thread_policy"]
    assert f"Threads: {report['settings']['thread_policy']}." in result.output
    assert "Load: " in result.output and "other processes kept" in result.output

    rows = _ok_rows(report)
    assert {r["format"] for r in rows} == {"pytorch", "onnx"}
    for row in rows:
        low, high = row["latency_ci_ms"]
        assert low <= row["latency_ms"] <= high and row["latency_ms"] <= row["latency_p90_ms"]
        assert row["latency_ci_level"] >= 0.95  # 20 timed calls are enough for a 95% interval
    assert "p50 95% CI" in result.output


def _table_lines(output: str, *words: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("onnx ") and all(w in line for w in words)]


def test_a_model_file_given_twice_or_also_found_through_its_run_is_benched_once(workdir, tmp_path):
    onnx = "exports/tiny-1/onnx/tiny.onnx"
    result = run_cli("bench", "runs/tiny/1", onnx, f"./{onnx}", "--runtime", "onnx", "--iters", "2", "--warmup", "0",
                     "--batch", "1", "--json", tmp_path / "both.json")
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "both.json").read_text())["rows"]
    files = [Path(r["file"]).resolve() for r in rows if r["device"] == "cpu"]
    assert len(files) == len(set(files)) == 2, rows  # tiny.onnx and tiny.int8.onnx, once each
    assert all(r["precision"] not in ("", "-") for r in rows if r["status"] == "ok"), rows
    assert len(_table_lines(result.output, "ONNX Runtime", "cpu", "fp32")) == 1, result.output
    assert len(_table_lines(result.output, "ONNX Runtime", "cpu", "int8")) == 1, result.output

    # the file first, then its run: the file's row reads as the run's would (precision from its manifest)
    result = run_cli("bench", onnx, "runs/tiny/1", "--runtime", "onnx", "--iters", "2", "--warmup", "0",
                     "--batch", "1", "--json", tmp_path / "file-first.json")
    assert result.exit_code == 0, result.output
    rows = [r for r in json.loads((tmp_path / "file-first.json").read_text())["rows"] if r["device"] == "cpu"]
    assert sorted(r["precision"] for r in rows) == ["fp32", "int8"], rows
    assert len(_table_lines(result.output, "ONNX Runtime", "cpu", "fp32")) == 1, result.output


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7, 10, 20, 50, 101])
def test_the_interval_on_the_median_holds_the_median(n):
    import random
    import statistics

    values = [random.Random(n).lognormvariate(0, 1) for _ in range(n)]
    low, high, level = median_interval(values)
    assert min(values) <= low <= statistics.median(values) <= high <= max(values)
    assert (level >= 0.95) == (n >= 6)  # six timings are the fewest that give a 95% interval


def _row(runtime, median, ci, p90=None, device="cpu"):
    return {"status": "ok", "runtime": runtime, "precision": "fp32", "device": device, "latency_ms": median,
            "latency_ci_ms": list(ci), "latency_p90_ms": p90 or median, "latency_ci_level": 0.96}


QUIET = {"cpus": 2, "loadavg_before": [0.1, 0.1, 0.1], "loadavg_after": [0.2, 0.1, 0.1], "others_cpu": 0.02}


def test_the_warning_names_what_makes_the_comparison_untrustworthy():
    apart = [_row("PyTorch eager", 10.0, (9.5, 10.5)), _row("ONNX Runtime", 1.0, (0.9, 1.1))]
    assert bench_warning(apart, QUIET, threads=2, iters=50) is None
    overlapping = [_row("PyTorch eager", 10.0, (9.0, 11.0)), _row("ONNX Runtime", 10.5, (10.0, 12.0))]
    text = bench_warning(overlapping, QUIET, threads=2, iters=50)
    assert "median intervals of PyTorch eager fp32 and ONNX Runtime fp32 on cpu overlap" in text
    assert "--iters 200" in text and "quiet machine" not in text
    spread = [_row("PyTorch eager", 139.0, (120.0, 160.0), p90=1279.0), _row("ONNX Runtime", 1.3, (1.2, 1.4))]
    assert "p90 9.2× its median" in bench_warning(spread, QUIET, threads=2, iters=50)
    busy = {**QUIET, "others_cpu": 1.6}
    text = bench_warning(apart, busy, threads=2, iters=50)
    assert "other processes kept 1.6 of 2 CPUs busy" in text and "Rerun on a quiet machine" in text
    one_core = {**QUIET, "others_cpu": 1.0}  # one other process on one of two cores
    assert bench_warning(apart, one_core, threads=1, iters=50) is None  # one thread had the other core to itself
    assert "kept 1.0 of 2 CPUs busy" in bench_warning(apart, one_core, threads=2, iters=50)
    assert bench_warning(apart, QUIET, threads=4, iters=50).endswith(
        "4 threads on 2 CPUs. Rerun with --threads 2 or fewer.")
    few = [dict(r, latency_ci_level=0.75) for r in apart]
    assert "3 timed calls give no 95% interval" in bench_warning(few, QUIET, threads=2, iters=3)
