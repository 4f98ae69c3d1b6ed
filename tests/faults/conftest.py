"""Shared pieces of the fault suite: tiny recipes, the real `tk` binary, clean-error checks, figures.

Every fault test drives tk the way a user meets the fault: the `tk` console script in a
subprocess (kills, signals, a real full disk) or click's CliRunner on the real command group
(many recipe and file mistakes, where a subprocess per case would cost seconds of imports
each). Runs are tiny (a 0.1 M-parameter timm test model on 32 px PNGs, CPU) so a whole
training run takes about a second after start-up.

Figures: when ``TK_FAULT_FIGURES`` names a file, each test appends one JSON line per fault
family it exercised (what was tried, how many, how many held); `tests/faults/figures.py`
turns that file into the table of docs/reliability.md (``make test-faults`` does both).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from toolkit.testing import make_image_folder, make_recipe
from toolkit.testing.resume import WALL_CLOCK_KEYS as _WALL_CLOCK_KEYS

TK = Path(sys.executable).with_name("tk")
"""The installed console script, as a user runs it."""

WALL_CLOCK_KEYS = _WALL_CLOCK_KEYS
"""History fields that measure time and may differ between two runs of the same training
(`toolkit.testing.resume`, which compares resumed runs for this suite and for plugin authors)."""


def write_recipe(path: Path, root: Path, *, epochs: int = 3, batch_size: int = 4, lr: float = 0.01,
                 backbone: str = "test_efficientnet", extra: str = "", train_extra: str = "") -> Path:
    """A fault-suite recipe (`toolkit.testing.make_recipe` with this suite's defaults)."""
    return make_recipe(path, root, epochs=epochs, batch_size=batch_size, lr=lr, backbone=backbone,
                       train_extra=train_extra, extra=extra)


def subprocess_env(**extra: str) -> dict[str, str]:
    """A `tk` subprocess: unbuffered, one thread (numerics as in-process with one thread), offline."""
    env = dict(os.environ)
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1", COLUMNS="200")
    env.update(extra)
    return env


def tk(*args: Any, cwd: Path, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``tk ARGS`` as a subprocess in ``cwd``; stdout and stderr captured as text (bytes that are
    not UTF-8, such as some file names, come back surrogate-escaped, like `os.fsdecode`)."""
    return subprocess.run([str(TK), *map(str, args)], cwd=cwd, env=env or subprocess_env(), capture_output=True,
                          text=True, errors="surrogateescape", timeout=timeout)


def one_error_line(text: str) -> str:
    """The single ``Error: ...`` line a user mistake must produce; fails on tracebacks or extra lines."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert "Traceback" not in text, text
    assert len(lines) == 1 and lines[0].startswith("Error: "), text
    return lines[0]


def final_error_line(text: str) -> str:
    """Like `one_error_line`, for commands that log progress first (`tk bench`): the output ends
    with the one ``Error: ...`` line, and holds no other and no traceback."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert "Traceback" not in text, text
    assert lines and lines[-1].startswith("Error: "), text
    assert sum(line.startswith("Error: ") for line in lines) == 1, text
    return lines[-1]


def run_files(folder: Path) -> list[str]:
    """Everything a run may have written under ``folder`` (checkpoints, run folders)."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix == ".pt" or p.name == "runs")


def record_figure(family: str, kind: str, tried: int, held: int, **facts: Any) -> None:
    """Append one line of figures for docs/reliability.md when ``TK_FAULT_FIGURES`` is set.

    ``family`` is the row group (``killed runs``, ``bad images`` …), ``kind`` what was tried,
    ``tried``/``held`` the counts; ``facts`` add columns (``lost``, ``identical`` …).
    """
    target = os.environ.get("TK_FAULT_FIGURES")
    if not target:
        return
    line = json.dumps({"family": family, "kind": kind, "tried": tried, "held": held, **facts}) + "\n"
    with open(target, "a", encoding="utf-8") as fh:  # one write per line: safe across xdist workers
        fh.write(line)


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """Three easily told apart classes of 12 PNGs each (32 px)."""
    return make_image_folder(tmp_path / "images", {"circle": 12, "square": 12, "stripes": 12}, size=32)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch) -> Path:
    """Run in ``tmp_path`` so ``runs/`` and ``exports/`` land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path

