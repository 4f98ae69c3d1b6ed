"""``train.ema``: an exponential moving average of the weights, scored and offered for best.pt."""

from __future__ import annotations

from typing import Any

from ...callbacks import Callback, TrainState

__all__ = ["EmaCallback"]


class EmaCallback(Callback):
    """Updates `toolkit.engine.ema.ModelEma` after every optimiser step (``state.stepped``); after validation scores
    the average (``ema_val_loss``, ``ema_val_accuracy``, ``ema_val_macro_f1``) and offers its
    weights for best.pt (``metrics.weights = "ema"`` when they win). Saved under ``ema``."""

    checkpoint_key = "ema"

    def __init__(self, decay: float = 0.999):
        self.decay = float(decay)
        self.ema: Any = None
        self._saved: dict[str, Any] | None = None

    def _average(self, state: TrainState) -> Any:
        if self.ema is None:
            from ..ema import ModelEma

            self.ema = ModelEma(state.model, self.decay)
            if self._saved is not None:
                self.ema.load_state_dict(self._saved)
                self._saved = None
        return self.ema

    def on_train_start(self, state: TrainState) -> None:
        self._average(state)

    def on_train_batch_end(self, state: TrainState) -> None:
        if state.stepped:  # once per optimiser step, not per accumulated batch
            self._average(state).update(state.model)

    def on_validation_end(self, state: TrainState) -> None:
        module = self._average(state).module
        state.sync(module)  # every process scores rank 0's average
        state.metrics.update({f"ema_val_{k}": v for k, v in state.evaluate(module).items()})
        state.offer_weights("ema", module.state_dict)

    def state_dict(self) -> dict[str, Any] | None:
        return self.ema.state_dict() if self.ema is not None else self._saved

    def load_state_dict(self, saved: dict[str, Any] | None) -> None:
        if saved is not None:
            self._saved, self.ema = saved, None
