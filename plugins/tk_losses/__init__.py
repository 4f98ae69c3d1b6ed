"""Losses: cross-entropy (class weights, label smoothing), focal, soft-target cross-entropy and
knowledge distillation. Every loss accepts class indices or soft targets (mixup, cutmix).

Modules: `class_weights` (inverse frequency, smoothing), `cross_entropy`, `focal`, `distill`
(the loss) and `teacher` (loading the teacher it learns from).
"""

from __future__ import annotations

from toolkit import hookimpl

from .cross_entropy import check_cross_entropy, cross_entropy, soft_target_cross_entropy
from .distill import check_distill, distill
from .focal import check_focal, focal


@hookimpl
def tk_register_losses(register):
    register("cross_entropy", cross_entropy, check=check_cross_entropy)
    register("focal", focal, check=check_focal)
    register("soft_target_cross_entropy", soft_target_cross_entropy)
    register("distill", distill, check=check_distill, paths=("teacher", "teacher_pretrained_path"),
             example={"teacher": "{checkpoint}"})
