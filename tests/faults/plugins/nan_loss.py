"""Recipe-local test plugin: cross-entropy that turns NaN (or inf) at one chosen training batch.

``[loss] name = "nan_at"; epoch = 2; batch = 3`` (1-based, as tk's messages count) makes the
third training batch of the second epoch return NaN; evaluation passes are left alone.
"""

from __future__ import annotations

from toolkit import hookimpl


def nan_at(num_classes: int, epoch: int = 2, batch: int = 3, value: str = "nan"):
    """Cross-entropy that returns ``value`` ('nan' or 'inf') at training batch ``batch`` of ``epoch``."""
    import torch
    import torch.nn.functional as F

    class NanAt:
        def __init__(self):
            self.epoch, self.calls = 0, 0

        def on_epoch_start(self, index: int) -> None:
            self.epoch, self.calls = index + 1, 0

        def __call__(self, logits, targets):
            loss = F.cross_entropy(logits, targets)
            if not torch.is_grad_enabled():  # validation: not counted
                return loss
            self.calls += 1
            if (self.epoch, self.calls) == (epoch, batch):
                return loss * float(value)
            return loss

    return NanAt()


@hookimpl
def tk_register_losses(register):
    register("nan_at", nan_at)
