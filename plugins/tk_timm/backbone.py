"""The ``timm`` backbone factory: any timm architecture, its weights, its head, its freezing.

Every recipe key of ``[model]`` other than ``backbone`` is a parameter of `create_backbone`;
its signature (type hints and defaults) is what `tk plugins --kind backbones -v` prints, and
each value is range-checked here so a mistake names ``model.<key>``. Torch and timm are
imported inside the functions so that listing plugins stays instant.

Weight parameters keep the names ``pretrained`` and ``pretrained_path``: when tk rebuilds a
model from a checkpoint it turns exactly those off, so loading a trained model never needs
the network.
"""

from __future__ import annotations

import fnmatch

from toolkit import RecipeError

HEADS = ("linear", "mlp")
ACTIVATIONS = ("relu", "gelu", "silu")


def _base(name: str) -> str:
    return name.split(".")[0]


def is_timm_model(name: str) -> bool:
    """Whether timm knows ``name`` (an architecture, optionally with a ``.tag``)."""
    import timm

    return timm.is_model(_base(name))


def suggest_timm_models(name: str) -> list[str]:
    """Architectures whose names resemble ``name``, for "did you mean"."""
    import timm

    head = _base(name)
    return timm.list_models(f"*{head[:4]}*")[:200] if len(head) >= 4 else []


