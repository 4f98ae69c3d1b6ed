"""Learning-rate schedules: cosine with warm-up, step, reduce-on-plateau, one-cycle, constant.

Step-wise schedules (cosine, one-cycle) carry ``tk_interval = "step"`` and are stepped after
every optimiser step (with gradient accumulation, ``steps_per_epoch`` counts optimiser steps);
``step`` is stepped per epoch; ``plateau`` is a ``ReduceLROnPlateau`` the engine steps with the
metric it monitors (``train.monitor``). Every schedule keeps each parameter group's own rate
(layer-wise decay) as its reference. Stepping past the planned end holds the final rate
instead of failing, so a run extended on resume keeps training.
"""

from __future__ import annotations

import math

from toolkit import RecipeError


def _number(key: str, value, lo: float, hi: float | None = None, *, open_lo: bool = False) -> float:
    bad = isinstance(value, bool) or not isinstance(value, (int, float))
    if not bad:
        bad = value <= lo if open_lo else value < lo
        bad = bad or (hi is not None and value > hi)
    if bad:
        rng = f"{'(' if open_lo else '['}{lo}, {hi if hi is not None else '∞'}{']' if hi is not None else ')'}"
        raise RecipeError(f"schedule.{key}: must be a number in {rng}, not {value!r}.")
    return float(value)


def check_cosine(warmup_epochs: float = 0.0, min_lr_ratio: float = 0.0) -> None:
    """`cosine`'s recipe checks, without an optimiser (registered as ``check``)."""
    _number("warmup_epochs", warmup_epochs, 0.0, 100000.0)
    _number("min_lr_ratio", min_lr_ratio, 0.0, 1.0)


def cosine(optimizer, epochs: int, steps_per_epoch: int, warmup_epochs: float = 0.0, min_lr_ratio: float = 0.0):
    """Linear warm-up over warmup_epochs, then cosine decay to min_lr_ratio × lr, per optimiser step."""
    import torch

    warmup_epochs = _number("warmup_epochs", warmup_epochs, 0.0, 100000.0)  # longer than the run: it only warms up
    min_lr_ratio = _number("min_lr_ratio", min_lr_ratio, 0.0, 1.0)
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


def step(optimizer, step_size: int = 10, gamma: float = 0.1, milestones: list = []):  # noqa: B006
    """Multiply the rate by gamma every step_size epochs (or at the given milestone epochs)."""
    import torch

    gamma = _number("gamma", gamma, 0.0, 1.0, open_lo=True)
    if milestones:
        if not all(isinstance(m, int) and not isinstance(m, bool) and m >= 1 for m in milestones):
            raise RecipeError(f"schedule.milestones: must be a list of epoch numbers >= 1, not {milestones!r}.")
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, sorted(milestones), gamma=gamma)
    if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
        raise RecipeError(f"schedule.step_size: must be a number of epochs >= 1, not {step_size!r}.")
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size, gamma=gamma)


def plateau(optimizer, factor: float = 0.1, patience: int = 5, min_lr: float = 0.0, threshold: float = 1e-4,
            cooldown: int = 0, mode: str = "min"):
    """Reduce the rate by factor when the monitored metric stalls for patience epochs.

    ``mode`` says whether that metric should go down (``min``, e.g. val_loss) or up (``max``);
    match ``train.mode``.
    """
    import torch

    factor = _number("factor", factor, 0.0, 1.0, open_lo=True)
    if factor >= 1.0:
        raise RecipeError(f"schedule.factor: must be below 1 (it multiplies the rate), not {factor!r}.")
    min_lr = _number("min_lr", min_lr, 0.0)
    threshold = _number("threshold", threshold, 0.0)
    for key, value in (("patience", patience), ("cooldown", cooldown)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RecipeError(f"schedule.{key}: must be a number of epochs >= 0, not {value!r}.")
    if mode not in ("min", "max"):
        raise RecipeError(f"schedule.mode: must be 'min' or 'max' (as train.mode), not {mode!r}.")
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=mode, factor=factor, patience=patience,
                                                      threshold=threshold, cooldown=cooldown, min_lr=min_lr)


def onecycle(optimizer, epochs: int, steps_per_epoch: int, pct_start: float = 0.3, div_factor: float = 25.0,
             final_div_factor: float = 1e4, cycle_momentum: bool = True):
    """One-cycle: rise from lr/div_factor to lr over pct_start of the run, then anneal (cosine) far below."""
    import torch

    pct_start = _number("pct_start", pct_start, 0.0, 1.0, open_lo=True)
    div_factor = _number("div_factor", div_factor, 1.0)
    final_div_factor = _number("final_div_factor", final_div_factor, 1.0)
    total = max(2, epochs * steps_per_epoch)
    defaults = optimizer.defaults
    momentum = bool(cycle_momentum) and ("betas" in defaults or defaults.get("momentum", 0) > 0)

    class OneCycle(torch.optim.lr_scheduler.OneCycleLR):
        def step(self, epoch=None):  # hold the final rate past the planned end
            if self.last_epoch >= self.total_steps:
                return
            super().step()

    sched = OneCycle(optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total,
                     pct_start=pct_start, div_factor=div_factor, final_div_factor=final_div_factor,
                     cycle_momentum=momentum)
    sched.tk_interval = "step"
    return sched


def constant(optimizer):
    """No schedule: the optimiser's learning rate throughout."""
    return None
