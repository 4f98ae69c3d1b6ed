"""An exponential moving average of the model's weights (``train.ema``).

After every optimiser step ``ema = d * ema + (1 - d) * weights`` for floating-point parameters
and buffers (integer buffers such as BatchNorm's counter are copied). The decay warms up as
``d = min(ema_decay, (1 + n) / (10 + n))`` after ``n`` updates: with a fixed 0.999 the average
of a short run would still be mostly the random initial weights. The trainer evaluates the
average separately each epoch (``ema_val_*`` metrics) and, when its ``train.best_metric`` beats
the raw weights', saves the averaged weights as best.pt (see `toolkit.engine.trainer`).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["ModelEma"]


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
