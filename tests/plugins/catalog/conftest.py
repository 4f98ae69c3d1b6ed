"""Fixtures of the catalog tests: tiny real images, the installed plugins, a teacher checkpoint,
and `one_step`, which builds a recipe's parts from the registries and trains them for one step."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.testing import make_image_folder

CLASSES = {"ant": 8, "bee": 4, "cat": 2}  # imbalanced on purpose
SIZE = 32


@pytest.fixture(scope="session")
def plugins():
    from toolkit.plugin.manager import load_plugins

    loaded = load_plugins()
    loaded.raise_if_broken(strict=True)
    return loaded


@pytest.fixture(scope="session")
def image_root(tmp_path_factory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("catalog") / "images", CLASSES, size=SIZE)


@pytest.fixture(scope="session")
def dataset(image_root):
    """``(images uint8 N×3×32×32, labels list, class names)`` decoded by toolkit.data."""
    from toolkit.data import decode_images, scan_folder

    index = scan_folder(image_root)
    decoded = decode_images(index.paths, SIZE, cache_dir=None)
    assert not decoded.failed
    return decoded.images, index.labels, index.class_names


@pytest.fixture(scope="session")
def teacher_checkpoint(tmp_path_factory, plugins, dataset):
    """A real tk checkpoint (contract keys) of a tiny model for the dataset's classes."""
    from toolkit.core.checkpoint import save_checkpoint
    from toolkit.engine.model import build_model, count_parameters
    from toolkit.recipe.load import load_recipe

    _, _, names = dataset
    recipe = load_recipe(text=f'[model]\nbackbone = "test_resnet"\n[data]\nimage_size = {SIZE}\n')
    model = build_model(recipe, plugins, len(names))
    path = tmp_path_factory.mktemp("teacher") / "best.pt"
    save_checkpoint(path, {
        "kind": "best", "epoch": 1, "global_step": 1, "model": model.state_dict(), "optimizer": {},
        "scheduler": None, "scaler": None, "ema": None, "early_stopping": {}, "rng": {}, "history": [],
        "class_names": list(names), "recipe": recipe.resolved(plugins), "recipe_path": "teacher.toml",
        "model_info": {"backbone": "test_resnet", "image_size": SIZE, "mean": [0.485, 0.456, 0.406],
                       "std": [0.229, 0.224, 0.225], "resize": "bicubic", "input_range": [0, 1],
                       "num_classes": len(names), "params": count_parameters(model)},
        "metrics": {}, "status": "finished",
    })
    return path


@pytest.fixture
def example_params(teacher_checkpoint):
    """``example_params(entry) -> dict``: the entry's ``example`` info, with ``"{checkpoint}"``
    replaced by a real tk checkpoint of the test classes."""
    files = {"checkpoint": str(teacher_checkpoint)}

    def fill(entry) -> dict:
        params = dict(entry.info.get("example", {}))
        return {k: (files[v[1:-1]] if isinstance(v, str) and v.startswith("{") and v[1:-1] in files else v)
                for k, v in params.items()}

    return fill


@pytest.fixture
def one_step(plugins, dataset):
    """``one_step(recipe_text or Recipe) -> dict``: build every part of the recipe through the registries
    (as a run does, with the hookspecs' context) and train one step on 6 real images — the very check
    plugin authors run with `toolkit.testing.check_every_entry` (`toolkit.testing.entries.train_one_step`)."""
    from toolkit.testing.entries import train_one_step

    images, labels, names = dataset

    def run(text_or_recipe, *, batch: int = 6, plugins=plugins) -> dict:
        return train_one_step(text_or_recipe, plugins, images, labels, names, batch=batch, image_size=SIZE)

    return run