def list_timm_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Names for `tk models`: architectures matching ``pattern``, or with ``pretrained`` the
    ``arch.tag`` names that have weights (a pattern without a dot also matches every tag)."""
    import timm

    if not pretrained:
        return timm.list_models(pattern)
    names = timm.list_models(pattern, pretrained=True)
    if "." not in pattern:
        wanted = set(names) | set(timm.list_pretrained(f"{pattern}.*"))
        names = sorted(n for n in wanted if fnmatch.fnmatchcase(_base(n), pattern))
    return names


def _pretrained_cfg(arch: str):
    import timm

    try:
        return timm.models.get_pretrained_cfg(arch)
    except RuntimeError:  # timm: "Invalid pretrained tag"
        return None


def _check_tag(arch: str) -> None:
    """An ``arch.tag`` whose tag timm does not know is a recipe error listing the real tags."""
    import timm

    if "." not in arch:
        return
    if _pretrained_cfg(arch) is not None:
        return
    tags = [n.split(".", 1)[1] for n in timm.list_pretrained(f"{_base(arch)}.*")]
    known = f" Its tags: {', '.join(tags[:12])}{' …' if len(tags) > 12 else ''}." if tags else " It has no tagged weights."
    raise RecipeError(f"model.backbone: timm has no weights tagged '{arch.split('.', 1)[1]}' for '{_base(arch)}'.{known}")


def _check_params(pretrained_path: str, drop_rate: float, drop_path_rate: float, head: str, head_hidden: list,
                  head_dropout: float, head_activation: str, freeze: bool | float, unfreeze_at_epoch: int) -> float:
    """Range checks; returns the frozen fraction (0 = nothing, 1 = the whole body)."""
    for key, value in (("drop_rate", drop_rate), ("drop_path_rate", drop_path_rate), ("head_dropout", head_dropout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise RecipeError(f"model.{key}: must be a number in [0, 1), not {value!r}.")
    if head not in HEADS:
        raise RecipeError(f"model.head: must be one of {', '.join(map(repr, HEADS))}, not {head!r}.")
    if head_activation not in ACTIVATIONS:
        raise RecipeError(f"model.head_activation: must be one of {', '.join(map(repr, ACTIVATIONS))}, "
                          f"not {head_activation!r}.")
    if not isinstance(head_hidden, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in head_hidden):
        raise RecipeError(f"model.head_hidden: must be a list of layer widths such as [512, 128], not {head_hidden!r}.")
    if head == "mlp" and not head_hidden:
        raise RecipeError("model.head_hidden: an 'mlp' head needs at least one hidden width, e.g. [512, 128].")
    if not isinstance(pretrained_path, str):
        raise RecipeError(f"model.pretrained_path: must be a file path string, not {pretrained_path!r}.")
    if isinstance(freeze, bool):
        fraction = 1.0 if freeze else 0.0
    elif isinstance(freeze, (int, float)) and 0.0 <= freeze <= 1.0:
        fraction = float(freeze)
    else:
        raise RecipeError(f"model.freeze: must be true, false or a fraction of the layers in [0, 1], not {freeze!r}.")
    if isinstance(unfreeze_at_epoch, bool) or not isinstance(unfreeze_at_epoch, int) or unfreeze_at_epoch < 0:
        raise RecipeError(f"model.unfreeze_at_epoch: must be an epoch number >= 0 (0: never), not {unfreeze_at_epoch!r}.")
    if unfreeze_at_epoch and not fraction:
        fraction = 1.0  # "train the head for N epochs, then everything"
    return fraction


def check_backbone_params(pretrained_path: str = "", drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                          head: str = "linear", head_hidden: list = [512, 128], head_dropout: float = 0.0,  # noqa: B006
                          head_activation: str = "relu", freeze: bool | float = False, unfreeze_at_epoch: int = 0,
                          **_: object) -> None:
    """The recipe checks of `create_backbone`, without building anything (registered as ``check``)."""
    _check_params(pretrained_path, drop_rate, drop_path_rate, head, head_hidden, head_dropout, head_activation,
                  freeze, unfreeze_at_epoch)


def create_backbone(
    name: str,
    num_classes: int,
    image_size: int = 0,
    pretrained: bool = False,
    pretrained_path: str = "",
    drop_rate: float = 0.0,
    drop_path_rate: float = 0.0,
    head: str = "linear",
    head_hidden: list = [512, 128],  # noqa: B006 - read only; a list so the resolved recipe is TOML
    head_dropout: float = 0.0,
    head_batch_norm: bool = True,
    head_activation: str = "relu",
    freeze: bool | float = False,
    unfreeze_at_epoch: int = 0,
):
    """Any timm model by name (model.backbone = 'resnet18'), with a linear or MLP head and freezing.

    pretrained: timm hub weights (Hugging Face cache; HF_HUB_OFFLINE honoured).
    pretrained_path: local .safetensors/.pth/.bin weights of this architecture, or a tk best.pt
    (relative to the working directory).
    drop_rate / drop_path_rate: timm's dropout before the head / stochastic depth.
    head: 'linear' or 'mlp'; head_hidden: MLP widths (e.g. [512, 128]); head_dropout: after each
    hidden layer (before the linear head); head_batch_norm: BatchNorm1d in the MLP.
    freeze: true (the whole body; the head trains), false, or a fraction of layers from the input
    side. unfreeze_at_epoch: N > 0 trains everything from epoch N (freeze defaults to true).
    """
    import timm

    from .network import TimmNet, build_head
    from .weights import create_with_hub_weights, load_local_weights

    fraction = _check_params(pretrained_path, drop_rate, drop_path_rate, head, head_hidden, head_dropout,
                             head_activation, freeze, unfreeze_at_epoch)
    arch = "resnet18" if name == "timm" else name
    if not timm.is_model(_base(arch)):
        raise RecipeError(f"model.backbone: timm has no architecture '{arch}'; list them with `tk models`.")
    _check_tag(arch)
    kwargs = {"num_classes": 0, "drop_rate": float(drop_rate)}
    cfg = _pretrained_cfg(arch)
    if image_size and cfg is not None and getattr(cfg, "fixed_input_size", False):
        kwargs["img_size"] = int(image_size)  # ViT-style models: build (and resample weights) for data.image_size
    if drop_path_rate:
        kwargs["drop_path_rate"] = float(drop_path_rate)
    if pretrained and not pretrained_path:
        body = create_with_hub_weights(arch, **kwargs)
    else:
        try:
            body = timm.create_model(arch, pretrained=False, **kwargs)
        except (TypeError, ValueError, AssertionError) as exc:  # e.g. drop_path_rate without stochastic depth,
            # or a window/patch size that data.image_size does not divide
            raise RecipeError(f"model.backbone: timm's '{arch}' cannot be built with these settings "
                              f"(data.image_size = {image_size}): {exc}.") from None
        if pretrained_path:
            load_local_weights(body, pretrained_path, arch)
    # Pooled width the head sees: after timm's own pre-logits layers (MobileNetV3's conv_head) when it has any.
    features = int(getattr(body, "head_hidden_size", None) or body.num_features)
    head_module = build_head(features, num_classes, head, list(head_hidden), float(head_dropout),
                             bool(head_batch_norm), head_activation)
    return TimmNet(body, head_module, freeze=fraction, unfreeze_at_epoch=unfreeze_at_epoch)
