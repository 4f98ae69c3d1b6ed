"""The distribution installs under its own name (tk-train) in a fresh environment, and `tk` runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_fresh_venv_installs_tk_train_and_runs_tk_help(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheel_dir), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheel_dir.glob("*.whl")
    assert wheel.name.startswith("tk_train-")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, capture_output=True)
    # `tk --help` needs only the light dependencies (no torch): that is part of the contract
    subprocess.run([*pip, "click", "pluggy", "rich"], check=True, capture_output=True)
    shown = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "show", "tk-train"], capture_output=True,
                           text=True)
    assert "Name: tk-train" in shown.stdout
    helped = subprocess.run([str(venv / "bin" / "tk"), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "Train image classifiers" in helped.stdout and "export" in helped.stdout
