"""``train.early_stopping``: stop when the monitored metric stops improving; restore its best weights.

`EarlyStopping` watches one metric (``train.monitor``, default val_loss) in one direction
(``train.mode``). An epoch improves on the best when it beats it by more than ``min_delta``;
after ``patience`` epochs without improvement the run stops. With ``restore_best`` it keeps a
CPU copy of the weights of the best monitored epoch and loads them back when it stops, so the
final model is the best one, not the last, over-fitted one (the reference workload's
``restore_best_weights``). Its whole state, copy included, is the callback's ``state_dict``,
saved in last.pt, so a resumed run stops on the same epoch an uninterrupted one would.
`improves` and `metric_mode` also decide "is this better?" for best.pt.
"""

from __future__ import annotations

import math
from typing import Any

from ...plugin.callbacks import Callback, TrainState

__all__ = ["EarlyStopping", "EarlyStoppingCallback", "improves", "metric_mode"]


def metric_mode(name: str) -> str:
    """``"min"`` for losses (any name ending in ``loss``), ``"max"`` for everything else."""
    return "min" if name.endswith("loss") else "max"


def improves(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` in direction ``mode``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


class EarlyStopping:
    """Patience counter plus an optional copy of the best monitored weights."""

    def __init__(self, monitor: str, mode: str, patience: int, min_delta: float, *, enabled: bool = True,
                 restore_best: bool = True):
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, float(min_delta)
        self.enabled, self.restore_best = enabled, restore_best
        self.best: float | None = None
        self.best_epoch = 0  # epochs completed when the best was seen (1-based)
        self.wait = 0
        self.stopped = False
        self.best_weights: dict[str, Any] | None = None

    def update(self, epoch: int, metrics: dict[str, float], weights: Any) -> bool:
        """Record epoch ``epoch`` (1-based); return True when training should stop now.

        ``weights`` is a zero-argument callable returning the state_dict to keep when this
        epoch is the best (called only then, so no copy is made on other epochs).
        """
        value = metrics.get(self.monitor)
        if improves(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = float(value), epoch, 0
            if self.enabled and self.restore_best:
                self.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in weights().items()}
            return False
        self.wait += 1
        if self.enabled and self.wait >= self.patience:
            self.stopped = True
        return self.stopped

    def reason(self) -> str:
        return (f"early stopping: {self.monitor} has not improved by more than {self.min_delta:g} for "
                f"{self.wait} epochs (best {self.best:.4g} at epoch {self.best_epoch})")

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "mode": self.mode, "patience": self.patience, "min_delta": self.min_delta,
                "best": self.best, "best_epoch": self.best_epoch, "wait": self.wait, "stopped": self.stopped,
                "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore counters; a changed monitor or mode (resume with other keys) starts afresh."""
        if state.get("monitor") != self.monitor or state.get("mode") != self.mode:
            return
        self.best = state.get("best")
        self.best_epoch = int(state.get("best_epoch", 0))
        self.wait = int(state.get("wait", 0))
        self.stopped = bool(state.get("stopped", False))
        self.best_weights = state.get("best_weights")

    def allow_more(self) -> None:
        """A resumed run that was stopped gets a fresh patience window for its new epochs."""
        if self.stopped:
            self.stopped, self.wait = False, 0


class EarlyStoppingCallback(Callback):
    """`EarlyStopping` at the end of each epoch; when the run ends stopped by it, the weights of
    the best monitored epoch are put back (``restore_best``)."""

    def __init__(self, monitor: str = "val_loss", mode: str = "min", patience: int = 10, min_delta: float = 0.001,
                 enabled: bool = True, restore_best: bool = True):
        self.stopper = EarlyStopping(monitor, mode, int(patience), float(min_delta), enabled=bool(enabled),
                                     restore_best=bool(restore_best))

    def on_train_start(self, state: TrainState) -> None:
        if state.planned_epochs and state.epoch < state.epochs and state.epochs > state.planned_epochs:
            self.stopper.allow_more()  # resumed with more epochs: a fresh patience window
        if self.stopper.stopped:  # it had ended the run before a kill cut off the final save
            state.request_stop(self.stopper.reason())

    def on_train_epoch_end(self, state: TrainState) -> None:
        if self.stopper.update(state.epoch + 1, state.metrics, state.model.state_dict):
            state.request_stop(self.stopper.reason())

    def on_train_end(self, state: TrainState) -> None:
        s = self.stopper
        if state.status == "stopped" and s.stopped and s.restore_best and s.best_weights:
            state.model.load_state_dict(s.best_weights)
            state.info(f"Restored the weights of epoch {s.best_epoch} (best {s.monitor} {s.best:.4g}).")

    def state_dict(self) -> dict[str, Any]:
        return self.stopper.state_dict()

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.stopper.load_state_dict(saved or {})
