"""Optimiser factories; parameter groups exempt norms and biases from weight decay."""

from __future__ import annotations

from toolkit import param_groups


def _scaled(groups, lr):
    for g in groups:
        g["lr"] = lr * g.pop("lr_scale", 1.0)
    return groups


def adamw(model, lr: float = 1e-3, weight_decay: float = 1e-4, betas: list = [0.9, 0.999],
          no_decay_norm_bias: bool = True, layer_decay: float = 0.0):
    """AdamW (decoupled weight decay)."""
    import torch

    groups = param_groups(model, weight_decay, no_decay_norm_bias=no_decay_norm_bias, layer_decay=layer_decay or None)
    return torch.optim.AdamW(_scaled(groups, lr), lr=lr, betas=tuple(betas), weight_decay=weight_decay)
