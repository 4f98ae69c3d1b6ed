"""Every hook a tk plugin can implement, in the order a run meets them.

A plugin is any module or object with functions decorated by `toolkit.hookimpl` whose names
are hook names below. tk finds plugins through the `tk` entry-point group (first-party plugins
are registered there exactly like third-party ones), through `[plugins] modules = [...]` in a
recipe, and, for a run, through logger objects the recipe asks for.

There are two families:

* **Registration hooks** (`tk_register_*`) are called once per plugin when the plugin manager
  is built. Each receives one argument, ``register``; calling ``register(name, factory,
  **info)`` adds a named factory to that kind's registry, recorded as coming from this plugin.
  A factory is any callable. tk calls it with the keyword arguments from the recipe table that
  names it, plus any *context* value the factory declares by parameter name (listed per hook
  below; every kind also offers ``name``, the name the recipe asked for). So
  ``def make_focal(gamma=2.0, class_counts=None)`` receives ``gamma`` from the recipe and
  ``class_counts`` from the run. Recipe keys a factory does not declare are an error that lists
  the accepted ones, so a factory's signature *is* its documentation: give every parameter a
  default and a type hint. Import heavy libraries (torch, timm) inside the factory, not at the
  top of the plugin module, so that `tk --help` and `tk recipes check` stay fast.

  ``info`` keys understood by tk: ``description`` (one line for `tk plugins`) and
  ``resolve`` (a callable ``resolve(name) -> bool``: the entry also answers for names it
  accepts, e.g. any timm architecture) with ``suggest`` (``suggest(name) -> list[str]``, close
  names for "did you mean") and ``list_models`` (``list_models(pattern, pretrained) ->
  list[str]``, what `tk models` lists for such an entry); ``example`` (recipe parameters the
  registry-generated catalog test and `toolkit.testing.check_every_entry` build the entry with;
  ``"{images}"``, ``"{checkpoint}"``, ``"{run}"`` stand for test files) and ``example_name`` (a
  name it answers for, used by those tests for a resolving entry); ``check`` (a callable that
  raises `RecipeError` for a bad value without building anything: `tk recipes check` and
  `tk run` call it before any data is read, so a value the factory would refuse fails in a
  second, not after decoding; it is called ``check(**values)``, keyword arguments only: the
  factory's recipe parameters at their defaults with the recipe's values over them, limited to
  the names its signature declares unless it takes ``**kwargs``, never run context; anything
  it raises but a `TkError` is reported as the plugin's bug, naming it); ``metrics`` (callbacks:
  the metric names it adds, shown on the epoch and ``Best:`` lines and allowed in
  ``train.best_metric``/``train.monitor``). Non-finite numbers
  (``nan``, ``inf``) are refused for every parameter before the factory sees them.

  **Parts that change with the epoch.** The objects these factories return may define
  ``on_epoch_start(epoch)``: the engine calls it before every epoch, with the 0-based index of
  the epoch about to be trained, on the backbone module, the loss, the sampler and each
  augmentation op (see `toolkit.engine.components.call_epoch_start`). This is how a backbone
  freezes and then unfreezes (``unfreeze_at_epoch = 5`` trains epochs 0–4 frozen), or a loss or
  augmentation ramps its strength, without the engine knowing about it. It is also called for
  the first epoch after a resume, so derive the state from ``epoch`` alone, never from the
  number of calls.

* **Event hooks** (`tk_run_start`, `tk_epoch_end`, `tk_checkpoint_saved`, `tk_run_end`) are
  called during a run with a ``run`` object (see `toolkit.engine.run.RunInfo`): its ``dir``,
  ``recipe`` (the `toolkit.recipe.load.Recipe`), ``class_names``, ``rank``, ``world_size``, ``epoch``,
  ``device`` and ``request_stop(reason)`` to end training after the current epoch. They are
  read-only notices for plugins outside the loop (tk's ``events`` callback sends them); loggers
  and anything that acts in the loop are callbacks. An exception raised in an event hook stops the run with an error
  naming the plugin (a ``KeyboardInterrupt`` is treated like Ctrl-C: the run is interrupted and
  resumable).
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

from .kinds import EVENT_HOOK_NAMES, KINDS

hookspec = pluggy.HookspecMarker("tk")

hookimpl = pluggy.HookimplMarker("tk")
"""Marks a plugin function as the implementation of the tk hook of the same name.

