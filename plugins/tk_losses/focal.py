"""Focal loss (Lin et al., 2017) for multi-class softmax, hard or soft targets.

For one sample with (smoothed) target row ``y`` and probabilities ``p = softmax(z)``:

    FL = -Σ_c α_c · w_c · y_c · (1 - p_c)^γ · log p_c

γ down-weights the examples the model already gets right, so rare, hard classes keep driving
the gradient; ``α`` is a scalar factor or one per class; ``w`` are class weights
(``inverse_frequency`` or a list). The batch value is the weighted mean
``Σ_i FL_i / Σ_i Σ_c w_c·t_ic`` over the unsmoothed targets ``t`` (the plain mean without
weights), so with γ = 0, α = 1 it is
exactly the cross-entropy of ``nn.CrossEntropyLoss(weight=w, label_smoothing=ε)`` on hard
targets.
"""

from __future__ import annotations

from typing import Any

from toolkit import RecipeError

from .class_weights import check_class_weights, check_smoothing, class_weights_for, smooth


def _alpha(alpha: Any, num_classes: int):
    import torch

    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool):
        if alpha <= 0:
            raise RecipeError(f"loss.alpha: must be > 0, not {alpha!r}.")
        return torch.full((num_classes,), float(alpha))
    if isinstance(alpha, list) and len(alpha) == num_classes and all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and a >= 0 for a in alpha):
        return torch.tensor([float(a) for a in alpha])
    raise RecipeError(f"loss.alpha: must be a number > 0 or a list of {num_classes} numbers >= 0 (one per class), "
                      f"not {alpha!r}.")


def check_focal(gamma: float = 2.0, alpha: float | list = 1.0, class_weights: str | list = "none",
                label_smoothing: float = 0.0) -> None:
    """`focal`'s value checks that need no run (a per-class list's length is checked at build)."""
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 <= gamma <= 10.0:
        raise RecipeError(f"loss.gamma: must be a number in [0, 10], not {gamma!r}.")
    number = isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
    if number and alpha <= 0:
        raise RecipeError(f"loss.alpha: must be > 0, not {alpha!r}.")
    if not number and not (isinstance(alpha, list) and all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and a >= 0 for a in alpha)):
        raise RecipeError(f"loss.alpha: must be a number > 0 or a list of numbers >= 0 (one per class), not {alpha!r}.")
    check_smoothing(label_smoothing)
    check_class_weights(class_weights)


def focal(num_classes: int, class_counts: list[int], gamma: float = 2.0, alpha: float | list = 1.0,
          class_weights: str | list = "none", label_smoothing: float = 0.0):
    """Focal loss: gamma focuses on hard examples; alpha (scalar or per class); class_weights; smoothing."""
    import torch
    import torch.nn.functional as F

    check_focal(gamma, alpha, class_weights, label_smoothing)
    label_smoothing = check_smoothing(label_smoothing)
    alphas = _alpha(alpha, num_classes)
    weight = class_weights_for(class_weights, class_counts, num_classes)

    class FocalLoss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gamma = float(gamma)
            self.register_buffer("alpha", alphas)
            self.register_buffer("weight", weight if weight is not None else torch.ones(num_classes))

        def forward(self, logits, targets):
            logp = F.log_softmax(logits.float(), dim=-1)
            raw = smooth(targets, num_classes, 0.0, logp.dtype)
            y = smooth(raw, num_classes, label_smoothing, logp.dtype)
            focus = (1 - logp.exp()).clamp_min(0).pow(self.gamma)
            per_sample = -(self.alpha * self.weight * y * focus * logp).sum(-1)
            return per_sample.sum() / (raw * self.weight).sum().clamp_min(1e-12)

    return FocalLoss()
