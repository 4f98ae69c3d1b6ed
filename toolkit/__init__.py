"""tk: train image classifiers from a folder of images and ship them to devices.

The public API a plugin author needs is `hookimpl` (see `toolkit.hookspecs` for every hook)
and the names in ``__all__``, re-exported lazily here so that ``import toolkit`` stays cheap (no
torch, no entry points read) and `tk --help` answers at once. Plugins import only these
(``from toolkit import Callback, atomic_write``), never a module inside tk: the modules may
move, the names stay (docs/plugins.md lists them).
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import DataError, PluginError, RecipeError, TkError
from .hookspecs import hookimpl
from .version import __version__


_LAZY = {
    # plugins and recipes
    "load_plugins": "toolkit.plugins",
    "Plugins": "toolkit.plugins",
    "load_recipe": "toolkit.recipe",
    "Recipe": "toolkit.recipe",
    "dumps_toml": "toolkit.recipe",
    "Registry": "toolkit.registry",
    "Entry": "toolkit.registry",
    # data
    "scan_folder": "toolkit.data",
    "FolderIndex": "toolkit.data",
    "load_rgb": "toolkit.data",
    "decode": "toolkit.data.pixels",
    "InputSpec": "toolkit.geometry",
    # training
    "Callback": "toolkit.callbacks",
    "TrainState": "toolkit.callbacks",
    "FinalEvaluation": "toolkit.callbacks",
    "Batch": "toolkit.callbacks",
    "param_groups": "toolkit.params",
    "norm_stats": "toolkit.engine.model",
    # files
    "atomic_write": "toolkit.atomic",
    "WriteError": "toolkit.atomic",
    "load_checkpoint": "toolkit.checkpoint",
    "save_checkpoint": "toolkit.checkpoint",
    "CheckpointError": "toolkit.checkpoint",
    "load_model": "toolkit.engine.checkpoint",
    # exporters
    "ExportError": "toolkit.export",
    "Tolerance": "toolkit.export",
    "Predictor": "toolkit.export",
    "deployable_model": "toolkit.export",
    "metadata_int": "toolkit.export.manifest",
    "metadata_size": "toolkit.export.manifest",
    "unknown_rule": "toolkit.export.manifest",
    "input_hw": "toolkit.geometry",
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