Plugins import it as `toolkit.hookimpl`; it lives here, beside the specs, so that tk's own
modules below the facade (the engine's callbacks) can mark hooks without importing the facade.
"""

Register = Callable[..., None]

# ---------------------------------------------------------------------------------------------
# Registration: called once per plugin while the plugin manager is built
# ---------------------------------------------------------------------------------------------


@hookspec
def tk_register_backbones(register: Register) -> None:
    """Register model factories (`[model] backbone = NAME`).

    A factory returns a ``torch.nn.Module`` mapping a float batch ``N×3×H×W`` (already
    normalised) to logits ``N×num_classes``. tk wraps it so that the model it trains and exports
    takes RGB values in 0–1 and normalises inside; the mean/std come from the module's
    ``pretrained_cfg`` (timm's convention) or default to ImageNet's. A module with
    ``on_epoch_start(epoch)`` is called before each epoch (freezing schedules; see above). The
    optimiser is built once, over all parameters, frozen ones included, so a module that
    unfreezes later is trained from then on.

    Context: ``num_classes``, ``image_size``, ``name``.

    Added in 0.1.
    """


@hookspec
def tk_register_augmentations(register: Register) -> None:
    """Register batch augmentations (`[[augment.ops]] name = NAME`).

    A factory returns a callable ``op(images, targets) -> (images, targets)`` run on whole
    batches on the training device: ``images`` is float ``N×3×H×W`` in 0–1, ``targets`` either
    class indices ``N`` (int64) or soft targets ``N×num_classes`` (mixup, cutmix). Randomness is
    per sample and drawn from torch's global generator, which tk seeds and checkpoints, so a
    resumed run repeats exactly. Ops run in recipe order, on training batches only. An op
    object may define ``on_epoch_start(epoch)``.

    Context: ``num_classes``, ``image_size``, ``name``.

    Added in 0.1.
    """


@hookspec
def tk_register_losses(register: Register) -> None:
    """Register loss factories (`[loss] name = NAME`).

    A factory returns a callable ``loss(logits, targets) -> scalar tensor``; ``targets`` are
    class indices or soft targets (see augmentations). A loss object with attribute
    ``needs_inputs = True`` is called ``loss(logits, targets, inputs)`` instead (distillation
    runs a teacher on the inputs). The same loss gives ``val_loss`` (in eval mode, class
    indices as targets), so train and validation losses are comparable. A loss that is a
    ``torch.nn.Module`` is moved to the training device; it may define ``on_epoch_start(epoch)``.

    Context: ``num_classes``, ``class_counts`` (training images per class, in class order, for
    weights such as ``w_i = N / (K * n_i)``), ``class_names``, ``name``.

    Added in 0.1.
    """


@hookspec
def tk_register_samplers(register: Register) -> None:
    """Register training samplers (`[sampler] name = NAME`).

    A factory returns an object with ``indices(epoch) -> list[int]``: the order (with or
    without repetition) in which the training set is visited that epoch, deterministic given
    ``seed`` and ``epoch`` (``epoch`` is 0-based; a resumed run asks again for the epoch it
    resumes at and must get the same list). Distributed runs shard this list across processes
    (strided, padded to equal length), so every sampler works data-parallel without extra code.
    The length of ``indices(0)`` sets the number of steps per epoch the schedule is built for.

    Context: ``labels`` (training labels), ``num_classes``, ``class_counts``, ``seed``, ``name``.

    Added in 0.1.
    """


@hookspec
def tk_register_optimizers(register: Register) -> None:
    """Register optimiser factories (`[optim] name = NAME`).

    A factory returns a ``torch.optim.Optimizer``.

    Context: ``model`` (the module being trained; use `toolkit.param_groups` for groups without
    weight decay on norms and biases), ``name``.

    Added in 0.1.
    """


@hookspec
def tk_register_schedulers(register: Register) -> None:
    """Register learning-rate schedules (`[schedule] name = NAME`).

    A factory returns a torch LR scheduler (or ``None`` for a constant rate). tk steps it once
    per epoch, after validation, or once per optimiser step when the object has
    ``tk_interval = "step"``; a ``ReduceLROnPlateau`` is stepped after validation with the value
    of the monitored metric (``train.monitor``, default ``val_loss``; give the schedule the same
    ``mode`` as ``train.mode``). Its state is saved in every checkpoint and restored on resume.
    ``steps_per_epoch`` counts optimiser steps (after ``train.accumulate``) of one process.

    Context: ``optimizer``, ``epochs``, ``steps_per_epoch``, ``name``.

    Added in 0.1.
    """


@hookspec
def tk_register_exporters(register: Register) -> None:
    """Register model exporters (`tk export --format NAME`, `[export] formats = [...]`).

    A factory returns an exporter object; see `toolkit.export` for the methods tk calls
    (``export(...)`` writes the model file; ``load(path)`` returns a predictor for parity
    checks, `tk predict` and `tk bench`).

    Context: ``name``.

    Added in 0.1.
    """


@hookspec
def tk_register_datasets(register: Register) -> None:
    """Register dataset sources (`[data] source = NAME`).

    A factory returns a `toolkit.data.FolderIndex` (class names, ``(path, label)`` samples,
    optional pre-made splits): either by scanning a folder with `toolkit.data.scan_folder` or by
    writing images somewhere first (a generated dataset) and scanning that.

    Context: ``root`` (``data.root`` resolved against the recipe's folder, or ``None``),
    ``seed``, ``cache_dir``, ``name``.

    Added in 0.1.
    """


@hookspec
def tk_register_loggers(register: Register) -> None:
    """Register run loggers (`[train] loggers = [NAME, ...]`).

    A factory returns a callback (any methods of `toolkit.Callback`: typically ``on_train_start``
    to open, ``on_train_epoch_end`` to log ``state.metrics`` at ``state.epoch``, ``teardown`` to
    close with ``state.status`` and ``state.final_metrics``). tk builds loggers on the process of
    rank 0 only and runs them right after its ``events`` callback (after ``last.pt`` is written),
    in the order ``train.loggers`` lists them; an exception in one is one line naming it. An
    object implementing the event hooks below as `toolkit.hookimpl` methods (tk 0.1/0.2's
    loggers) still works: tk registers it for the length of the run.

    Context: ``run_dir``, ``recipe``, ``name``.

    Added in 0.1; callbacks as loggers in 0.3.
    """


@hookspec
def tk_register_callbacks(register: Register) -> None:
    """Register training-loop callbacks (`[[train.callbacks]]` tables: ``name`` and parameters).

    A factory returns a callback: an object with any of the methods of `toolkit.Callback`
    (Lightning's moments: ``on_train_start``, ``on_train_batch_start``, ``on_after_backward``,
    ``on_before_optimizer_step``, ``on_train_batch_end``, ``on_validation_batch_end``,
    ``on_validation_end``, ``on_save_checkpoint``, ``on_exception`` …; `toolkit.plugin.callbacks` lists
    them all with what the run's `toolkit.TrainState` holds at each), plus
    ``state_dict()``/``load_state_dict(d)``, saved in ``last.pt`` so a resumed run goes on
    exactly). They are called on every process, in the order the recipe lists them; see
    `toolkit.plugin.callbacks` for when each runs. ``register(..., metrics=[...])`` names the metrics
    the callback adds (``swa_val_accuracy`` …), so ``train.best_metric`` and ``train.monitor``
    may name them. A recipe may list a callback once; ``register(..., repeatable=True)`` says
    that copies with other parameters can run side by side (they then must not share state or
    metric names).

    Context: ``name``.

    Added in 0.2.
    """


# ---------------------------------------------------------------------------------------------
# Commands: added to the `tk` command line
# ---------------------------------------------------------------------------------------------


@hookspec
def tk_register_commands(cli: Any) -> None:
    """Add subcommands to the `tk` click group (``cli.add_command(my_command)``).

    ``cli`` is a click group that collects them. Called in two cases only: when tk rebuilds its
    cached list of plugin commands (the installed distributions or a plugin's module file
    changed; see `toolkit.cli.plugin_commands`), and when one of this plugin's commands runs —
    then only this plugin is imported. ``tk --help`` and shell completion otherwise read names and
    help from the cache and import no plugin. A command named like one of tk's is ignored (tk's
    wins) and reported by `tk plugins`. A distribution can instead declare its commands in the
    ``tk.commands`` entry-point group (``name = "pkg.module:command"``); it is then never
    imported to list them.

    Added in 0.2.
    """


# ---------------------------------------------------------------------------------------------
# Events: called during a run (only on the process of rank 0 in a distributed run)
# ---------------------------------------------------------------------------------------------


@hookspec
def tk_run_start(run: Any) -> None:
    """The run folder exists and training is about to begin (or resume).

    ``run.epoch`` is the first epoch to train (0-based; > 0 when resuming). ``run.dir`` already
    holds ``recipe.toml`` and ``split.json``; it comes before any ``tk_checkpoint_saved`` of
    the run (a new run writes its first ``last.pt``, of the untrained model, right after).

    Added in 0.1.
    """


@hookspec
def tk_epoch_end(run: Any, epoch: int, metrics: dict[str, float]) -> None:
    """An epoch finished and was evaluated.

    ``epoch`` is the 0-based index of the epoch that ended (``metrics["epoch"]`` is the
    1-based count the console and history.jsonl show). ``metrics`` holds at least
    ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``, ``val_macro_f1``, ``lr``
    (the rate the epoch started with), ``epoch_time`` (seconds), ``images_per_sec`` and
    ``global_step``; with ``train.ema`` also ``ema_val_loss``, ``ema_val_accuracy`` and
    ``ema_val_macro_f1``. The epoch's checkpoints are already written. Call
    ``run.request_stop(reason)`` to end training after this epoch (hyperparameter-search
    pruning does this).

    Added in 0.1.
    """


@hookspec
def tk_checkpoint_saved(run: Any, path: Any, kind: str) -> None:
    """A checkpoint was written atomically; ``kind`` is ``"last"`` or ``"best"``.

    Added in 0.1.
    """


@hookspec
def tk_run_end(run: Any, status: str, metrics: dict[str, Any]) -> None:
    """The run ended; ``status`` is ``"finished"``, ``"stopped"`` (early stopping or a
    plugin's request), ``"interrupted"`` or ``"failed"``. ``metrics`` holds the final
    evaluation of ``best.pt`` on the validation split, as in ``metrics.json`` (empty unless
    ``status`` is finished or stopped).

    Added in 0.1.
    """


REGISTRATION_HOOKS: dict[str, str] = {k.name: k.hook for k in KINDS}
"""Registry kind → the hook that fills it (derived from `toolkit.plugin.kinds.KINDS`)."""

CONTEXT: dict[str, tuple[str, ...]] = {k.name: k.context for k in KINDS}
"""Registry kind → run values a factory may declare by parameter name (never recipe keys;
derived from `toolkit.plugin.kinds.KINDS`)."""

EVENT_HOOKS: tuple[str, ...] = EVENT_HOOK_NAMES
