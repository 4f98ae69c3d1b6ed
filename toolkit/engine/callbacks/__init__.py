"""tk's own training features, each a callback registered through `tk_register_callbacks`.

The trainer is the loop; what happens at its moments — the weight average, early stopping,
choosing and saving ``best.pt``, saving ``last.pt`` each epoch, the history, the event hooks and
the console's epoch line — are the callbacks below, built from the recipe's ``[train]`` keys
and run in this documented order around the recipe's own ``[[train.callbacks]]``:

1. ``threads`` (``train.threads = 0`` on the CPU, see `toolkit.core.threads`): gives torch's
   threads up to other processes between steps, and takes them back;
   ``ema`` (``train.ema``, ``ema_decay``): the average after every optimiser step, scored as
   ``ema_val_*`` and offered for ``best.pt``;
2. the recipe's callbacks, in the order it lists them;
3. ``history``: the epoch's metrics join the history and ``history.jsonl``;
4. ``early_stopping`` (``train.early_stopping``, ``monitor``, ``mode``, ``patience``,
   ``min_delta``, ``restore_best``);
5. ``best_checkpoint`` (``train.best_metric``): ``best.pt`` when the metric improves, from the
   model's weights or weights a callback offered;
6. ``last_checkpoint``: ``last.pt`` (every callback's state included: the ones above it in this
   list have updated theirs);
7. ``events``: the ``tk_run_start``, ``tk_epoch_end`` and (at ``teardown``) ``tk_run_end`` event hooks;
   then the loggers ``train.loggers`` names (callbacks built on rank 0, in that order);
8. ``epoch_line``: the one-line summary of the epoch.

After training, on rank 0, ``calibration`` (the ``[calibration]`` keys, listed right after
``ema``, so it runs before the recipe's callbacks) acts at ``on_final_evaluation``: temperature
scaling and the unknown threshold, fitted on best.pt's validation predictions.

They are registered through the ``tk`` entry point ``engine`` like any plugin and listed by
`tk plugins`; a recipe does not list them (their recipe keys are ``[train]``'s).
"""

from __future__ import annotations

import functools
from typing import Any

from ...plugin.callbacks import TrainState
from ...plugin.hookspecs import hookimpl
from .calibration import CalibrationCallback
from .checkpoints import BestCheckpoint, LastCheckpoint
from .early_stopping import EarlyStoppingCallback
from .ema import EmaCallback
from .epoch_line import EpochLine
from .events import EventHooks
from .history import HistoryCallback
from .threads import ThreadsCallback

__all__ = ["BUILTIN", "builtin_callbacks", "TrainState"]

BUILTIN = ("threads", "ema", "calibration", "history", "early_stopping", "best_checkpoint", "last_checkpoint", "events", "epoch_line")
"""The built-in callbacks' names; `builtin_callbacks` gives their order around the recipe's."""


def builtin_callbacks(recipe: Any, adapt_threads: int = 0) -> tuple[list[tuple[str, dict[str, Any]]],
                                                                    list[tuple[str, dict[str, Any]]]]:
    """``(before, after)``: the built-ins that run before the recipe's callbacks and after them,
    as ``(name, parameters)`` from the recipe's ``[train]`` keys (``adapt_threads``: the cores
    the thread governor may use, 0 when the thread count is fixed)."""
    t = recipe["train"]
    before = [("threads", {"cores": adapt_threads})] if adapt_threads > 1 else []
    before += [("ema", {"decay": t["ema_decay"]})] if t["ema"] else []
    before += [("calibration", dict(recipe["calibration"]))]
    after = [
        ("history", {}),
        ("early_stopping", {"monitor": t["monitor"], "mode": t["mode"], "patience": t["patience"],
                            "min_delta": t["min_delta"], "enabled": t["early_stopping"],
                            "restore_best": t["restore_best"]}),
        ("best_checkpoint", {"metric": t["best_metric"]}),
        ("last_checkpoint", {}),
        ("events", {}),
        ("epoch_line", {}),
    ]
    return before, after


@hookimpl
def tk_register_callbacks(register):
    register = functools.partial(register, builtin=True)  # set by [train] keys; a recipe may place or switch them off
    register("threads", ThreadsCallback, description="give CPU threads up to other processes, take them back")
    register("ema", EmaCallback, description="exponential moving average of the weights (train.ema)")
    register("calibration", CalibrationCallback,
             description="temperature scaling and the unknown threshold on best.pt's validation predictions")
    register("history", HistoryCallback, description="the epoch's metrics into the history and history.jsonl")
    register("early_stopping", EarlyStoppingCallback, description="stop when train.monitor stops improving")
    register("best_checkpoint", BestCheckpoint, description="best.pt when train.best_metric improves", required=True)
    register("last_checkpoint", LastCheckpoint, description="last.pt after every epoch (what --resume reads)",
             required=True)
    register("events", EventHooks, description="the tk_run_start, tk_epoch_end and tk_run_end event hooks")
    register("epoch_line", EpochLine, description="the console's one-line epoch summary")
