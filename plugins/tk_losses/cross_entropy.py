"""Cross-entropy with optional class weights (inverse frequency) and label smoothing."""

from __future__ import annotations

from toolkit import RecipeError


def class_weights_for(spec, class_counts, num_classes):
    """``"inverse_frequency"`` → ``w_i = N / (K * n_i)``; a list → itself; ``"none"`` → None."""
    import torch

    if spec in (None, "none", ""):
        return None
    if spec == "inverse_frequency":
        counts = torch.tensor([max(int(c), 1) for c in class_counts], dtype=torch.float32)
        return counts.sum() / (num_classes * counts)
    if isinstance(spec, (list, tuple)):
        if len(spec) != num_classes:
            raise RecipeError(f"loss.class_weights: expected {num_classes} weights (one per class), got {len(spec)}.")
        return torch.tensor([float(w) for w in spec], dtype=torch.float32)
    raise RecipeError(f"loss.class_weights: must be 'inverse_frequency', 'none' or a list of numbers, not {spec!r}.")


def cross_entropy(num_classes: int, class_counts: list[int], class_weights: str | list = "none",
                  label_smoothing: float = 0.0):
    """Cross-entropy; accepts class indices or soft targets (mixup)."""
    import torch
    import torch.nn.functional as F

    if not 0.0 <= label_smoothing < 1.0:
        raise RecipeError(f"loss.label_smoothing: must be in [0, 1), not {label_smoothing}.")
    weight = class_weights_for(class_weights, class_counts, num_classes)

    class CrossEntropy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("weight", weight if weight is not None else None)

        def forward(self, logits, targets):
            w = self.weight.to(logits.dtype) if self.weight is not None else None
            return F.cross_entropy(logits, targets, weight=w, label_smoothing=label_smoothing)

    return CrossEntropy()
