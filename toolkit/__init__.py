"""tk: train image classifiers from a folder of images and ship them to devices.

The public API a plugin author needs is `hookimpl` (see `toolkit.hookspecs` for every hook);
the rest is re-exported lazily here so that ``import toolkit`` stays cheap (no torch, no entry
points read) and `tk --help` answers at once.
"""

from __future__ import annotations

import importlib
from typing import Any

import pluggy

from .errors import DataError, PluginError, RecipeError, TkError

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("tk")
"""Marks a plugin function as the implementation of the tk hook of the same name."""

_LAZY = {
    "load_plugins": "toolkit.plugins",
    "Plugins": "toolkit.plugins",
    "load_recipe": "toolkit.recipe",
    "Recipe": "toolkit.recipe",
    "Registry": "toolkit.registry",
    "Entry": "toolkit.registry",
    "param_groups": "toolkit.params",
    "scan_folder": "toolkit.data",
    "FolderIndex": "toolkit.data",
    "load_rgb": "toolkit.data",
    "Callback": "toolkit.callbacks",
    "TrainState": "toolkit.callbacks",
}

__all__ = ["__version__", "hookimpl", "TkError", "DataError", "PluginError", "RecipeError", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'toolkit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
