"""Every plugin kind, defined once: its hook, registry, recipe place, run context and what a factory returns.

The registries (`toolkit.plugin.manager`), the type check of what a factory made (`toolkit.plugin.registry`),
the recipe schema's plugin sections (`toolkit.recipe.schema`), `tk plugins --kind` and the
hook tables of `toolkit.plugin.hookspecs` are all derived from `KINDS`. Adding a kind is one entry
here plus its documented hookspec (tests/core/test_kinds.py checks the two agree: the hook
exists, its docstring's ``Context:`` line lists `PluginKind.context`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

COMMANDS_GROUP = "tk.commands"
"""Entry-point group where a distribution may declare `tk` commands without being imported to list
them (`toolkit.cli.plugin_commands`); switched off by the distribution's name."""

__all__ = ["PluginKind", "KINDS", "BY_NAME", "kind"]


def _module(made: Any) -> bool:
    import torch

    return isinstance(made, torch.nn.Module)


def _callback(made: Any) -> bool:
    from .callbacks import CALLBACK_METHODS

    return any(callable(getattr(made, m, None)) for m in (*CALLBACK_METHODS, "state_dict"))


EVENT_HOOK_NAMES = ("tk_run_start", "tk_epoch_end", "tk_checkpoint_saved", "tk_run_end")
"""The event hooks a tk 0.1/0.2-style logger object implements as methods."""


def _logger(made: Any) -> bool:
    """A logger is a callback (tk 0.3) or an object with event-hook methods (tk 0.1/0.2)."""
    return _callback(made) or any(callable(getattr(made, m, None)) for m in EVENT_HOOK_NAMES)


@dataclass(frozen=True)
class PluginKind:
    """One kind of plugin entry.

    ``recipe`` is where a recipe names an entry: ``"section.key"`` for a table that picks one
    plugin and passes it the table's other keys (``loss.name``), ``"section.key[]"`` for a list
    of tables each naming one (``augment.ops[]``), ``"section.key*"`` for a list of names
    (``train.loggers*``), or ``""`` when only commands choose (``export.formats*`` is the
    default list, options live in ``[export.NAME]``). ``returns`` says what a factory must
    return; ``made_ok`` checks it. ``built_to_check``: factories of this kind are cheap and have
    no effect outside the object they return, so one registered without ``check=`` that takes
    nothing from the run (no context but ``name``) is called once by the recipe checks, before any
    data is read, to run its own value checks (`toolkit.plugin.registry.Entry.check_params`).
    """

    name: str
    hook: str
    singular: str
    recipe: str
    context: tuple[str, ...]
    returns: str
    made_ok: Callable[[Any], bool]
    built_to_check: bool = False

    @property
    def section(self) -> str | None:
        """The recipe table of a one-plugin kind (``"loss"``), else None."""
        return self.recipe.split(".")[0] if self.recipe and self.recipe[-1] not in "]*" else None

    @property
    def key(self) -> str | None:
        """The key of that table naming the plugin (``"name"``), else None."""
        return self.recipe.split(".")[1] if self.section else None


KINDS: tuple[PluginKind, ...] = (
    PluginKind("backbones", "tk_register_backbones", "backbone", "model.backbone",
               ("num_classes", "image_size", "name"), "a torch.nn.Module", _module),
    PluginKind("augmentations", "tk_register_augmentations", "augmentation", "augment.ops[]",
               ("num_classes", "image_size", "name"), "a callable", callable, built_to_check=True),
    PluginKind("losses", "tk_register_losses", "loss", "loss.name",
               ("num_classes", "class_counts", "class_names", "name"), "a callable", callable, built_to_check=True),
    PluginKind("samplers", "tk_register_samplers", "sampler", "sampler.name",
               ("labels", "num_classes", "class_counts", "seed", "name"), "an object with indices(epoch)",
               lambda made: callable(getattr(made, "indices", None)), built_to_check=True),
    PluginKind("optimizers", "tk_register_optimizers", "optimizer", "optim.name", ("model", "name"),
               "a torch.optim.Optimizer",
               lambda made: callable(getattr(made, "step", None)) and hasattr(made, "param_groups")),
    PluginKind("schedulers", "tk_register_schedulers", "scheduler", "schedule.name",
               ("optimizer", "epochs", "steps_per_epoch", "name"), "a torch LR scheduler or None",
               lambda made: made is None or callable(getattr(made, "step", None))),
    PluginKind("exporters", "tk_register_exporters", "exporter", "export.formats*", ("name",), "an exporter object",
               lambda made: callable(getattr(made, "export", None)) and hasattr(made, "suffix")),
    PluginKind("datasets", "tk_register_datasets", "dataset", "data.source", ("root", "seed", "cache_dir", "name"),
               "a toolkit.data.FolderIndex", lambda made: hasattr(made, "samples") and hasattr(made, "class_names")),
    PluginKind("loggers", "tk_register_loggers", "logger", "train.loggers*", ("run_dir", "recipe", "name"),
               "a callback (see toolkit.Callback) or an object with event-hook methods", _logger),
    PluginKind("callbacks", "tk_register_callbacks", "callback", "train.callbacks[]", ("name",),
               "a callback (an object with on_train_epoch_end … methods; see toolkit.Callback)", _callback,
               built_to_check=True),
)
"""The kinds, in the order `tk plugins` lists them."""

BY_NAME: dict[str, PluginKind] = {k.name: k for k in KINDS}


def kind(name: str) -> PluginKind:
    """The kind called ``name`` (``"losses"``); KeyError for an unknown one."""
    return BY_NAME[name]
