"""Build a run's parts from the registries: model, loss, sampler, augmentations, optimiser, schedule.

Each part is created by name through `Plugins.build` (create, then check the type it returns),
with the recipe table's keys and the run context the hookspecs promise
(`toolkit.plugin.hookspecs.CONTEXT`): the loss gets the training
split's ``class_counts`` (for ``w_i = N / (K · n_i)``), the sampler the training labels and the
seed, the schedule the number of optimiser steps per epoch — which depends on the sampler's
epoch length, the batch size, the number of processes and ``train.accumulate``, so it is
computed here, once, for every schedule plugin.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

from ..core.errors import TkError
from ..plugin.blame import part_failure
from ..recipe.schema import LOOP_METRICS
from .loop import batch_count

__all__ = ["Components", "build_components", "steps_per_epoch", "call_epoch_start", "KNOWN_METRICS", "declared_metrics"]

KNOWN_METRICS = LOOP_METRICS
"""Metrics ``train.best_metric`` and ``train.monitor`` may name (``ema_val_*`` too with train.ema)."""


def declared_metrics(recipe: Any, plugins: Any | None) -> list[str]:
    """The metrics the recipe's callbacks declare (``register(..., metrics=[...])``), in recipe order:
    what the epoch line, the final ``Best:`` line and ``train.best_metric``/``train.monitor`` know
    beyond the loop's own."""
    found: list[str] = []
    if plugins is None:
        return found
    for cb in recipe["train"]["callbacks"]:
        name = cb.get("name") if isinstance(cb, dict) else None
        entry = plugins.registry("callbacks").find(name) if isinstance(name, str) else None
        for metric in (entry.info.get("metrics") or []) if entry is not None else []:
            if str(metric) not in found:
                found.append(str(metric))
    return found


def check_metric_keys(recipe: Any, plugins: Any | None = None) -> None:
    """``train.best_metric`` / ``train.monitor`` must name a metric the run reports: the loop's,
    the EMA's when ``train.ema`` is on, and those the recipe's callbacks declare (``metrics=``
    at registration); a misspelt one gets "did you mean", also among the metrics that callbacks
    not in the recipe would add (then naming the callback to list)."""
    import difflib

    train = recipe["train"]
    allowed = list(KNOWN_METRICS) + ([f"ema_{m}" for m in KNOWN_METRICS if m.startswith("val_")] if train["ema"] else [])
    allowed += [m for m in declared_metrics(recipe, plugins) if m not in allowed]
    for key in ("best_metric", "monitor"):
        asked = train[key]
        if asked in allowed:
            continue
        elsewhere = _metric_sources(plugins, train["ema"])
        close = difflib.get_close_matches(str(asked), allowed + [m for m in elsewhere if m not in allowed], n=1)
        if asked in elsewhere:
            hint = f" It comes from {elsewhere[asked]}, which the recipe does not list."
        elif close and close[0] in allowed:
            hint = f" Did you mean {close[0]!r}?"
        elif close:
            hint = f" Did you mean {close[0]!r}? It comes from {elsewhere[close[0]]}, which the recipe does not list."
        else:
            hint = ""
        raise recipe.error("train", key, f"unknown metric {asked!r}.{hint} Choose one of {', '.join(allowed)}.")


def _metric_sources(plugins: Any | None, ema: bool) -> dict[str, str]:
    """Every metric some run could report, and what adds it: ``train.ema`` or a callback (by plugin)."""
    out = {} if ema else {f"ema_{m}": "train.ema = true" for m in KNOWN_METRICS if m.startswith("val_")}
    if plugins is not None:
        for entry in plugins.registry("callbacks"):
            for metric in entry.info.get("metrics") or []:
                out.setdefault(str(metric), f"the callback '{entry.name}' ({entry.origin})")
    return out


def preflight(recipe: Any, plugins: Any) -> None:
    """What this machine must provide for the run's parts, checked before any data is read: each
    chosen entry's ``preflight`` callable (registration info), called with the recipe table's
    parameters over the factory's defaults (paths resolved) and ``name``, raises one `TkError` line
    when something is missing
    (tk_timm: pretrained weights neither cached nor downloadable, found in a second or two). Run by
    `tk run` and ``--dry-run``; `tk recipes check` checks the recipe alone and does not call it."""
    from ..recipe.schema import SCHEMA

    for section, spec in SCHEMA.items():
        if spec.plugin is None:
            continue
        name = recipe[section][spec.plugin]
        entry = plugins.registry(spec.kind).find(name)
        check = entry.info.get("preflight") if entry is not None else None
        if callable(check):
            values = {p.name: p.default for p in entry.params() if not p.required}
            values.update(recipe.plugin_params(section, plugins), name=name)
            wanted = inspect.signature(check).parameters
            if not any(q.kind is q.VAR_KEYWORD for q in wanted.values()):
                values = {k: v for k, v in values.items() if k in wanted}
            check(**values)


