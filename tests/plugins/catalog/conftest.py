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
    from toolkit.plugins import load_plugins

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
    from toolkit.checkpoint import save_checkpoint
    from toolkit.engine.model import build_model, count_parameters
    from toolkit.recipe import load_recipe

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
    (as a run does, with the hookspecs' context) and train one step on 6 real images."""
    import torch

    from toolkit.engine.model import build_model
    from toolkit.recipe import load_recipe

    images, labels, names = dataset
    k = len(names)
    counts = [labels.count(i) for i in range(k)]

    def run(text_or_recipe, *, batch: int = 6, plugins=plugins) -> dict:
        recipe = load_recipe(text=text_or_recipe) if isinstance(text_or_recipe, str) else text_or_recipe
        recipe.validate(plugins)
        torch.manual_seed(0)
        model = build_model(recipe, plugins, k)
        loss_fn = plugins.create("losses", recipe["loss"]["name"], recipe.plugin_params("loss"), where="loss",
                                 context={"num_classes": k, "class_counts": counts, "class_names": names})
        sampler = plugins.create("samplers", recipe["sampler"]["name"], recipe.plugin_params("sampler"),
                                 where="sampler", context={"labels": labels, "num_classes": k,
                                                           "class_counts": counts, "seed": 0})
        ops = [plugins.create("augmentations", op["name"], {a: v for a, v in op.items() if a != "name"},
                              where=f"augment.ops[{i}]", context={"num_classes": k, "image_size": SIZE})
               for i, op in enumerate(recipe["augment"]["ops"])]
        optimizer = plugins.create("optimizers", recipe["optim"]["name"], recipe.plugin_params("optim"),
                                   where="optim", context={"model": model})
        scheduler = plugins.create("schedulers", recipe["schedule"]["name"], recipe.plugin_params("schedule"),
                                   where="schedule", context={"optimizer": optimizer, "epochs": 2, "steps_per_epoch": 3})
        for part in (model.backbone, loss_fn, sampler, *ops):
            if callable(getattr(part, "on_epoch_start", None)):
                part.on_epoch_start(0)
        order = sampler.indices(0)
        idx = torch.tensor(order[:batch])
        x = images[idx].float() / 255.0
        y = torch.tensor(labels)[idx]
        for op in ops:
            x, y = op(x, y)
        before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        model.train()
        logits = model(x)
        loss = loss_fn(logits, y, x) if getattr(loss_fn, "needs_inputs", False) else loss_fn(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        lr_before = [g["lr"] for g in optimizer.param_groups]
        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(float(loss.detach()))
            else:
                scheduler.step()
        changed = sum(not torch.equal(before[n], p) for n, p in model.named_parameters() if n in before)
        return {"recipe": recipe, "model": model, "loss": loss, "logits": logits, "x": x, "y": y, "order": order,
                "sampler": sampler, "optimizer": optimizer, "scheduler": scheduler, "changed": changed,
                "lr_before": lr_before, "num_classes": k}

    return run
