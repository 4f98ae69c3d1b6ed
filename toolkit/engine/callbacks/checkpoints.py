"""``best.pt`` and ``last.pt``: which weights are the best so far, and the epoch's resume point."""

from __future__ import annotations

from typing import Any

from ...plugin.callbacks import Callback, TrainState
from .early_stopping import improves, metric_mode

__all__ = ["BestCheckpoint", "LastCheckpoint"]


class BestCheckpoint(Callback):
    """best.pt whenever ``train.best_metric`` improves. The candidate is the model's value, or —
    for a ``val_*`` metric — a callback's offered weights when theirs is better (``ema_val_*``,
    ``swa_val_*``); a metric named after offered weights (``ema_val_accuracy``) always picks
    those. ``metrics.weights`` in best.pt says whose weights it holds; its state (which metric,
    its best value, the epoch, whose weights) is what the report reads back from best.pt."""

    def __init__(self, metric: str = "val_accuracy"):
        self.best: dict[str, Any] = {"metric": metric, "value": None, "epoch": 0, "weights": "model"}

    def _candidate(self, state: TrainState) -> tuple[float | None, str]:
        name, metrics = self.best["metric"], state.metrics
        prefix = name.split("_", 1)[0]
        if prefix in state.offered or name.startswith("ema_"):
            return metrics.get(name), prefix  # None (not reported this epoch) is never best
        value, which = metrics.get(name), "model"
        if name.startswith("val_"):
            for other in state.offered:
                other_value = metrics.get(f"{other}_{name}")
                if other_value is not None and improves(other_value, value, metric_mode(name)):
                    value, which = other_value, other
        return value, which

    def on_train_epoch_end(self, state: TrainState) -> None:
        value, which = self._candidate(state)
        state.improved = improves(value, self.best["value"], metric_mode(self.best["metric"]))
        if state.improved:
            self.best.update(value=value, epoch=state.epoch + 1, weights=which)
            weights = state.offered[which]() if which in state.offered else None
            state.save("best", {**state.metrics, "weights": which, "best_metric": self.best["metric"],
                                "best_value": value}, weights)

    def state_dict(self) -> dict[str, Any]:
        return dict(self.best)

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.best.update({k: v for k, v in (saved or {}).items() if k in self.best})


class LastCheckpoint(Callback):
    """last.pt after every epoch: everything a resumed run needs, every callback's state with it
    (the callbacks before this one in the order have updated theirs for the epoch)."""

    def on_train_epoch_end(self, state: TrainState) -> None:
        state.save("last", state.metrics)
