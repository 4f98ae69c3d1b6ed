"""Samplers: class balance on an imbalanced folder, determinism by seed and epoch."""

from __future__ import annotations

from collections import Counter

import pytest

from toolkit import RecipeError
from toolkit.data import scan_folder


def _sampler(plugins, name: str, labels: list[int], k: int, seed: int = 0, **params):
    return plugins.create("samplers", name, params, where="sampler",
                          context={"labels": labels, "num_classes": k, "seed": seed,
                                   "class_counts": [labels.count(i) for i in range(k)]})


@pytest.fixture
def imbalanced(tk_image_folder):
    """A real folder, 60 : 12 : 3 images."""
    index = scan_folder(tk_image_folder({"many": 60, "some": 12, "few": 3}, size=16))
    return index.labels, index.class_names


def test_class_balanced_draws_classes_about_equally(plugins, imbalanced):
    labels, names = imbalanced
    sampler = _sampler(plugins, "class_balanced", labels, len(names))
    drawn = Counter(labels[i] for epoch in range(8) for i in sampler.indices(epoch))
    total = sum(drawn.values())
    assert total == 8 * len(labels)  # an epoch is the training-set size by default
    shares = [drawn[c] / total for c in range(3)]
    assert all(abs(s - 1 / 3) < 0.05 for s in shares), shares
    few = names.index("few")
    assert drawn[few] > 50  # 3 images drawn ~200 times over 8 epochs: with replacement


def test_sqrt_balanced_sits_between_random_and_balanced(plugins, imbalanced):
    labels, names = imbalanced
    many = names.index("many")
    sampler = _sampler(plugins, "sqrt_balanced", labels, len(names))
    drawn = Counter(labels[i] for epoch in range(20) for i in sampler.indices(epoch))
    share = drawn[many] / sum(drawn.values())
    expected = 60 ** 0.5 / (60 ** 0.5 + 12 ** 0.5 + 3 ** 0.5)  # n_c · n_c^-1/2, normalised
    assert abs(share - expected) < 0.03 and 1 / 3 < share < 60 / 75


@pytest.mark.parametrize("name", ["random", "class_balanced", "sqrt_balanced"])
def test_deterministic_by_seed_and_epoch(plugins, imbalanced, name):
    labels, names = imbalanced
    a = _sampler(plugins, name, labels, 3, seed=7)
    b = _sampler(plugins, name, labels, 3, seed=7)
    assert a.indices(2) == b.indices(2)
    assert a.indices(2) != a.indices(3)
    assert a.indices(2) != _sampler(plugins, name, labels, 3, seed=8).indices(2)


def test_num_samples_sets_the_epoch_length(plugins, imbalanced):
    labels, _ = imbalanced
    assert len(_sampler(plugins, "class_balanced", labels, 3, num_samples=30).indices(0)) == 30
    with pytest.raises(RecipeError, match="sampler.num_samples"):
        _sampler(plugins, "class_balanced", labels, 3, num_samples=-1)
