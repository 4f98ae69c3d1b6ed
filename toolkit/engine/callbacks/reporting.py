"""What an epoch leaves for people and other tools: the history, the event hooks, the epoch line."""

from __future__ import annotations

from ...callbacks import Callback, TrainState

__all__ = ["HistoryCallback", "EventHooks", "EpochLine"]


class HistoryCallback(Callback):
    """The epoch's metrics join the run's history (saved in every checkpoint) and history.jsonl."""

    def on_train_start(self, state: TrainState) -> None:
        state.write_history()  # a resumed run starts from its checkpoint's history

    def on_train_epoch_end(self, state: TrainState) -> None:
        state.history.append(state.metrics)
        state.write_history()


class EventHooks(Callback):
    """Calls the ``tk_run_start`` and ``tk_epoch_end`` event hooks (rank 0): the read-only events
    plugins and loggers listen to. ``tk_checkpoint_saved`` comes with each save."""

    def on_train_start(self, state: TrainState) -> None:
        state.run.epoch = state.epoch
        state.emit("tk_run_start", run=state.run)

    def on_train_epoch_end(self, state: TrainState) -> None:
        state.emit("tk_epoch_end", run=state.run, epoch=state.epoch, metrics=state.metrics)


class EpochLine(Callback):
    """The epoch's one-line summary in the console (``* best`` when best.pt was written)."""

    def on_train_epoch_end(self, state: TrainState) -> None:
        state.log_epoch(state.epoch + 1, state.epochs, state.metrics, state.improved)
