"""toolkit.data.split: stratified, deterministic, and kind to classes of 1 to 4 images."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from toolkit.core.errors import DataError
from toolkit.data import Split, split_from_presplit, split_indices

REFERENCE = [0] * 2530 + [1] * 479 + [2] * 62 + [3] * 36 + [4] * 26 + [5] * 15 + [6] * 4


def _per_class(labels: list[int], idx: list[int]) -> Counter:
    return Counter(labels[i] for i in idx)


def test_tiny_classes():
    labels = [0] * 20 + [1] * 4 + [2]
    split = split_indices(labels, val_fraction=0.2, seed=0, class_names=["big", "four", "one"])
    assert _per_class(labels, split.val) == {0: 4, 1: 1}
    assert _per_class(labels, split.train) == {0: 16, 1: 3, 2: 1}
    assert split.test == []
    assert split.notes == ["class 'one' has 1 image: it is in train only and cannot be validated"]


def test_reference_workload_matches_sklearn_and_validates_every_class():
    from sklearn.model_selection import train_test_split

    split = split_indices(REFERENCE, val_fraction=0.2, seed=42)
    _, expected = train_test_split(range(len(REFERENCE)), test_size=0.2, stratify=REFERENCE,
                                   random_state=42)
    assert split.val == sorted(expected)  # the same split a plain script would have made
    assert set(_per_class(REFERENCE, split.val)) == set(range(7))  # the 4-image class too
    assert split.notes == []


def test_two_image_class_is_never_all_in_val():
    split = split_indices([0, 0, 1, 1], val_fraction=0.9, seed=3)
    assert _per_class([0, 0, 1, 1], split.train) == {0: 1, 1: 1}


def test_parts_are_disjoint_complete_sorted_and_deterministic():
    labels = [i % 5 for i in range(203)] + [5, 5, 6]
    a = split_indices(labels, val_fraction=0.15, test_fraction=0.15, seed=7)
    b = split_indices(labels, val_fraction=0.15, test_fraction=0.15, seed=7)
    c = split_indices(labels, val_fraction=0.15, test_fraction=0.15, seed=8)
    assert a == b and a != c
    everything = a.train + a.val + a.test
    assert sorted(everything) == list(range(len(labels)))
    assert all(part == sorted(part) for part in (a.train, a.val, a.test))
    assert abs(len(a.test) - 0.15 * len(labels)) <= 7 and abs(len(a.val) - 0.15 * len(labels)) <= 7
    assert a.notes == ["class 5 has 2 images: none is left for test",
                       "class 6 has 1 image: it is in train only and cannot be validated"]
    a.validate(len(labels))


def test_three_way_with_three_images_fills_every_part():
    split = split_indices([0, 0, 0, 1, 1, 1], val_fraction=0.1, test_fraction=0.1)
    for part in (split.train, split.val, split.test):
        assert _per_class([0, 0, 0, 1, 1, 1], part) == {0: 1, 1: 1}


def test_no_val():
    split = split_indices([0, 1, 0, 1], val_fraction=0.0)
    assert split.train == [0, 1, 2, 3] and split.val == [] and split.notes == []


@pytest.mark.parametrize("val,test", [(1.0, 0.0), (-0.1, 0.0), (0.6, 0.4)])
def test_bad_fractions(val, test):
    with pytest.raises(DataError):
        split_indices([0, 1] * 10, val_fraction=val, test_fraction=test)


def test_json_round_trip():
    split = split_indices([0] * 6 + [1] * 4 + [2], class_names=["a", "b", "c"])
    data = json.loads(json.dumps(split.to_json()))
    assert set(data) == {"train", "val", "test", "notes"}
    assert Split.from_json(data) == split


@pytest.mark.parametrize("data", [{"train": "x"}, {"train": []}, {"train": [None]}, []])
def test_damaged_json_is_a_data_error(data):
    with pytest.raises(DataError):
        Split.from_json(data)


def test_validate_catches_overlap_and_range():
    with pytest.raises(DataError, match="twice"):
        Split([0, 1], [1]).validate(3)
    with pytest.raises(DataError, match="beyond"):
        Split([0, 1], [7]).validate(3)


def test_presplit_kept_or_val_carved_from_train():
    labels = [0, 0, 0, 0, 1, 1, 1, 1, 0, 1]
    kept = split_from_presplit({"train": [0, 1, 2, 3, 4, 5, 6, 7], "val": [9, 8]}, labels)
    assert kept.train == list(range(8)) and kept.val == [8, 9] and kept.notes == []
    carved = split_from_presplit({"train": list(range(8)), "test": [8, 9]}, labels)
    assert carved.test == [8, 9] and _per_class(labels, carved.val) == {0: 1, 1: 1}
    assert sorted(carved.train + carved.val) == list(range(8))
    assert carved.notes == ["the folder has no val split: it was taken from train"]
