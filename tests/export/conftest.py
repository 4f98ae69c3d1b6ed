"""Fixtures for the export, predict and eval tests: the shared tiny run (see `tiny_run.py`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("tk_tests_tiny_run", Path(__file__).with_name("tiny_run.py"))
tiny_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny_run)


@pytest.fixture(scope="session")
def shared(tmp_path_factory, worker_id) -> Path:
    """The shared folder with a trained, exported run; read it, do not write to it."""
    return tiny_run.shared_run(tmp_path_factory, worker_id)


@pytest.fixture
def in_shared(shared, monkeypatch) -> Path:
    """Work in the shared folder (commands that only read)."""
    monkeypatch.chdir(shared)
    return shared


@pytest.fixture
def workdir(shared, tmp_path, monkeypatch) -> Path:
    """Work in a private copy of the shared folder (commands that write)."""
    copy = tiny_run.copy_shared(shared, tmp_path / "work")
    monkeypatch.chdir(copy)
    return copy


@pytest.fixture(autouse=True)
def _macos_only(request):
    if request.node.get_closest_marker("macos") and sys.platform != "darwin":
        pytest.skip("needs macOS (Core ML runs only there)")


@pytest.fixture(scope="session")
def train_and_export():
    """`tiny_run.train_and_export`: train a recipe and export it to ONNX and Core ML in a folder."""
    return tiny_run.train_and_export
