"""``train.early_stopping``: stop when the monitored metric stops improving; restore its best weights."""

from __future__ import annotations

from typing import Any

from ...callbacks import Callback, TrainState
from ..early_stopping import EarlyStopping

__all__ = ["EarlyStoppingCallback"]


class EarlyStoppingCallback(Callback):
    """`toolkit.engine.early_stopping.EarlyStopping` at the end of each epoch; when the run ends
    stopped by it, the weights of the best monitored epoch are put back (``restore_best``).
    Saved under ``early_stopping`` (best.pt leaves out its copy of the best weights: only
    last.pt, which runs resume from, needs it)."""

    checkpoint_key = "early_stopping"

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

    def checkpoint_state(self, kind: str) -> dict[str, Any]:
        out = self.stopper.state_dict()
        if kind == "best":
            out["best_weights"] = None
        return out

    def state_dict(self) -> dict[str, Any]:
        return self.stopper.state_dict()

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.stopper.load_state_dict(saved or {})
