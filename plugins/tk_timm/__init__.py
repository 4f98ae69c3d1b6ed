"""Backbones from timm: any timm architecture by name, with local or hub weights.

Registers one `backbones` entry, ``timm``, that also answers for every name timm knows
(``resnet18``, ``mobilenetv4_conv_medium.e500_r256_in1k`` …), so a recipe just says
``[model] backbone = "resnet18"``.
"""

from __future__ import annotations

from toolkit import hookimpl

from .backbone import create_backbone, is_timm_model, suggest_timm_models


@hookimpl
def tk_register_backbones(register):
    register("timm", create_backbone, description="any timm model by name (model.backbone = 'resnet18')",
             resolve=is_timm_model, suggest=suggest_timm_models)
