"""Build a timm model for `num_classes` classes, from scratch, hub weights or a local file."""

from __future__ import annotations

from pathlib import Path

from toolkit import RecipeError


def is_timm_model(name: str) -> bool:
    """Whether timm knows ``name`` (an architecture, optionally with a ``.tag``)."""
    import timm

    return timm.is_model(name.split(".")[0])


def suggest_timm_models(name: str) -> list[str]:
    """Architectures whose names resemble ``name``, for "did you mean"."""
    import timm

    head = name.split(".")[0]
    return timm.list_models(f"*{head[:4]}*")[:200] if len(head) >= 4 else []


def create_backbone(name: str, num_classes: int, pretrained: bool = False, pretrained_path: str = "",
                    drop_rate: float = 0.0):
    """A timm model; ``pretrained`` loads hub weights, ``pretrained_path`` a local file."""
    import timm

    arch = "resnet18" if name == "timm" else name
    kwargs = {"num_classes": num_classes, "drop_rate": drop_rate}
    if pretrained_path:
        path = Path(pretrained_path).expanduser()
        if not path.is_file():
            raise RecipeError(f"model.pretrained_path: no such weights file '{path}'.")
        kwargs["pretrained_cfg_overlay"] = {"file": str(path)}
        return timm.create_model(arch, pretrained=True, **kwargs)
    return timm.create_model(arch, pretrained=pretrained, **kwargs)
