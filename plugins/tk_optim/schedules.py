"""Learning-rate schedules, stepped per optimiser step or per epoch."""

from __future__ import annotations

import math


def cosine(optimizer, epochs: int, steps_per_epoch: int, warmup_epochs: float = 0.0, min_lr_ratio: float = 0.0):
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` × lr, per optimiser step."""
    import torch

    total = max(1, epochs * steps_per_epoch)
    warm = int(warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = min(1.0, (step - warm) / max(1, total - warm))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    sched.tk_interval = "step"
    return sched


def constant(optimizer):
    """No schedule: the optimiser's learning rate throughout."""
    return None
