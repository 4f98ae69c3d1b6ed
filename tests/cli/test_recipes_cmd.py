"""`tk recipes check` and `tk recipes list`, driven as a user would, in a subprocess."""

import os
import subprocess
import sys
import time


def tk(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"})


def test_misspelt_loss_fails_fast_with_one_line(tmp_path):
    recipe = tmp_path / "x.toml"
    recipe.write_text('[loss]\nname = "focall"\n')
    start = time.perf_counter()
    result = tk("recipes", "check", str(recipe))
    elapsed = time.perf_counter() - start
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "loss.name" in lines[0] and "unknown loss 'focall'" in lines[0]
    assert "Traceback" not in result.stderr
    assert elapsed < 5  # one second on a quiet machine; this bound only guards against importing torch


def test_check_ok_and_show(tmp_path):
    recipe = tmp_path / "ok.toml"
    recipe.write_text('[train]\nepochs = 2\n')
    result = tk("recipes", "check", str(recipe), "--show", "--set", "optim.lr=0.01")
    assert result.returncode == 0, result.stderr
    assert "lr = 0.01" in result.stdout and f"{recipe}: ok" in result.stdout


def test_missing_recipe_file_is_one_line(tmp_path):
    result = tk("recipes", "check", str(tmp_path / "nope.toml"))
    assert result.returncode == 1 and result.stderr.startswith("Error: ") and "no such recipe file" in result.stderr
