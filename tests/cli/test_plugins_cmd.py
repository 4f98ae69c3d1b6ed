"""`tk plugins`, `tk --version`, `tk --help`: what a user sees."""

import json
import os
import subprocess
import sys

from toolkit import __version__

HEAVY = ("torch", "torchvision", "timm", "numpy", "PIL", "sklearn", "scipy", "matplotlib", "onnx", "onnxruntime",
         "coremltools", "optuna")
"""Libraries a listing or a recipe check has no use for: importing one costs seconds on a cold start."""


def tk(*args, env=None):
    return subprocess.run([sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_plugins_lists_every_builtin_with_what_it_registers(tk_cli):
    result = tk_cli("plugins", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert {"timm", "losses", "samplers", "augment", "optim", "folder", "exporters"} <= set(by_name)
    assert by_name["losses"]["registered"]["losses"][0] == "cross_entropy"
    assert by_name["losses"]["dist"] == "tk-train" and by_name["losses"]["version"] == __version__
    assert data["broken"] == []


def test_plugins_table_and_kind_verbose(tk_cli):
    result = tk_cli("plugins")
    assert "cross_entropy" in result.output and "tk plugins" in result.output
    result = tk_cli("plugins", "--kind", "losses", "-v")
    assert "label_smoothing: float = 0.0" in result.output


def test_disabled_plugins_are_shown_as_disabled():
    out = tk("plugins", env={"TK_DISABLE_PLUGINS": "samplers", "COLUMNS": "200"}).stdout
    assert "samplers (disabled)" in out and "samplers: random" not in out


def test_version_and_fast_help_without_torch():
    assert tk("--version").stdout.strip() == f"tk, version {__version__}"
    # what makes it fast, and holds on any machine however loaded: none of the heavy libraries is imported
    code = ("import sys; from toolkit.cli import cli; cli(['--help'], standalone_mode=False); "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().endswith("[]"), "tk --help must not import torch or another heavy library"
    assert "Commands:" in out.stdout and "plugins" in out.stdout
