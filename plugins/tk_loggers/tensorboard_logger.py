"""TensorBoard: one event-file folder per run, ``<run>/tensorboard``.

Every epoch's numeric metrics become scalars at step ``epoch`` under their tk names
(``train_loss``, ``val_accuracy``, ``lr`` …), so ``tensorboard --logdir runs`` compares runs
side by side. The resolved recipe is written once as text. Every run passes its first epoch as
``purge_step``: TensorBoard then drops any steps an interrupted run logged after its last
checkpoint (or, for a run started ``--fresh`` in the same folder, the replaced run's), and the
curves show each epoch once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from toolkit import Callback, TrainState

from ._common import recipe_sections, require, scalars


class TensorBoardLogger(Callback):
    """Writes scalars through ``torch.utils.tensorboard.SummaryWriter`` (a callback, rank 0 only)."""

    def __init__(self, log_dir: Path, recipe: Any = None):
        self.log_dir = Path(log_dir)
        self.recipe = recipe
        self.writer = None  # opened at run start: only the process that gets events writes files

    def on_train_start(self, state: TrainState) -> None:
        from torch.utils.tensorboard import SummaryWriter

        first_epoch = int(state.epoch)
        # purge_step: TensorBoard drops steps >= it from earlier files in this folder, i.e. what an
        # interrupted run logged past its checkpoint, or a whole earlier run replaced by --fresh.
        self.writer = SummaryWriter(log_dir=str(self.log_dir), purge_step=first_epoch)
        if first_epoch == 0 and self.recipe is not None:
            from toolkit import dumps_toml

            self.writer.add_text("recipe", "```toml\n" + dumps_toml(recipe_sections(self.recipe)) + "\n```", 0)

    def on_train_epoch_end(self, state: TrainState) -> None:
        if self.writer is None:
            return
        for key, value in scalars(state.metrics).items():
            self.writer.add_scalar(key, value, global_step=int(state.epoch))
        self.writer.flush()

    def teardown(self, state: TrainState) -> None:
        if self.writer is None:
            return
        self.writer.add_text("status", state.status, 0)
        self.writer.close()
        self.writer = None


def tensorboard_logger(run_dir: Path, recipe: Any = None) -> TensorBoardLogger:
    """Scalars per epoch as TensorBoard event files in <run>/tensorboard."""
    require("tensorboard", "tensorboard", "tensorboard")
    return TensorBoardLogger(Path(run_dir) / "tensorboard", recipe)
