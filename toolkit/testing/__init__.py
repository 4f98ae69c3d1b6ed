"""A pytest kit for plugin authors (installed as a pytest plugin with tk: entry point ``pytest11``).

**Every entry of your package, checked in one line** (`toolkit.testing.entries`): built from a
recipe table, trained for a step, run, exported — whatever its kind::

    from toolkit.testing import check_every_entry

    test_every_entry = check_every_entry("tk_acme")     # your module, or your distribution "tk-acme"

**A killed run resumes bit-identical** (`toolkit.testing.resume`): train a recipe straight, train
it again and SIGKILL it mid-epoch, resume it, compare every tensor::

    from toolkit.testing import assert_resume_identical, make_image_folder, make_recipe

    def test_my_callback_resumes(tmp_path):
        root = make_image_folder(tmp_path / "images", {"a": 8, "b": 8})
        recipe = make_recipe(tmp_path / "r.toml", root, epochs=3,
                             extra='[[train.callbacks]]\nname = "my_callback"\n')
        assert_resume_identical(recipe, workdir=tmp_path / "runs")

**One part at a time**, with a fresh plugin manager that holds only what you give it::

    import my_loss_plugin   # your plugin module

    def test_focal(tk_plugins):
        plugins = tk_plugins(my_loss_plugin)
        loss = plugins.create("losses", "my_focal", {"gamma": 2.0}, where="loss",
                              context={"num_classes": 3, "class_counts": [5, 3, 1]})
        ...

    def test_in_a_run(tk_image_folder, tk_cli):
        root = tk_image_folder({"cat": 6, "dog": 6})
        result = tk_cli("data", "check", str(root))
        assert result.exit_code == 0

Fixtures: ``tk_plugins`` (a factory of `Plugins`), ``tk_image_folder`` (a factory of class
folders of real PNG files), ``tk_cli`` (runs the `tk` command in-process and returns click's
``Result``). The same helpers are importable as plain functions for use outside pytest:
`make_plugins`, `make_image_folder`, `make_recipe`, `run_cli`, and `EntryKit` (the every-entry
checks without pytest). Importing this module imports neither torch nor any plugin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from .entries import EntryKit, check_every_entry, entries_of
from .helpers import make_image_folder, make_plugins, make_recipe, run_cli
from .resume import MOMENTS, Moment, assert_resume_identical

__all__ = ["make_plugins", "make_image_folder", "make_recipe", "run_cli", "check_every_entry", "entries_of", "EntryKit",
           "assert_resume_identical", "Moment", "MOMENTS", "tk_plugins", "tk_image_folder", "tk_cli"]


@pytest.fixture
def tk_plugins() -> Callable[..., Any]:
    """Factory: ``tk_plugins(*plugin_modules, entry_points=False)`` → a fresh `Plugins`."""
    return make_plugins


@pytest.fixture
def tk_image_folder(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``tk_image_folder({"a": 5, "b": 5}, size=32)`` → a folder of class folders."""

    def make(classes: dict[str, int], **kwargs: Any) -> Path:
        return make_image_folder(tmp_path / "images", classes, **kwargs)

    return make


@pytest.fixture
def tk_cli() -> Callable[..., Any]:
    """Factory: ``tk_cli("plugins", "--json")`` → click ``Result``."""
    return run_cli
