"""The trained model: a backbone from the registry wrapped with its own normalisation.

Everything tk trains, checkpoints and exports is a `Classifier`: it takes RGB images as float
``N×3×H×W`` with values in 0–1 and applies the backbone's mean/std inside, so exported
models carry their preprocessing and no user re-implements it. What turns a file into that
tensor is the model's `toolkit.core.geometry.InputSpec` (`toolkit.data.pixels.decode`), recorded in
every checkpoint's ``model_info``.
"""

from __future__ import annotations

from typing import Any

from ..core.geometry import IMAGENET_MEAN, IMAGENET_STD, InputSpec


def _classifier_class():
    import torch
    from torch import nn

    class Classifier(nn.Module):
        """Backbone plus normalisation; input RGB in 0–1, output logits.

        ``temperature`` (1 while training) divides the logits: temperature scaling fitted after
        training (`toolkit.engine.calibrate`), so every consumer of the model — predict, eval,
        every exporter — applies it. ``unknown_threshold`` (0: off) is the calibrated maximum
        probability below which the deployed model answers "unknown"; exporters read it.
        Checkpoints written before these buffers existed load with their defaults.
        """

        def __init__(self, backbone: nn.Module, mean, std):
            super().__init__()
            self.backbone = backbone
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
            self.register_buffer("temperature", torch.ones((), dtype=torch.float32))
            self.register_buffer("unknown_threshold", torch.zeros((), dtype=torch.float32))

        def forward(self, x):
            return self.backbone((x - self.mean) / self.std) / self.temperature

        def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
            for name, default in (("temperature", 1.0), ("unknown_threshold", 0.0)):
                state_dict.setdefault(prefix + name, torch.tensor(default, dtype=torch.float32))
            super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    return Classifier


def norm_stats(backbone: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std from a timm-style ``pretrained_cfg``, else ImageNet's."""
    cfg = getattr(backbone, "pretrained_cfg", None) or {}
    mean = tuple(float(v) for v in cfg.get("mean", IMAGENET_MEAN))
    std = tuple(float(v) for v in cfg.get("std", IMAGENET_STD))
    if len(mean) != 3 or len(std) != 3:  # one-channel configs: repeat for RGB
        mean, std = (mean[0],) * 3, (std[0],) * 3
    return mean, std


def build_model(recipe: Any, plugins: Any, num_classes: int, *, for_loading: bool = False):
    """The `Classifier` a recipe describes.

    ``for_loading=True`` is used when weights come from a checkpoint next: hub or file
    weights are not fetched (``pretrained`` is set false and ``pretrained_path`` dropped, the
    convention backbone plugins follow), so loading a checkpoint works offline.
    """
    model_cfg = recipe["model"]
    name = model_cfg["backbone"]
    params = (recipe.plugin_params("model", plugins) if hasattr(recipe, "plugin_params")  # paths resolved
              else {k: v for k, v in model_cfg.items() if k != "backbone"})
    if for_loading:
        if "pretrained" in params:
            params["pretrained"] = False
        params.pop("pretrained_path", None)
    image_size = recipe["data"]["image_size"]
    backbone = plugins.build("backbones", name, params, where="model.backbone",
                             context={"num_classes": num_classes, "image_size": _context_size(image_size),
                                      "name": name})
    mean, std = norm_stats(backbone)
    model = _classifier_class()(backbone, mean, std)
    if not for_loading:
        check_input_size(model, image_size, name)
    return model


def _context_size(image_size: Any) -> Any:
    """The ``image_size`` a backbone factory gets: an int (square) or a ``(height, width)`` tuple."""
    return InputSpec.of(image_size).size


def check_input_size(model: Any, image_size: Any, backbone: str) -> None:
    """Put one blank image through ``model``, so a size it cannot take is a recipe error now.

    A ViT's patch grid (40 px is not a multiple of 16) or a stem that shrinks 16 px to nothing
    would otherwise fail with a traceback in the first training batch, after the run folder
    and its first checkpoint exist. Eval mode and no gradients: nothing is learnt or drawn.
    """
    import torch

    from ..core.errors import RecipeError

    h, w = InputSpec.of(image_size).hw
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, h, w))
    except Exception as exc:  # each architecture words it differently: AssertionError, RuntimeError ...
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise RecipeError(f"data.image_size: model.backbone '{backbone}' cannot take {h}x{w} (height x width) "
                          f"images ({detail}); choose a data.image_size it accepts.") from None
    finally:
        model.train(was_training)


def count_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


FROM_SCRATCH_NOTE = (
    "From scratch (no pretrained weights): on 504 real screenshots, recipes/slides_scratch.toml (144x256, 30 epochs) "
    "reached macro-F1 0.967 [0.881-1.000] in 25 min on 2 busy CPU cores, the quickstart's settings 0.893 "
    "[0.780-0.973]; see README, \"From scratch on real screens\"."
)
"""What training from scratch costs, measured (``benchmarks/from_scratch.py`` on the real screenshots of
``benchmarks/real_screens.py``; README, *From scratch on real screens*): the line `tk run`'s header prints."""


def trains_from_scratch(model: dict[str, Any]) -> bool:
    """True when a recipe's ``[model]`` loads no weights: ``pretrained`` false (the timm backbone's
    default) and no ``pretrained_path``, the convention backbone plugins follow."""
    return not model.get("pretrained") and not model.get("pretrained_path")
