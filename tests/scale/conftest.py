"""Fixtures for the scale-out tests: a tiny real image folder and recipes that train on it fast.

The images are 32-pixel PNGs of two easily told apart classes (reddish and bluish, with noise),
so a 100k-parameter timm model reaches a measurable validation accuracy in one or two epochs
on a CPU, with several processes sharing two cores.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

TK = Path(sys.executable).with_name("tk")


def write_dataset(root: Path, per_class: int = 12, size: int = 32) -> Path:
    """``root/red/*.png`` and ``root/blue/*.png``: noisy colour fields, one class per tint."""
    rng = random.Random(0)
    for name, base in (("red", (200, 40, 40)), ("blue", (40, 60, 200))):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = Image.new("RGB", (size, size))
            img.putdata([tuple(max(0, min(255, c + rng.randint(-40, 40))) for c in base) for _ in range(size * size)])
            img.save(folder / f"{i:03d}.png")
    return root


def recipe_text(data_root: Path, *, epochs: int = 2, extra: str = "") -> str:
    """A recipe that trains `test_efficientnet` (has batch norm) on the tiny folder on the CPU."""
    return f"""\
[data]
root = "{data_root.as_posix()}"
image_size = 32
val_fraction = 0.25
workers = 0

[model]
backbone = "test_efficientnet"
pretrained = false

[optim]
lr = 0.01

[train]
epochs = {epochs}
batch_size = 4
device = "cpu"
amp = "off"
early_stopping = false
out = "runs"
{extra}
"""


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "images")


@pytest.fixture
def make_recipe(tmp_path: Path, dataset: Path):
    """``make_recipe(name, epochs=2, extra="")`` writes ``tmp_path/NAME.toml`` and returns its path."""

    def make(name: str = "tiny", *, epochs: int = 2, extra: str = "") -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(recipe_text(dataset, epochs=epochs, extra=extra), encoding="utf-8")
        return path

    return make


def tk_env() -> dict[str, str]:
    """The test's environment for a `tk` subprocess, single-threaded so workers share the cores."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_tk(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed `tk` console script as a user would."""
    return subprocess.run([str(TK), *args], cwd=cwd, env=tk_env(), capture_output=True, text=True, timeout=timeout)
