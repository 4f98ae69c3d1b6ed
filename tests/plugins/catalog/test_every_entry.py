"""Generated from the registry: every backbone, augmentation, loss, sampler, optimiser and
schedule that is installed is built from a recipe table and trained for one step on real images.

A new entry is tested here without new test code. The step and its assertions are those of the
author's kit (`toolkit.testing.entries`: `train_one_step`, `assert_one_step`), which checks a
third-party package's entries the same way. Parameters come from the factory's defaults
plus the entry's ``example`` info (``"{checkpoint}"`` stands for a tk checkpoint of the test
classes); a backbone entry that answers for many names is tried under its ``example_name``.
"""

from __future__ import annotations

import pytest

from toolkit.plugin.manager import load_plugins
from toolkit.recipe.load import dumps_toml
from toolkit.testing.entries import assert_one_step

SIZE = 32  # the catalog fixtures' image size

SECTIONS = {"backbones": ("model", "backbone"), "losses": ("loss", "name"), "samplers": ("sampler", "name"),
            "optimizers": ("optim", "name"), "schedulers": ("schedule", "name"), "augmentations": ("augment", "ops")}


def _entries():
    loaded = load_plugins()
    return [pytest.param(kind, entry.name, id=f"{kind}:{entry.name}")
            for kind in SECTIONS for entry in loaded.registry(kind)]


def _recipe_text(kind: str, name: str, params: dict) -> str:
    """A recipe whose table for ``kind`` names ``name`` with ``params``; the rest is default."""
    sections: dict = {"data": {"image_size": SIZE}, "model": {"backbone": "test_resnet"}}
    section, key = SECTIONS[kind]
    if kind == "augmentations":
        sections["augment"] = {"ops": [{"name": name, **params}]}
    else:
        sections[section] = {key: name, **params}
    return dumps_toml(sections)


@pytest.mark.parametrize("kind,name", _entries())
def test_entry_builds_from_a_recipe_and_trains_a_step(kind, name, plugins, one_step, example_params, dataset):
    entry = plugins.registry(kind).get(name, "test")
    params = example_params(entry)
    asked = entry.info.get("example_name", name) if kind == "backbones" else name
    out = one_step(_recipe_text(kind, asked, params))
    assert_one_step(kind, name, out, len(dataset[1]), image_size=SIZE)  # what authors' entries must pass too
