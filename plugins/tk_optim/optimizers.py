"""Optimiser factories: AdamW, Adam and SGD (momentum, Nesterov) over tk's parameter groups.

Norm scales and biases get no weight decay and ``layer_decay`` slows the layers near the input
(see `groups`). Frozen parameters are in the groups too: a backbone unfrozen mid-run
(``unfreeze_at_epoch``) is then already known to the optimiser.
"""

from __future__ import annotations

from toolkit import RecipeError

from .groups import build_groups, check_groups


def _betas(betas: list) -> tuple[float, float]:
    if (not isinstance(betas, (list, tuple)) or len(betas) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
        raise RecipeError(f"optim.betas: must be two numbers in [0, 1), like [0.9, 0.999], not {betas!r}.")
    return float(betas[0]), float(betas[1])


def check_adam(lr: float = 1e-3, weight_decay: float = 0.0, betas: list = [0.9, 0.999],  # noqa: B006
               layer_decay: float = 0.0) -> None:
    """`adamw`'s and `adam`'s recipe checks, without a model (registered as ``check``)."""
    check_groups(lr, weight_decay, layer_decay)
    _betas(betas)


def check_sgd(lr: float = 0.01, momentum: float = 0.9, nesterov: bool = True, weight_decay: float = 1e-4,
              layer_decay: float = 0.0) -> None:
    """`sgd`'s recipe checks, without a model (registered as ``check``)."""
    check_groups(lr, weight_decay, layer_decay)
    _momentum(momentum, nesterov)


def _momentum(momentum: float, nesterov: bool) -> None:
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
        raise RecipeError(f"optim.momentum: must be a number in [0, 1), not {momentum!r}.")
    if nesterov and momentum == 0:
        raise RecipeError("optim.nesterov: Nesterov momentum needs optim.momentum > 0.")


def adamw(model, lr: float = 1e-3, weight_decay: float = 1e-4, betas: list = [0.9, 0.999],  # noqa: B006
          no_decay_norm_bias: bool = True, layer_decay: float = 0.0):
    """AdamW (decoupled weight decay); no decay on norms/biases; layer_decay (e.g. 0.75) for fine-tuning."""
    import torch

    groups = build_groups(model, lr, weight_decay, no_decay_norm_bias, layer_decay)
    return torch.optim.AdamW(groups, lr=lr, betas=_betas(betas), weight_decay=weight_decay)


def adam(model, lr: float = 1e-3, weight_decay: float = 0.0, betas: list = [0.9, 0.999],  # noqa: B006
         no_decay_norm_bias: bool = True, layer_decay: float = 0.0):
    """Adam (L2 weight decay added to the gradient); no decay on norms/biases."""
    import torch

    groups = build_groups(model, lr, weight_decay, no_decay_norm_bias, layer_decay)
    return torch.optim.Adam(groups, lr=lr, betas=_betas(betas), weight_decay=weight_decay)


def sgd(model, lr: float = 0.01, momentum: float = 0.9, nesterov: bool = True, weight_decay: float = 1e-4,
        no_decay_norm_bias: bool = True, layer_decay: float = 0.0):
    """SGD with momentum (Nesterov by default); no decay on norms/biases."""
    import torch

    _momentum(momentum, nesterov)
    groups = build_groups(model, lr, weight_decay, no_decay_norm_bias, layer_decay)
    return torch.optim.SGD(groups, lr=lr, momentum=float(momentum), nesterov=bool(nesterov), weight_decay=weight_decay)
