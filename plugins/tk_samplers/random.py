"""Uniform shuffling, a new permutation each epoch, deterministic by seed and epoch."""

from __future__ import annotations


class RandomOrder:
    """Every training image once per epoch, in a seeded random order."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed = n, seed

    def indices(self, epoch: int) -> list[int]:
        import torch

        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __len__(self) -> int:
        return self.n


def random_sampler(labels: list[int], seed: int):
    """Shuffle all training images each epoch."""
    return RandomOrder(len(labels), seed)
