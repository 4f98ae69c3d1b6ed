"""Each import contract reports the break it exists for, planted in a copy of this checkout.

A contract that passes is worth something only if it fails when the rule is broken: the layer
test of tk 0.2 let the first six of these pass. Each case copies ``toolkit/``, ``plugins/`` and
pyproject.toml into a temporary folder, adds one import (inside a function, the way a lazy
import hides), runs `lint-imports` and tests/core/import_rules.py on the copy, and asserts that
the contract named in the case, and nothing else, reports it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = {c["id"]: c["name"] for c in
             tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]}


def _lazy(statement: str) -> str:
    return f"\n\ndef _planted_break():\n    {statement}\n"


BREAKS = {
    "the engine imports tk_timm": (
        # the facade contract too: through tk_timm, which imports `toolkit`, the engine reaches the facade
        "toolkit/engine/model.py", _lazy("import tk_timm"), {"core-without-plugins", "facade"}, None),
    "the data layer imports the trainer by name": (
        "toolkit/data/split.py", _lazy('import importlib; return importlib.import_module("toolkit.engine.trainer")'),
        set(), "toolkit/data/split.py:"),
    "the data layer takes an engine name through the facade": (
        "toolkit/data/split.py", _lazy("from toolkit import load_model"), {"facade"}, None),
    "geometry imports the registry": ("toolkit/core/geometry.py", _lazy("from ..plugin.registry import Registry"), {"layers", "no-sibling-cycles"}, None),
    "the engine's EMA imports finalize": (
        "toolkit/engine/callbacks/ema.py", _lazy("from ..finalize import final_metrics"), {"engine-layers"}, None),
    "one first-party plugin imports another": (
        "plugins/tk_losses/teacher.py", _lazy("import tk_timm"), {"plugins-independent"}, None),
    # beyond the six of #26
    "a plugin imports a module inside toolkit": (
        "plugins/tk_augment/mix.py", _lazy("from toolkit.engine import model"), {"plugins-public-api"}, None),
    "two modules of a plugin import each other": (
        "plugins/tk_exporters/onnx_quantize.py", _lazy("from .onnx_exporter import save_model"),
        {"no-sibling-cycles"}, "modules that import each other: ['tk_exporters.onnx_exporter'"),
    "a package and its own module import each other": (  # not siblings: only the grimp check sees it
        "toolkit/data/scan.py", _lazy("import toolkit.data"), set(), "modules that import each other: ['toolkit.data'"),
    "the facade lazily names a cli module": (
        "toolkit/__init__.py", ("_LAZY = {", '_LAZY = {\n    "main": "toolkit.cli",'), set(),
        "lazily imports toolkit.cli"),
}
"""Case → (file, text appended to it or an (old, new) replacement, the contracts `lint-imports` must
report broken, text that tests/core/import_rules.py must print (None: it must print nothing))."""


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("tk-copy")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "toolkit", copy / "toolkit", ignore=ignore)
    shutil.copytree(ROOT / "plugins", copy / "plugins", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _check(root: Path) -> tuple[set[str], str]:
    """(ids of the contracts `lint-imports` reports broken, what import_rules.py printed) for ``root``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "plugins")]), "COLUMNS": "300"}
    lint = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--config",
                           str(root / "pyproject.toml")], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert "Contracts:" in lint.stdout, lint.stdout + lint.stderr  # it ran, rather than failing to start
    broken = {cid for cid, name in CONTRACTS.items() if f"{name} BROKEN" in lint.stdout}
    assert (lint.returncode != 0) == bool(broken), lint.stdout
    rules = subprocess.run([sys.executable, str(Path(__file__).with_name("import_rules.py")),
                            str(root)], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert rules.returncode in (0, 1), rules.stderr
    return broken, rules.stdout if rules.returncode else ""


def test_the_unmodified_copy_passes(pristine):
    assert _check(pristine) == (set(), "")


@pytest.mark.parametrize("case", BREAKS)
def test_each_planted_break_is_reported(case, pristine, tmp_path):
    rel, text, contracts, rule = BREAKS[case]
    copy = tmp_path / "tk"
    shutil.copytree(pristine, copy)
    path = copy / rel
    source = path.read_text(encoding="utf-8")
    planted = source.replace(*text, 1) if isinstance(text, tuple) else source + text
    assert planted != source
    path.write_text(planted, encoding="utf-8")
    broken, rules = _check(copy)
    assert broken == contracts, f"{case}: lint-imports reported {broken or 'nothing'}, expected {contracts or 'nothing'}"
    assert (rule in rules) if rule else rules == "", f"{case}: import_rules.py printed {rules!r}"
