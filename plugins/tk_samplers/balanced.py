"""Class-balanced sampling: draw training images with replacement, weighted by their class size.

Each image of class ``c`` is drawn with probability proportional to ``n_c^-power``:
``power = 1`` (``class_balanced``) makes every class equally likely, so the 4-image class of the
reference workload is seen as often as the 2,530-image one; ``power = 0.5``
(``sqrt_balanced``) is the gentler square-root rebalancing that over-fits rare classes less.
An epoch has ``num_samples`` draws (default: the training-set size), from a generator seeded
by ``seed`` and the epoch, so every epoch differs and a resumed run repeats exactly.
"""

from __future__ import annotations

from toolkit import RecipeError


class WeightedOrder:
    """``indices(epoch)``: ``num_samples`` draws with replacement from per-image weights."""

    def __init__(self, labels: list[int], num_classes: int, power: float, num_samples: int, seed: int):
        counts = [0] * num_classes
        for y in labels:
            counts[y] += 1
        self.weights = [counts[y] ** -power for y in labels]
        self.n = num_samples or len(labels)
        self.seed = seed

    def indices(self, epoch: int) -> list[int]:
        import torch

        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        w = torch.tensor(self.weights, dtype=torch.float64)
        return torch.multinomial(w, self.n, replacement=True, generator=g).tolist()

    def __len__(self) -> int:
        return self.n


def _check(labels: list[int], num_samples: int) -> None:
    if not labels:
        raise RecipeError("sampler: the training split is empty.")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 0:
        raise RecipeError(f"sampler.num_samples: must be an integer >= 0 (0: the training-set size), not {num_samples!r}.")


def class_balanced(labels: list[int], num_classes: int, seed: int, num_samples: int = 0):
    """Every class equally often: draws with replacement, weight 1/n_class per image."""
    _check(labels, num_samples)
    return WeightedOrder(labels, num_classes, 1.0, num_samples, seed)


def sqrt_balanced(labels: list[int], num_classes: int, seed: int, num_samples: int = 0):
    """Square-root rebalancing: draws with replacement, weight 1/sqrt(n_class) per image."""
    _check(labels, num_samples)
    return WeightedOrder(labels, num_classes, 0.5, num_samples, seed)
