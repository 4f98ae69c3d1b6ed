"""Per-class loss weights from a recipe value: ``"inverse_frequency"``, a list, or none.

Inverse frequency is the reference workload's ``w_i = N / (K · n_i)``: a class with half the
average count weighs twice as much, and the weights average to one over the training images.
"""

from __future__ import annotations

from typing import Any

from toolkit import RecipeError


def class_weights_for(spec: Any, class_counts: list[int] | None, num_classes: int, *, key: str = "loss.class_weights"):
    """A float tensor of ``num_classes`` weights, or None for unweighted."""
    import torch

    if spec in (None, "none", ""):
        return None
    if spec == "inverse_frequency":
        if not class_counts or len(class_counts) != num_classes:
            raise RecipeError(f"{key}: 'inverse_frequency' needs the training class counts, which the run did not give.")
        counts = torch.tensor([max(int(c), 1) for c in class_counts], dtype=torch.float32)
        return counts.sum() / (num_classes * counts)
    if isinstance(spec, (list, tuple)):
        if len(spec) != num_classes:
            raise RecipeError(f"{key}: expected {num_classes} weights (one per class), got {len(spec)}.")
        if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in spec):
            raise RecipeError(f"{key}: weights must be numbers >= 0, not {list(spec)!r}.")
        return torch.tensor([float(w) for w in spec], dtype=torch.float32)
    raise RecipeError(f"{key}: must be 'inverse_frequency', 'none' or a list of numbers, not {spec!r}.")


def check_class_weights(spec: Any, key: str = "loss.class_weights") -> None:
    """What `class_weights_for` refuses that can be told without the run's classes (the count of a
    list is checked when the run knows how many classes it has)."""
    if spec in (None, "none", "", "inverse_frequency"):
        return
    if isinstance(spec, (list, tuple)):
        if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in spec):
            raise RecipeError(f"{key}: weights must be numbers >= 0, not {list(spec)!r}.")
        return
    raise RecipeError(f"{key}: must be 'inverse_frequency', 'none' or a list of numbers, not {spec!r}.")


def check_smoothing(value: Any, key: str = "loss.label_smoothing") -> float:
    """A label-smoothing amount in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise RecipeError(f"{key}: must be a number in [0, 1), not {value!r}.")
    return float(value)


def smooth(targets, num_classes: int, amount: float, dtype):
    """Class indices or soft rows → soft rows ``(1 - ε)·y + ε/K``."""
    import torch.nn.functional as F

    soft = targets.to(dtype) if targets.dim() == 2 else F.one_hot(targets.long(), num_classes).to(dtype)
    return soft * (1 - amount) + amount / num_classes if amount else soft
