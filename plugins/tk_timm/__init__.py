"""Backbones from timm: any timm architecture by name, with hub or local weights, a replaceable
head and freezing.

Registers one `backbones` entry, ``timm``, that also answers for every name timm knows
(``resnet18``, ``mobilenetv4_conv_medium.e500_r256_in1k`` …), so a recipe just says::

    [model]
    backbone = "resnet18"
    pretrained = true            # or pretrained_path = "weights.safetensors"
    head = "mlp"                 # with head_hidden = [512, 128], head_dropout = 0.3
    freeze = true                # and unfreeze_at_epoch = 5 to fine-tune everything later

The entry's ``list_models`` info is what `tk models` lists. Modules: `backbone` (the factory
and name lookups), `network` (the module: body, head, freezing), `weights` (hub and file
weights).
"""

from __future__ import annotations

from toolkit import hookimpl

from .backbone import check_backbone_params, create_backbone, is_timm_model, list_timm_models, suggest_timm_models
from .weights import cached_models, check_weights, download

__all__ = ["create_backbone", "is_timm_model", "list_timm_models", "suggest_timm_models"]


@hookimpl
def tk_register_backbones(register):
    register("timm", create_backbone, description="any timm model by name (model.backbone = 'resnet18')",
             check=check_backbone_params, resolve=is_timm_model, cached_models=cached_models, download=download, suggest=suggest_timm_models, list_models=list_timm_models,
             paths=("pretrained_path",), preflight=check_weights, example_name="test_resnet", example={"head": "mlp", "head_hidden": [16], "freeze": 0.5})
