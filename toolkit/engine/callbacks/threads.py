"""``train.threads = 0``: torch's CPU threads follow what other processes leave free (`toolkit.core.threads`)."""

from __future__ import annotations

from ...core.threads import ThreadGovernor
from ...plugin.callbacks import Callback, TrainState

__all__ = ["ThreadsCallback"]


class ThreadsCallback(Callback):
    """`ThreadGovernor.tick` after every optimiser step (it looks every 2 s at most), measuring
    from the start of each epoch: what ran between epochs — validation, checkpoints, the event
    hooks and whatever a plugin ran in them — does not take threads from the next epoch."""

    def __init__(self, cores: int = 2):
        self.governor = ThreadGovernor(int(cores))

    def on_train_epoch_start(self, state: TrainState) -> None:
        self.governor.restart()

    def on_train_batch_end(self, state: TrainState) -> None:
        self.governor.tick()
