"""Shared pieces of the plugin author's kit tests (test_author_kit*.py): where the repository and
its example package are, and the kinds of entry a plugin can register."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tk-example-plugin"
KINDS = ("backbones", "augmentations", "losses", "samplers", "optimizers", "schedulers", "exporters", "datasets",
         "loggers", "callbacks")
