"""Cross-entropy, with class weights and label smoothing, for hard or soft (mixup) targets.

`cross_entropy` is ``torch.nn.functional.cross_entropy``: with class indices and weights it is
the weighted mean ``Σ w_yi·l_i / Σ w_yi`` (as ``nn.CrossEntropyLoss(weight=w)``); with soft
targets it is ``mean_i(-Σ_c w_c·y_ic·log p_ic)``. `soft_target_cross_entropy` is the
mixup/cutmix loss of timm, ``mean_i(-Σ_c y_ic·log p_ic)``, which also takes class indices.
"""

from __future__ import annotations

from .class_weights import check_class_weights, check_smoothing, class_weights_for


def check_cross_entropy(class_weights: str | list = "none", label_smoothing: float = 0.0) -> None:
    """`cross_entropy`'s value checks, run by `tk recipes check` and before a run reads data."""
    check_smoothing(label_smoothing)
    check_class_weights(class_weights)


def cross_entropy(num_classes: int, class_counts: list[int], class_weights: str | list = "none",
                  label_smoothing: float = 0.0):
    """Cross-entropy; class_weights 'inverse_frequency' (N / (K·n_i)) or a list; label smoothing ε."""
    import torch
    import torch.nn.functional as F

    label_smoothing = check_smoothing(label_smoothing)
    weight = class_weights_for(class_weights, class_counts, num_classes)

    class CrossEntropy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("weight", weight)

        def forward(self, logits, targets):
            w = self.weight.to(logits.dtype) if self.weight is not None else None
            if targets.dim() == 2:
                targets = targets.to(logits.dtype)
            return F.cross_entropy(logits, targets, weight=w, label_smoothing=label_smoothing)

    return CrossEntropy()


def soft_target_cross_entropy(num_classes: int):
    """-Σ y·log softmax(logits), batch mean: the mixup/cutmix loss (class indices also accepted)."""
    import torch
    import torch.nn.functional as F

    class SoftTargetCrossEntropy(torch.nn.Module):
        def forward(self, logits, targets):
            if targets.dim() == 1:
                targets = F.one_hot(targets.long(), num_classes)
            logp = F.log_softmax(logits.float(), dim=-1)
            return -(targets.to(logp.dtype) * logp).sum(-1).mean()

    return SoftTargetCrossEntropy()
