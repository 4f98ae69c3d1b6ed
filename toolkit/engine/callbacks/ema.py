"""``train.ema``: an exponential moving average of the model's weights, scored and offered for best.pt.

After every optimiser step ``ema = d * ema + (1 - d) * weights`` for floating-point parameters
and buffers (integer buffers such as BatchNorm's counter are copied). The decay warms up as
``d = min(ema_decay, (1 + n) / (10 + n))`` after ``n`` updates: with a fixed 0.999 the average
of a short run would still be mostly the random initial weights. The callback evaluates the
average after each validation (``ema_val_*`` metrics) and offers its weights for best.pt,
which holds them when they score better (``metrics.weights = "ema"``).
"""

from __future__ import annotations

import copy
from typing import Any

from ...plugin.callbacks import Callback, TrainState

__all__ = ["EmaCallback", "ModelEma"]


class ModelEma:
    """A frozen copy of the model, nudged toward the live weights after each step."""

    def __init__(self, model: Any, decay: float):
        self.decay = float(decay)
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    def update(self, model: Any) -> None:
        import torch

        d = self.current_decay()
        self.updates += 1
        with torch.no_grad():
            live = model.state_dict()
            for name, avg in self.module.state_dict().items():
                value = live[name].detach()
                if avg.dtype.is_floating_point:
                    avg.mul_(d).add_(value.to(avg.dtype), alpha=1 - d)
                else:
                    avg.copy_(value)

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "decay": self.decay, "model": self.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        self.module.load_state_dict(state["model"])


class EmaCallback(Callback):
    """Updates `toolkit.engine.ema.ModelEma` after every optimiser step (``state.stepped``); after validation scores
    the average (``ema_val_loss``, ``ema_val_accuracy``, ``ema_val_macro_f1``) and offers its
    weights for best.pt (``metrics.weights = "ema"`` when they win)."""

    def __init__(self, decay: float = 0.999):
        self.decay = float(decay)
        self.ema: Any = None
        self._saved: dict[str, Any] | None = None

    def _average(self, state: TrainState) -> Any:
        if self.ema is None:
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
