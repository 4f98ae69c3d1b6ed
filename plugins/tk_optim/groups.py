"""Parameter groups for the optimisers: no decay on norms and biases, optional layer-wise LR decay.

Without ``layer_decay`` this is `toolkit.param_groups`. With it (e.g. 0.75), each parameter's
learning rate is scaled by ``layer_decay ** (depth from the head)``, so layers near the input
(general features learned on millions of images) move less than the head when fine-tuning.
Depth comes from timm's own layer grouping of the backbone (``group_matcher``: stem, then each
block), found on whichever sub-module has it, so it works through tk's wrappers
(`Classifier` → backbone → timm body); a model without one falls back to top-level children.
"""

from __future__ import annotations

from typing import Any

from toolkit import RecipeError, param_groups


def _depths(model: Any) -> tuple[dict[str, int], int]:
    """Parameter name → layer index (0 = nearest the input), and the number of layers."""
    body_prefix, body = "", None
    for name, module in model.named_modules():
        if callable(getattr(module, "group_matcher", None)):
            body_prefix, body = (name + "." if name else ""), module
            break
    depth: dict[str, int] = {}
    if body is not None:
        from timm.models import group_parameters

        groups = group_parameters(body, body.group_matcher(coarse=False))
        for layer, key in enumerate(sorted(groups)):
            for n in groups[key]:
                depth[body_prefix + n] = layer + 1  # 0 is kept for nothing; the head gets the top
        count = len(groups) + 2
        for n, _ in model.named_parameters():
            depth.setdefault(n, count - 1)  # head and anything outside the body: full rate
        return depth, count
    children = [n for n, _ in model.named_children()] or [""]
    for n, _ in model.named_parameters():
        depth[n] = children.index(n.split(".")[0]) if n.split(".")[0] in children else len(children) - 1
    return depth, len(children)


def check_groups(lr: float, weight_decay: float, layer_decay: float = 0.0) -> None:
    """The values every optimiser's groups need (also each optimiser's registered ``check``)."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 10:
        raise RecipeError(f"optim.lr: must be a number in (0, 10], not {lr!r}.")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not 0 <= weight_decay <= 1:
        raise RecipeError(f"optim.weight_decay: must be a number in [0, 1], not {weight_decay!r}.")
    if isinstance(layer_decay, bool) or not isinstance(layer_decay, (int, float)) or not 0 <= layer_decay <= 1:
        raise RecipeError(f"optim.layer_decay: must be 0 (off) or a factor in (0, 1], not {layer_decay!r}.")


def build_groups(model: Any, lr: float, weight_decay: float, no_decay_norm_bias: bool = True,
                 layer_decay: float = 0.0) -> list[dict[str, Any]]:
    """Groups with their own ``lr`` (and ``weight_decay``), ready for a torch optimiser."""
    check_groups(lr, weight_decay, layer_decay)
    base = param_groups(model, weight_decay, no_decay_norm_bias=no_decay_norm_bias)
    if not layer_decay:
        return [{**g, "lr": lr} for g in base]
    exempt = {id(p) for g in base if g["weight_decay"] == 0.0 for p in g["params"]}
    depth, count = _depths(model)
    out: dict[tuple[int, bool], dict[str, Any]] = {}
    for name, p in model.named_parameters():
        decay = id(p) not in exempt
        layer = depth.get(name, count - 1)
        group = out.setdefault((layer, decay), {
            "params": [], "weight_decay": weight_decay if decay else 0.0,
            "lr": lr * layer_decay ** (count - 1 - layer), "layer": layer,
        })
        group["params"].append(p)
    return [out[k] for k in sorted(out)]
