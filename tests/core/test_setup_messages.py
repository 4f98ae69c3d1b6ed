"""`make install` says what takes long and offers the smaller CPU build of PyTorch (#30 item 13)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_install_says_what_is_slow_and_takes_a_torch_index(tmp_path):
    plan = subprocess.run(["make", "-n", "-B", "install", f"VENV={tmp_path / 'v'}",
                           "TORCH_INDEX=https://download.pytorch.org/whl/cpu"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    assert "PyTorch is the large part" in plan and "Installing collected packages" in plan
    lines = plan.splitlines()
    torch_first = next(i for i, line in enumerate(lines) if "--index-url https://download.pytorch.org/whl/cpu" in line)
    tk_after = next(i for i, line in enumerate(lines) if "pip install -e" in line)
    assert torch_first < tk_after  # torch from that index first, so tk's requirement is already met
    default = subprocess.run(["make", "-n", "-B", "install", f"VENV={tmp_path / 'v'}"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert "--index-url" not in default  # nothing changes unless asked for


def test_ci_prints_each_stage_and_the_total():
    script = (ROOT / ".ci" / "run").read_text()
    for stage in ("install", "test", "acceptance"):
        assert f"stage {stage} make " in script
    assert "CI took" in script
