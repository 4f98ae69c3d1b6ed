"""Knowledge distillation (Hinton et al., 2015): a student learns from labels and a teacher.

    loss = (1 - α) · CE(student, targets) + α · T² · KL(softmax(teacher/T) ‖ softmax(student/T))

The T² keeps the soft term's gradients on the scale of the hard term's as T grows. The loss
object has ``needs_inputs = True``, so the engine calls ``loss(logits, targets, inputs)`` and
the teacher sees exactly the (augmented) batch the student saw, on the same device.
"""

from __future__ import annotations

from toolkit import RecipeError

from .class_weights import check_class_weights, check_smoothing, class_weights_for


def check_distill(teacher: str, temperature: float = 4.0, alpha: float = 0.5, teacher_pretrained: bool = False,
                  teacher_pretrained_path: str = "", class_weights: str | list = "none",
                  label_smoothing: float = 0.0) -> None:
    """`distill`'s value checks that need no run and load nothing (the teacher is checked at build)."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0.1 <= temperature <= 100:
        raise RecipeError(f"loss.temperature: must be a number in [0.1, 100], not {temperature!r}.")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise RecipeError(f"loss.alpha: must be a number in [0, 1] (the share of the teacher's term), not {alpha!r}.")
    if not isinstance(teacher, str) or not teacher:
        raise RecipeError("loss.teacher: give a tk checkpoint (e.g. runs/big/1/best.pt) or a timm model name.")
    check_smoothing(label_smoothing)
    check_class_weights(class_weights)


def distill(num_classes: int, class_counts: list[int], class_names: list[str], teacher: str,
            temperature: float = 4.0, alpha: float = 0.5, teacher_pretrained: bool = False,
            teacher_pretrained_path: str = "", class_weights: str | list = "none", label_smoothing: float = 0.0):
    """Distil a teacher (tk checkpoint path or timm name) into the student; temperature T, alpha = soft share."""
    import torch
    import torch.nn.functional as F

    from .teacher import load_teacher

    check_distill(teacher, temperature, alpha, teacher_pretrained, teacher_pretrained_path, class_weights,
                  label_smoothing)
    label_smoothing = check_smoothing(label_smoothing)
    weight = class_weights_for(class_weights, class_counts, num_classes)
    teacher_net = load_teacher(teacher, num_classes, class_names, teacher_pretrained, teacher_pretrained_path)
    t = float(temperature)

    class DistillationLoss(torch.nn.Module):
        needs_inputs = True

        def __init__(self):
            super().__init__()
            self.teacher = teacher_net
            self.register_buffer("weight", weight)

        def forward(self, logits, targets, inputs):
            device = logits.device
            if self.teacher.mean.device != device:  # the engine may not move the loss; follow the batch
                self.teacher.to(device)
            w = self.weight.to(device=device, dtype=logits.dtype) if self.weight is not None else None
            hard = F.cross_entropy(logits, targets.to(logits.dtype) if targets.dim() == 2 else targets,
                                   weight=w, label_smoothing=label_smoothing)
            if alpha == 0:
                return hard
            teacher_logits = self.teacher(inputs).float()
            soft = F.kl_div(F.log_softmax(logits.float() / t, dim=-1), F.log_softmax(teacher_logits / t, dim=-1),
                            reduction="batchmean", log_target=True) * (t * t)
            return (1 - alpha) * hard + alpha * soft

    return DistillationLoss()
