"""The teacher of a distillation run: a tk checkpoint, or a timm model with its own weights.

A teacher must already classify the run's classes. From a checkpoint (``best.pt`` of an earlier
`tk run`) that is checked by class names; a timm model qualifies when its weights carry a
classifier for exactly ``num_classes`` classes (``teacher_pretrained_path``, or hub weights of
an ImageNet-1k head for a 1000-class run). Either way the teacher takes the student's input
(RGB in 0–1), normalises with its own mean/std, resizes to its own input size when that
differs, and never trains: parameters frozen, eval mode kept even when the loss is put in
train mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from toolkit import RecipeError, TkError

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def _teacher_module():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Teacher(nn.Module):
        """A frozen classifier taking RGB 0–1 inputs; ``spec`` (a `toolkit.InputSpec`) is its own
        input, to which a batch of another size is resized; None means "as given"."""

        def __init__(self, net: nn.Module, mean, std, spec: Any, takes_raw: bool):
            super().__init__()
            self.net = net
            self.image_size = spec.hw if spec is not None else 0
            self.interpolation = spec.interpolation if spec is not None else ""
            self.takes_raw = takes_raw  # a tk Classifier normalises inside
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
            for p in self.net.parameters():
                p.requires_grad_(False)
            self.net.eval()

        def train(self, mode: bool = True):  # the teacher is never trained, whatever its owner does
            return super().train(False)

        @torch.no_grad()
        def forward(self, x):
            if self.image_size and tuple(x.shape[-2:]) != self.image_size:
                x = F.interpolate(x, size=self.image_size, mode=self.interpolation,
                                  align_corners=False, antialias=True).clamp(0, 1)
            if not self.takes_raw:
                x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
            return self.net(x)

    return Teacher


def _from_checkpoint(path: Path, num_classes: int, class_names: list[str] | None):
    from toolkit import load_model

    model, ckpt = load_model(path)
    names = list(ckpt.get("class_names") or [])
    if len(names) != num_classes or (class_names and names != list(class_names)):
        raise RecipeError(
            f"loss.teacher: '{path}' was trained on classes {names} but this run has "
            f"{list(class_names) if class_names else num_classes}; a teacher must know the same classes in the same order."
        )
    from toolkit import InputSpec

    info = ckpt.get("model_info") or {}
    spec = InputSpec.from_model_info(info) if info.get("image_size") else None
    return _teacher_module()(model, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), spec, takes_raw=True)


def _from_timm(arch: str, num_classes: int, pretrained: bool, weights_path: str):
    import timm

    from toolkit import norm_stats

    if not timm.is_model(arch.split(".")[0]):
        raise RecipeError(f"loss.teacher: '{arch}' is neither a checkpoint file nor a timm architecture.")
    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise RecipeError(f"loss.teacher_pretrained_path: no such weights file '{path}'.")
        net = timm.create_model(arch, pretrained=False, num_classes=num_classes)
        state = _read_weights(path)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else str(exc)
            raise RecipeError(f"loss.teacher_pretrained_path: the weights in '{path}' do not fit '{arch}' with "
                              f"{num_classes} classes ({first[:200]}).") from None
    elif pretrained:
        cfg = timm.models.get_pretrained_cfg(arch)
        classes = getattr(cfg, "num_classes", None)
        if classes != num_classes:
            raise RecipeError(
                f"loss.teacher: the hub weights of '{arch}' classify {classes} classes, this run {num_classes}; "
                f"train a teacher first (`tk run`) and give its best.pt, or set loss.teacher_pretrained_path."
            )
        net = _hub_model(arch, num_classes)
    else:
        raise RecipeError(
            f"loss.teacher: an untrained '{arch}' cannot teach; give a tk checkpoint (a run's best.pt), or set "
            f"loss.teacher_pretrained_path (or loss.teacher_pretrained for hub weights)."
        )
    mean, std = norm_stats(net)
    return _teacher_module()(net, mean, std, None, takes_raw=False)


def _read_weights(path: Path) -> dict[str, Any]:
    import pickle

    import torch

    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise RecipeError(f"loss.teacher_pretrained_path: '{path}' refused: it holds Python objects other than "
                          f"tensors (tk loads weights with weights_only=True and never runs code from them).") from None
    except Exception as exc:
        raise RecipeError(f"loss.teacher_pretrained_path: '{path}' is not a readable weights file "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}).") from None
    for key in ("state_dict_ema", "state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            return state[key]
    return state


def _hub_model(arch: str, num_classes: int):
    import timm

    try:
        return timm.create_model(arch, pretrained=True, num_classes=num_classes)
    except OSError:
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
        why = "HF_HUB_OFFLINE is set and they are not cached" if offline else "the Hugging Face Hub cannot be reached"
        raise TkError(f"loss.teacher_pretrained: cannot load the weights of '{arch}': {why}; run once with network "
                      f"access to cache them, or set loss.teacher_pretrained_path.") from None


def load_teacher(teacher: str, num_classes: int, class_names: list[str] | None, pretrained: bool = False,
                 weights_path: str = ""):
    """The frozen `Teacher` module ``teacher`` names (a checkpoint path or a timm name)."""
    if not isinstance(teacher, str) or not teacher:
        raise RecipeError("loss.teacher: give a tk checkpoint (e.g. runs/big/1/best.pt) or a timm model name.")
    path = Path(teacher).expanduser()
    if path.suffix.lower() in CHECKPOINT_SUFFIXES or os.sep in teacher or "/" in teacher:
        if not path.is_file():
            raise RecipeError(f"loss.teacher: no such checkpoint '{path}' (train the teacher first with `tk run`).")
        return _from_checkpoint(path, num_classes, class_names)
    return _from_timm(teacher, num_classes, pretrained, weights_path)
