"""`tk models --cached` with nothing cached is an answer, not a failure (#30 item 9): exit 0 and
one line saying nothing is cached and how to fill the cache.

Run as the installed `tk` with its own empty Hugging Face cache (huggingface_hub reads the cache
folder once, when it is first imported, so an in-process test would see another test's cache)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TK = Path(sys.executable).with_name("tk")


def _tk(*args: str, hub: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(TK), *args], env=env, capture_output=True, text=True, timeout=120)


def test_models_cached_with_an_empty_cache_exits_0_and_says_how_to_fill_it(tmp_path):
    empty = tmp_path / "hub"
    empty.mkdir()
    result = _tk("models", "--cached", hub=empty)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("No pretrained weights are cached yet:"), lines
    assert "tk models --download NAME" in lines[0]
    narrowed = _tk("models", "mobilenetv4*", "--cached", hub=tmp_path / "never-made")
    assert narrowed.returncode == 0, narrowed.stdout + narrowed.stderr
    assert "No pretrained weights matching 'mobilenetv4*' are cached" in narrowed.stdout
    as_json = _tk("models", "--cached", "--json", hub=empty)
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []
