"""tk: train image classifiers from a folder of images and ship them to devices.

The public API a plugin author needs is `hookimpl` (see `toolkit.plugin.hookspecs` for every hook)
and the names in ``__all__``, re-exported lazily here so that ``import toolkit`` stays cheap (no
torch, no entry points read) and `tk --help` answers at once. Plugins import only these
(``from toolkit import Callback, atomic_write``), never a module inside tk: the modules may
move, the names stay (docs/plugins.md lists them).
"""

from __future__ import annotations

import importlib
from typing import Any

from .core.errors import DataError, PluginError, RecipeError, TkError
from .core.version import __version__
from .plugin.hookspecs import hookimpl

_LAZY = {
    # plugins and recipes
    "load_plugins": "toolkit.plugin.manager",
    "Plugins": "toolkit.plugin.manager",
    "load_recipe": "toolkit.recipe.load",
    "Recipe": "toolkit.recipe.load",
    "dumps_toml": "toolkit.recipe.load",
    "Registry": "toolkit.plugin.registry",
    "Entry": "toolkit.plugin.registry",
    # data
    "scan_folder": "toolkit.data",
    "FolderIndex": "toolkit.data",
    "load_rgb": "toolkit.data",
    "decode": "toolkit.data.pixels",
    "InputSpec": "toolkit.core.geometry",
    # training
    "Callback": "toolkit.plugin.callbacks",
    "TrainState": "toolkit.plugin.callbacks",
    "FinalEvaluation": "toolkit.plugin.callbacks",
    "Batch": "toolkit.plugin.callbacks",
    "param_groups": "toolkit.core.params",
    "norm_stats": "toolkit.engine.model",
    # files
    "atomic_write": "toolkit.core.atomic",
    "WriteError": "toolkit.core.atomic",
    "load_checkpoint": "toolkit.core.checkpoint",
    "save_checkpoint": "toolkit.core.checkpoint",
    "CheckpointError": "toolkit.core.checkpoint",
    "load_model": "toolkit.engine.checkpoint",
    # exporters
    "ExportError": "toolkit.export",
    "Tolerance": "toolkit.export",
    "Predictor": "toolkit.export",
    "deployable_model": "toolkit.export",
    "metadata_int": "toolkit.export.manifest",
    "metadata_size": "toolkit.export.manifest",
    "unknown_rule": "toolkit.export.manifest",
    "input_hw": "toolkit.core.geometry",
    "metadata_list": "toolkit.export.manifest",
    "check_class_count": "toolkit.export.manifest",
    "IMAGE_SIZE_RANGE": "toolkit.export.manifest",
}
"""Public name → the module that defines it. Everything a plugin imports from tk is one of
these (or `hookimpl` and the errors): tests/core/test_layers.py fails when a plugin reaches
into a module instead."""

__all__ = ["__version__", "hookimpl", "TkError", "DataError", "PluginError", "RecipeError", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
