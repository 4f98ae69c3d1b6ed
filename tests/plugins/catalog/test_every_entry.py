"""Generated from the registry: every backbone, augmentation, loss, sampler, optimiser and
schedule that is installed is built from a recipe table and trained for one step on real images.

A new entry is tested here without new test code. Parameters come from the factory's defaults
plus the entry's ``example`` info (``"{checkpoint}"`` stands for a tk checkpoint of the test
classes); a backbone entry that answers for many names is tried under its ``example_name``.
"""

from __future__ import annotations

import math

import pytest

from toolkit.plugins import load_plugins
from toolkit.recipe import dumps_toml

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
def test_entry_builds_from_a_recipe_and_trains_a_step(kind, name, plugins, one_step, example_params):
    entry = plugins.registry(kind).get(name, "test")
    params = example_params(entry)
    asked = entry.info.get("example_name", name) if kind == "backbones" else name
    out = one_step(_recipe_text(kind, asked, params))

    assert out["logits"].shape == (6, out["num_classes"])
    assert math.isfinite(float(out["loss"].detach())) and out["loss"].dim() == 0
    assert out["changed"] > 0, "one optimiser step changed no trainable parameter"
    if kind == "augmentations":
        x, y = out["x"], out["y"]
        assert x.shape == (6, 3, SIZE, SIZE) and float(x.min()) >= 0 and float(x.max()) <= 1
        if y.dim() == 2:  # soft targets: rows of the class count, summing to one
            assert y.shape == (6, out["num_classes"]) and abs(float(y.sum(1).mean()) - 1) < 1e-5
    if kind == "samplers":
        sampler = out["sampler"]
        assert out["order"] == sampler.indices(0), "indices(epoch) must be deterministic"
        assert all(0 <= i < 14 for i in out["order"]) and len(out["order"]) > 0
    if kind == "schedulers" and out["scheduler"] is not None:
        state = out["scheduler"].state_dict()  # checkpointable as plain data
        assert isinstance(state, dict)
