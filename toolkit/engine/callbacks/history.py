"""The history: every epoch's metrics, saved in each checkpoint and in history.jsonl."""

from __future__ import annotations

from ...plugin.callbacks import Callback, TrainState

__all__ = ["HistoryCallback"]


class HistoryCallback(Callback):
    """The epoch's metrics join the run's history (saved in every checkpoint) and history.jsonl."""

    def on_train_start(self, state: TrainState) -> None:
        state.write_history()  # a resumed run starts from its checkpoint's history

    def on_train_epoch_end(self, state: TrainState) -> None:
        state.history.append(state.metrics)
        state.write_history()
