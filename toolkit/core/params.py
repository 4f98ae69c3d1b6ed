"""Parameter groups for optimisers: no weight decay on norms and biases, optional layer decay.

Decaying the scale of a normalisation layer or a bias only fights the model (they carry no
over-fitting capacity of their own), so the usual practice (timm, torchvision references) is
to exempt them. Optimiser plugins call `param_groups(model, weight_decay)`.
"""

from __future__ import annotations

from typing import Any


def param_groups(model: Any, weight_decay: float, *, no_decay_norm_bias: bool = True,
                 layer_decay: float | None = None) -> list[dict[str, Any]]:
    """Split the model's parameters into decayed and non-decayed groups.

    Frozen parameters are included on purpose: a backbone unfrozen later in the run
    (``unfreeze_at_epoch``) must already be known to the optimiser; until then it has no
    gradients and the optimiser skips it.

    A parameter is exempt from decay when ``no_decay_norm_bias`` and it is one-dimensional
    (biases, norm scales and shifts) or belongs to a normalisation module. With
    ``layer_decay`` (e.g. 0.75), each top-level child of the model gets a learning-rate scale
    ``layer_decay ** (depth from the head)``, stored as ``lr_scale`` in its group, so earlier
    layers move less when fine-tuning; optimiser plugins multiply their ``lr`` by it.
    """
    import torch.nn as nn

    norm_types = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)
    exempt: set[int] = set()
    if no_decay_norm_bias:
        for module in model.modules():
            for p in module.parameters(recurse=False):
                if isinstance(module, norm_types) or p.ndim <= 1:
                    exempt.add(id(p))

    children = [name for name, _ in model.named_children()] or [""]
    depth_of = {name: i for i, name in enumerate(children)}
    groups: dict[tuple[bool, int], dict[str, Any]] = {}
    for name, p in model.named_parameters():
        depth = depth_of.get(name.split(".")[0], 0) if layer_decay else 0
        decay = id(p) not in exempt
        key = (decay, depth)
        if key not in groups:
            group: dict[str, Any] = {"params": [], "weight_decay": weight_decay if decay else 0.0}
            if layer_decay:
                group["lr_scale"] = layer_decay ** (len(children) - 1 - depth)
            groups[key] = group
        groups[key]["params"].append(p)
    return list(groups.values())