@dataclass
class Components:
    """The trainable parts of a run."""

    model: Any
    loss_fn: Any
    sampler: Any
    ops: list[Any]
    optimizer: Any
    scheduler: Any
    steps_per_epoch: int


def steps_per_epoch(epoch_length: int, batch_size: int, world_size: int, accumulate: int) -> int:
    """Optimiser steps in one epoch of ``epoch_length`` samples (the sampler's length)."""
    per_rank = math.ceil(epoch_length / max(1, world_size))
    batches = batch_count(per_rank, batch_size)
    return max(1, math.ceil(batches / accumulate))


def build_components(recipe: Any, plugins: Any, *, class_names: list[str], train_labels: list[int],
                     class_counts: list[int], device: Any, world_size: int = 1) -> Components:
    """Create every part; the model is moved to ``device`` before the optimiser sees it."""
    from .model import build_model

    train = recipe["train"]
    k = len(class_names)
    model = build_model(recipe, plugins, k).to(device)
    loss_fn = plugins.build("losses", recipe["loss"]["name"], recipe.plugin_params("loss", plugins), where="loss",
                            context={"num_classes": k, "class_counts": list(class_counts),
                                     "class_names": list(class_names)})
    if hasattr(loss_fn, "to"):
        loss_fn = loss_fn.to(device)
    sampler = plugins.build("samplers", recipe["sampler"]["name"], recipe.plugin_params("sampler", plugins), where="sampler",
                            context={"labels": list(train_labels), "num_classes": k,
                                     "class_counts": list(class_counts), "seed": train["seed"]})
    from .model import _context_size

    image_size = _context_size(recipe["data"]["image_size"])
    ops = []
    for i, op in enumerate(recipe["augment"]["ops"]):
        params = {key: v for key, v in op.items() if key != "name"}
        ops.append(plugins.build("augmentations", op["name"], params, where=f"augment.ops[{i}]",
                                 context={"num_classes": k, "image_size": image_size}))
    optimizer = plugins.build("optimizers", recipe["optim"]["name"], recipe.plugin_params("optim", plugins), where="optim",
                              context={"model": model})
    steps = steps_per_epoch(len(sampler.indices(0)), train["batch_size"], world_size, train["accumulate"])
    scheduler = plugins.build("schedulers", recipe["schedule"]["name"], recipe.plugin_params("schedule", plugins),
                              where="schedule", context={"optimizer": optimizer, "epochs": train["epochs"],
                                                         "steps_per_epoch": steps})
    return Components(model, loss_fn, sampler, ops, optimizer, scheduler, steps)


def is_plateau(scheduler: Any) -> bool:
    """A ReduceLROnPlateau-style schedule: stepped with the monitored metric."""
    import torch

    return isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)


def call_epoch_start(epoch: int, comps: Components) -> None:
    """Call ``on_epoch_start(epoch)`` (0-based) on the parts that define it.

    This is how parts change with the epoch without the engine knowing them: a backbone
    freezes or unfreezes (``unfreeze_at_epoch``), a loss or an augmentation ramps its
    strength, a sampler switches strategy. Called before every epoch, the first one after a
    resume included, so a part must derive its state from ``epoch`` alone.
    """
    seen: set[int] = set()
    candidates = [getattr(comps.model, "backbone", None), comps.model, comps.loss_fn, comps.sampler, *comps.ops]
    for part in candidates:
        if part is None or id(part) in seen:
            continue
        seen.add(id(part))
        hook = getattr(part, "on_epoch_start", None)
        if callable(hook):
            try:
                hook(epoch)
            except (KeyboardInterrupt, TkError):
                raise
            except Exception as exc:  # a plugin's part (`toolkit.plugin.blame`): one line naming it
                raise part_failure(getattr(part, "tk_label", None) or type(part).__name__, exc, "on_epoch_start") from exc
