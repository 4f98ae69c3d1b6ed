"""The event hooks plugins outside the loop listen to: tk_run_start, tk_epoch_end, tk_run_end."""

from __future__ import annotations

from ...plugin.callbacks import Callback, TrainState

__all__ = ["EventHooks"]


class EventHooks(Callback):
    """Calls the ``tk_run_start``, ``tk_epoch_end`` and ``tk_run_end`` event hooks (rank 0): the
    read-only events plugins listen to. ``tk_checkpoint_saved`` comes with each save."""

    def on_train_start(self, state: TrainState) -> None:
        state.run.epoch = state.epoch
        state.emit("tk_run_start", run=state.run)

    def on_train_epoch_end(self, state: TrainState) -> None:
        state.emit("tk_epoch_end", run=state.run, epoch=state.epoch, metrics=state.metrics)

    def teardown(self, state: TrainState) -> None:
        state.emit("tk_run_end", run=state.run, status=state.status, metrics=state.final_metrics)
