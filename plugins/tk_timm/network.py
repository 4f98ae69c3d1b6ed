"""The backbone module tk trains: a timm body, a replaceable head, and freezing.

`TimmNet` is ``head(body(x))`` where ``body`` is a timm model built with ``num_classes=0``
(it returns pooled features) and ``head`` is a linear layer or an MLP. Keeping the head ours
makes every head option work the same for every architecture, and lets freezing say "the
body" without knowing each architecture's classifier name.

Freezing is by *layer groups*, timm's own split of an architecture from the input side (stem,
then each block; see ``group_matcher``), so ``freeze = 0.5`` means "the first half of the
blocks" on a ResNet and on a ViT alike. Frozen parameters stop taking gradients and frozen
normalisation layers stay in eval mode: their running statistics are part of what is frozen.
``on_epoch_start`` (called by the engine at the start of each epoch, also after a resume)
unfreezes everything at ``unfreeze_at_epoch``.

Imports torch at module level: import this module only inside a factory.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)
_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


class HeadBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d that does not fail on a training batch of one (a last, odd-sized batch).

    With one sample there is no batch statistic, so it normalises with the running statistics,
    as in eval mode, instead of raising.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                            False, 0.0, self.eps)
        return super().forward(x)


def build_head(in_features: int, num_classes: int, kind: str, hidden: list[int], dropout: float,
               batch_norm: bool, activation: str) -> nn.Module:
    """``linear``: dropout then one layer. ``mlp``: per hidden size Linear → BatchNorm → act → dropout."""
    if kind == "linear":
        layers: list[nn.Module] = [nn.Dropout(dropout)] if dropout else []
        return nn.Sequential(*layers, nn.Linear(in_features, num_classes))
    layers = []
    width = in_features
    for size in hidden:
        layers.append(nn.Linear(width, size, bias=not batch_norm))
        if batch_norm:
            layers.append(HeadBatchNorm(size))
        layers.append(_ACTIVATIONS[activation]())
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def layer_groups(body: nn.Module) -> list[list[str]]:
    """Parameter names of ``body`` grouped by depth, input side first.

    Uses timm's ``group_matcher`` (fine-grained: stem, then one group per block) where the
    model has one; otherwise each top-level child is a group. Parameters no rule matched go
    with the last group.
    """
    names = [n for n, _ in body.named_parameters()]
    matcher = getattr(body, "group_matcher", None)
    groups: list[list[str]] = []
    if callable(matcher):
        try:
            from timm.models import group_parameters

            by_id = group_parameters(body, matcher(coarse=False))
            groups = [list(by_id[k]) for k in sorted(by_id)]
        except Exception:  # a model whose matcher does not cover it: use the generic split
            groups = []
    if not groups:
        order: dict[str, list[str]] = {}
        for n in names:
            order.setdefault(n.split(".")[0], []).append(n)
        groups = list(order.values())
    seen = {n for g in groups for n in g}
    rest = [n for n in names if n not in seen]
    if rest:
        groups[-1].extend(rest)
    return [g for g in groups if g]


class TimmNet(nn.Module):
    """A timm body with a tk head; freezing and ``on_epoch_start`` for freeze-then-fine-tune."""

    def __init__(self, body: nn.Module, head: nn.Module, *, freeze: float = 0.0, unfreeze_at_epoch: int = 0):
        super().__init__()
        self.body = body
        self.head = head
        # norm_stats() and exporters read timm's convention from the backbone module.
        self.pretrained_cfg = dict(getattr(body, "pretrained_cfg", None) or {})
        self.num_features = int(getattr(body, "head_hidden_size", None) or getattr(body, "num_features", 0) or 0)
        self.freeze_fraction = float(freeze)
        self.unfreeze_at_epoch = int(unfreeze_at_epoch)
        self._frozen_modules: list[nn.Module] = []
        if self.freeze_fraction > 0:
            self._freeze(self.freeze_fraction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    # -- freezing ----------------------------------------------------------------------------
    def _freeze(self, fraction: float) -> None:
        groups = layer_groups(self.body)
        count = len(groups) if fraction >= 1.0 else min(len(groups), math.ceil(fraction * len(groups) - 1e-9))
        frozen = {n for g in groups[:count] for n in g}
        if fraction >= 1.0:  # the whole body, whatever the grouping says
            frozen = {n for n, _ in self.body.named_parameters()}
        for n, p in self.body.named_parameters():
            if n in frozen:
                p.requires_grad_(False)
        self._frozen_modules = [
            m for m in self.body.modules()
            if isinstance(m, _NORMS) and any(True for _ in m.parameters(recurse=False))
            and all(not p.requires_grad for p in m.parameters(recurse=False))
        ]
        self.train(self.training)

    def unfreeze(self) -> None:
        """Let every parameter train again (normalisation layers follow the module's mode)."""
        for p in self.body.parameters():
            p.requires_grad_(True)
        self._frozen_modules = []
        self.train(self.training)

    @property
    def frozen(self) -> bool:
        return any(not p.requires_grad for p in self.body.parameters())

    def train(self, mode: bool = True) -> "TimmNet":
        super().train(mode)
        for m in self._frozen_modules:
            m.eval()
        return self

    def on_epoch_start(self, epoch: int) -> None:
        """Engine callback: unfreeze at ``unfreeze_at_epoch`` (0-based epochs; also on resume)."""
        if self.unfreeze_at_epoch > 0 and epoch >= self.unfreeze_at_epoch and self.frozen:
            self.unfreeze()
        elif self.unfreeze_at_epoch > 0 and epoch < self.unfreeze_at_epoch and not self.frozen:
            self._freeze(self.freeze_fraction or 1.0)

    def extra_repr(self) -> str:
        frozen = sum(p.numel() for p in self.body.parameters() if not p.requires_grad)
        return f"frozen_params={frozen}, unfreeze_at_epoch={self.unfreeze_at_epoch}"


def describe_params(module: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts, for messages and tests."""
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return trainable, total
