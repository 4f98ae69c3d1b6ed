"""Fixtures for the engine tests: tiny real image folders and recipes that train in seconds.

Every run here trains a real timm model (``test_efficientnet``/``test_resnet``, 0.1–0.4 M
parameters) on real PNG files at 32 px on the CPU, so the loop, checkpoints and reports are
exercised end to end, just small.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, make_recipe

TK = Path(sys.executable).with_name("tk")


def recipe_file(path: Path, root: Path, *, epochs: int = 2, backbone: str = "test_efficientnet", lr: float = 0.01,
                batch_size: int = 8, extra: str = "") -> Path:
    """Write a recipe training ``backbone`` on the class folders under ``root`` (CPU, 32 px);
    ``extra`` lands inside ``[train]``."""
    return make_recipe(path, root, epochs=epochs, backbone=backbone, lr=lr, batch_size=batch_size, train_extra=extra)


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    """Three easily told apart classes of 10 PNGs each (32 px)."""
    return make_image_folder(tmp_path / "images", {"circle": 10, "square": 10, "stripes": 10}, size=32)


@pytest.fixture
def tiny_recipe(tmp_path: Path, tiny_folder: Path):
    """Factory: ``tiny_recipe(epochs=2, extra="...")`` → a recipe file on `tiny_folder`."""

    def make(name: str = "tiny", **kwargs) -> Path:
        return recipe_file(tmp_path / f"{name}.toml", tiny_folder, **kwargs)

    return make


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch) -> Path:
    """Run in ``tmp_path`` so ``runs/`` lands there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def subprocess_env() -> dict[str, str]:
    """Environment for a `tk` subprocess: unbuffered output, one thread, the test's cache dir."""
    env = dict(os.environ)
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    return env
