"""Near-duplicate groups and group-aware splits: no group ever straddles train / val / test."""

from __future__ import annotations

import random

import numpy as np
import pytest

from toolkit.core.errors import DataError
from toolkit.data.duplicates import group_report, near_duplicate_groups, regex_groups
from toolkit.data.split import fold_indices, split_indices, straddling_groups


def test_groups_are_connected_components_of_the_hamming_threshold():
    base = 0x0F0F_0F0F_0F0F_0F0F
    hashes = [base, base ^ 0b111, base ^ 0b111 ^ (0b111 << 20), ~base & (2**64 - 1), base]
    # 0–1 differ in 3 bits, 1–2 in 3 more (a chain: 0–2 differ in 6), 3 is far, 4 equals 0
    assert near_duplicate_groups(hashes, 3) == [0, 0, 0, 1, 0]
    assert near_duplicate_groups(hashes, 2) == [0, 1, 2, 3, 0]  # only the exact copy joins
    assert near_duplicate_groups(hashes, 0) == [0, 1, 2, 3, 0]
    # blocks smaller than N give the same answer
    assert near_duplicate_groups(hashes, 3, block=2) == [0, 0, 0, 1, 0]


def test_group_report_names_conflicts_largest_first():
    report = group_report([0, 1, 1, 2, 2, 2, 3], labels=[0, 0, 1, 1, 1, 1, 0])
    assert report.groups == [[3, 4, 5], [1, 2]]
    assert report.conflicts == [[1, 2]]
    assert report.summary() == "2 groups of near-duplicate images (5 images, largest 3), 1 with conflicting labels"


def test_regex_groups_use_the_first_capture_group_and_leave_the_rest_alone():
    rel = ["slide/rec01_0001.png", "slide/rec01_0002.png", "other/rec02_0001.png", "other/loose.png",
           "slide/rec02_0003.png", "other/also_loose.png"]
    ids = regex_groups(rel, r"(rec\d+)_")
    assert ids[0] == ids[1] and ids[2] == ids[4] and ids[0] != ids[2]
    assert len({ids[3], ids[5], ids[0], ids[2]}) == 4


def _random_groups(rng: random.Random, n: int) -> tuple[list[int], list[int]]:
    labels, groups, g = [], [], 0
    while len(labels) < n:
        size = rng.choice([1, 1, 1, 2, 3, 8])
        y = rng.randrange(4)
        for _ in range(size):
            labels.append(y if rng.random() > 0.1 else rng.randrange(4))  # some groups mix labels
            groups.append(g)
        g += 1
    return labels[:n], groups[:n]


@pytest.mark.parametrize("seed", range(12))
def test_no_group_straddles_the_split(seed):
    rng = random.Random(seed)
    labels, groups = _random_groups(rng, rng.randrange(30, 200))
    split = split_indices(labels, val_fraction=0.2, test_fraction=0.1 if seed % 2 else 0.0, seed=seed, groups=groups)
    parts = {"train": split.train, "val": split.val, "test": split.test}
    assert sorted(split.train + split.val + split.test) == list(range(len(labels)))
    assert straddling_groups(parts, groups) == []
    assert split.groups_kept == sum(1 for g in set(groups) if groups.count(g) > 1)


def test_singleton_groups_give_exactly_the_ungrouped_split():
    labels = [i % 3 for i in range(60)]
    assert split_indices(labels, seed=4, groups=list(range(60))) == split_indices(labels, seed=4)


def test_a_class_that_is_one_group_is_trained_on_and_says_why_it_is_not_validated():
    labels = [0] * 20 + [1] * 6
    groups = list(range(20)) + [99] * 6
    split = split_indices(labels, seed=0, groups=groups, class_names=["many", "copies"])
    assert all(i in split.train for i in range(20, 26))
    assert "class 'copies' has 6 images, all near-duplicates of one another: it is in train only" in split.notes[0]


@pytest.mark.parametrize("folds", [2, 3, 5])
def test_folds_cover_every_image_once_and_keep_groups_whole(folds):
    labels, groups = _random_groups(random.Random(folds), 120)
    seen = []
    for fold in range(1, folds + 1):
        split = fold_indices(labels, folds=folds, fold=fold, seed=7, groups=groups)
        assert straddling_groups({"train": split.train, "val": split.val}, groups) == []
        assert sorted(split.train + split.val) == list(range(120))
        seen += split.val
    assert sorted(seen) == list(range(120))


def test_folds_keep_one_test_split_for_every_fold():
    labels, groups = _random_groups(random.Random(0), 100)
    tests = {tuple(fold_indices(labels, folds=3, fold=f, test_fraction=0.2, groups=groups).test) for f in (1, 2, 3)}
    assert len(tests) == 1 and len(next(iter(tests))) > 0


def test_too_few_groups_for_the_folds_is_one_clear_error():
    with pytest.raises(DataError, match="5 folds need at least 5 groups of images; there are 3"):
        fold_indices([0, 0, 1, 1, 1], folds=5, fold=1, groups=[0, 0, 1, 2, 2])


def test_distorted_copies_of_screens_hash_within_the_default_threshold(tmp_path):
    from tk_screens import write_with_copies

    from toolkit.data import decode_images, scan_folder

    copies = write_with_copies(tmp_path, {"slide": ("slide", 12, 12), "desk": ("not_slide_desktop", 12, 0)}, seed=3)
    index = scan_folder(tmp_path)
    decoded = decode_images(index.paths, 32, cache_dir=None)
    groups = near_duplicate_groups(decoded.hashes)
    names = [p.split("/")[-1] for p in index.paths]
    for name in copies["slide"]:  # every copy shares its original's group
        original = "slide/" + name.split("_of_")[1]
        i = index.paths.index(str(tmp_path / "slide" / name))
        j = [k for k, p in enumerate(index.paths) if p.endswith(original)][0]
        assert groups[i] == groups[j], name
    originals = [groups[k] for k, n in enumerate(names) if not n.startswith("copy")]
    assert len(set(originals)) == len(originals)  # and no two distinct screens are grouped


def test_hashes_come_back_from_the_cache(tmp_path):
    from tk_screens import write_with_copies

    from toolkit.data import decode_images, scan_folder

    write_with_copies(tmp_path / "d", {"a": ("slide", 4, 2), "b": ("not_slide_others", 3, 0)}, seed=1)
    paths = scan_folder(tmp_path / "d").paths
    first = decode_images(paths, 24, cache_dir=tmp_path / "cache")
    again = decode_images(paths, 24, cache_dir=tmp_path / "cache")
    assert again.cached == len(paths) and np.array_equal(first.hashes, again.hashes)
    assert (first.hashes != 0).all()
