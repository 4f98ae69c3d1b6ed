"""One training step from a recipe, as a run takes it, and what each kind's entry must have done in it.

`train_one_step` builds every part of a recipe through the registries and trains one step on
the kit's tiny images (`CLASSES`, `SIZE`); `assert_one_step` checks the result for the entry
under test. The every-entry check (`toolkit.testing.entries`) and tk's catalog tests use both.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["BASE_BACKBONE", "CLASSES", "PARTS", "SIZE", "assert_one_step", "train_one_step"]

CLASSES = {"ant": 8, "bee": 6, "cat": 4}
"""The kit's images: three classes, imbalanced on purpose (18 images)."""

SIZE = 32
"""Their side in pixels."""

PARTS = {"backbones": ("model", "backbone"), "losses": ("loss", "name"), "samplers": ("sampler", "name"),
         "optimizers": ("optim", "name"), "schedulers": ("schedule", "name"), "augmentations": ("augment", "ops")}
"""The kinds trained for one step from a recipe table, and the table (and key) that names them."""

BASE_BACKBONE = "test_resnet"
"""The backbone of a recipe that checks another kind (a timm test model: tiny, no download)."""


def train_one_step(recipe: Any, plugins: Any, images: Any, labels: list[int], class_names: list[str], *,
                   batch: int = 6, image_size: int = SIZE) -> dict[str, Any]:
    """Build every part of ``recipe`` (a `Recipe` or TOML text) through the registries, as a run does,
    with the run context of `toolkit.plugin.hookspecs`, and train one step on ``images`` (uint8 N×3×S×S).

    Returns the parts and what happened: ``model``, ``loss``, ``logits``, ``x``/``y`` (the batch
    after the augmentations), ``order`` (the sampler's epoch 0), ``sampler``, ``optimizer``,
    ``scheduler``, ``changed`` (trainable tensors the step changed), ``lr_before``, ``num_classes``.
    """
    import torch

    from ..engine.model import build_model
    from ..recipe.load import load_recipe

    recipe = load_recipe(text=recipe) if isinstance(recipe, str) else recipe
    recipe.validate(plugins)
    k = len(class_names)
    counts = [labels.count(i) for i in range(k)]
    torch.manual_seed(0)
    model = build_model(recipe, plugins, k)
    loss_fn = plugins.build("losses", recipe["loss"]["name"], recipe.plugin_params("loss", plugins), where="loss",
                            context={"num_classes": k, "class_counts": counts, "class_names": list(class_names)})
    sampler = plugins.build("samplers", recipe["sampler"]["name"], recipe.plugin_params("sampler", plugins),
                            where="sampler", context={"labels": list(labels), "num_classes": k,
                                                      "class_counts": counts, "seed": 0})
    ops = [plugins.build("augmentations", op["name"], {a: v for a, v in op.items() if a != "name"},
                         where=f"augment.ops[{i}]", context={"num_classes": k, "image_size": image_size})
           for i, op in enumerate(recipe["augment"]["ops"])]
    optimizer = plugins.build("optimizers", recipe["optim"]["name"], recipe.plugin_params("optim", plugins),
                              where="optim", context={"model": model})
    scheduler = plugins.build("schedulers", recipe["schedule"]["name"], recipe.plugin_params("schedule", plugins),
                              where="schedule", context={"optimizer": optimizer, "epochs": 2, "steps_per_epoch": 3})
    for part in (model.backbone, loss_fn, sampler, *ops):
        if callable(getattr(part, "on_epoch_start", None)):
            part.on_epoch_start(0)
    order = sampler.indices(0)
    idx = torch.tensor(list(order)[:batch])
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


def assert_one_step(kind: str, name: str, out: dict[str, Any], n_images: int, batch: int = 6,
                    image_size: int = SIZE) -> None:
    """What every entry of ``kind`` must have done in `train_one_step` (AssertionErrors naming it)."""
    from ..plugin.registry import singular

    what = f"{singular(kind)} '{name}'"
    k = out["num_classes"]
    assert out["logits"].shape == (batch, k), f"{what}: logits of shape {tuple(out['logits'].shape)}, not {(batch, k)}"
    loss = out["loss"]
    assert loss.dim() == 0 and math.isfinite(float(loss.detach())), f"{what}: the loss is not a finite scalar: {loss}"
    assert out["changed"] > 0, f"{what}: one optimiser step changed no trainable parameter"
    if kind == "augmentations":
        x, y = out["x"], out["y"]
        assert tuple(x.shape) == (batch, 3, image_size, image_size), f"{what}: changed the batch's shape to {tuple(x.shape)}"
        assert float(x.min()) >= 0 and float(x.max()) <= 1, f"{what}: images left the 0-1 range"
        if y.dim() == 2:  # soft targets: rows of the class count, summing to one
            assert tuple(y.shape) == (batch, k) and abs(float(y.sum(1).mean()) - 1) < 1e-5, \
                f"{what}: soft targets must be N×{k} rows summing to one"
    if kind == "samplers":
        sampler, order = out["sampler"], out["order"]
        assert list(order) == list(sampler.indices(0)), f"{what}: indices(epoch) must be deterministic"
        assert len(order) > 0 and all(0 <= int(i) < n_images for i in order), f"{what}: indices outside 0..{n_images - 1}"
    if kind == "schedulers" and out["scheduler"] is not None:
        assert isinstance(out["scheduler"].state_dict(), dict), f"{what}: state_dict() must be a dict (checkpointed)"


def _part_recipe(kind: str, name: str, params: dict[str, Any]) -> str:
    """A recipe whose table for ``kind`` names ``name`` with ``params``; the rest is default."""
    from ..recipe.load import dumps_toml

    sections: dict[str, Any] = {"data": {"image_size": SIZE}, "model": {"backbone": BASE_BACKBONE}}
    section, key = PARTS[kind]
    if kind == "augmentations":
        sections["augment"] = {"ops": [{"name": name, **params}]}
    else:
        sections[section] = {key: name, **params}
    return dumps_toml(sections)
