"""An example third-party tk plugin: one loss and one sampler, nothing else.

Copy this package to start your own. tk finds it through the entry point in pyproject.toml::

    [project.entry-points.tk]
    example = "tk_example_plugin"

After ``pip install .``, `tk plugins` lists ``example`` with what it registered, and a recipe
can say ``[loss] name = "poly1"`` or ``[sampler] name = "capped"``. Heavy imports (torch)
happen inside the factories, so listing plugins stays fast.
"""

from __future__ import annotations

from toolkit import RecipeError, hookimpl


def poly1_loss(epsilon: float = 1.0, label_smoothing: float = 0.0):
    """Poly-1 cross-entropy (Leng et al. 2022): CE + epsilon * (1 - p_target)."""
    import torch
    import torch.nn.functional as F

    def loss(logits, targets):
        if targets.ndim == 1:
            onehot = F.one_hot(targets, logits.shape[1]).to(logits.dtype)
        else:
            onehot = targets
        ce = F.cross_entropy(logits, onehot, label_smoothing=label_smoothing)
        pt = (torch.softmax(logits, dim=1) * onehot).sum(dim=1)
        return ce + epsilon * (1 - pt).mean()

    return loss


class CappedSampler:
    """Each epoch visits at most ``cap`` images of every class (a cheap way to tame imbalance)."""

    def __init__(self, labels: list[int], cap: int, seed: int):
        self.labels, self.cap, self.seed = list(labels), cap, seed

    def indices(self, epoch: int) -> list[int]:
        import random

        rng = random.Random(self.seed * 7919 + epoch)
        by_class: dict[int, list[int]] = {}
        for i, y in enumerate(self.labels):
            by_class.setdefault(y, []).append(i)
        chosen: list[int] = []
        for members in by_class.values():
            rng.shuffle(members)
            chosen.extend(members[: self.cap])
        rng.shuffle(chosen)
        return chosen


def capped_sampler(labels: list[int], seed: int, cap: int = 100):
    """At most ``cap`` images per class each epoch, reshuffled every epoch."""
    if cap < 1:
        raise RecipeError(f"sampler.cap: must be at least 1, not {cap}.")
    return CappedSampler(labels, cap, seed)


@hookimpl
def tk_register_losses(register):
    register("poly1", poly1_loss)


@hookimpl
def tk_register_samplers(register):
    register("capped", capped_sampler)
