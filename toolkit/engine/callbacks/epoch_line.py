"""The console's one-line summary of each epoch."""

from __future__ import annotations

from ...plugin.callbacks import Callback, TrainState

__all__ = ["EpochLine"]


class EpochLine(Callback):
    """The epoch's one-line summary in the console (``* best`` when best.pt was written)."""

    def on_train_epoch_end(self, state: TrainState) -> None:
        state.log_epoch(state.epoch + 1, state.epochs, state.metrics, state.improved)
