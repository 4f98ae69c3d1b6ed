"""benchmarks/distill.py end to end at toy size: teacher, student alone, student distilled."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "distill.py"


@pytest.mark.slow
def test_distill_benchmark_writes_its_table_and_json(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("distill_bench", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    code = bench.main(["--out", str(tmp_path), "--per-class", "4", "--image-size", "32", "--teacher", "test_resnet",
                       "--student", "test_efficientnet", "--teacher-epochs", "1", "--student-epochs", "1",
                       "--seeds", "0", "--device", "cpu"])
    assert code == 0
    table = capsys.readouterr().out
    assert "| student test_efficientnet + distill (T=4.0, α=0.7) | 1 |" in table
    result = json.loads((tmp_path / "distill.json").read_text())
    assert len(result["student_alone"]) == len(result["student_distilled"]) == 1
    distilled = Path(result["student_distilled"][0]["run_dir"]) / "recipe.toml"
    assert 'name = "distill"' in distilled.read_text()
