"""Stratified train/val/test splits that survive tiny classes.

The reference dataset has a class of 4 images and real datasets have classes of 1. Plain
`train_test_split(stratify=...)` refuses those, and when it works it may leave a 4-image class
out of validation, so its accuracy is never measured. Here:

* scikit-learn's stratified split is used whenever it accepts the data, so a recipe with
  `seed = 42` reproduces the split of a script that called
  `train_test_split(x, y, test_size=0.2, stratify=y, random_state=42)`;
* otherwise each class is split on its own (`max(1, round(n * fraction))` held out);
* then every class is repaired: at least 1 image in train, at least 1 in val when it has 2,
  at least 1 in test (when asked for) when it has 3; what cannot be done becomes a `note`.

With ``groups`` (near-duplicates, or a recording id: `toolkit.data.duplicates`) the unit of
the split is the group, not the image: groups are split as above, stratified by their
majority label, and every member follows its group, so no group straddles train, val and
test. When every group is a single image the result is exactly the ungrouped split.
`fold_indices` does the same for k-fold cross-validation (scikit-learn's
`StratifiedGroupKFold`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.core.errors import DataError

__all__ = ["Split", "split_indices", "split_from_presplit", "fold_indices", "straddling_groups"]

_PARTS = ("train", "val", "test")


@dataclass
class Split:
    """Indices into the dataset's samples for each part, and user-facing notes about them."""

    train: list[int]
    val: list[int]
    test: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    groups_kept: int = 0  # groups of 2+ images kept on one side of the split
    images_in_groups: int = 0

    def to_json(self) -> dict[str, Any]:
        """A plain dict (JSON-ready); the engine adds paths beside it in the run folder."""
        return {"train": list(self.train), "val": list(self.val), "test": list(self.test),
                "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Split:
        """Inverse of `to_json`; a damaged split file is a `DataError`, not a KeyError."""
        try:
            parts = {p: [int(i) for i in data.get(p, [])] for p in _PARTS}
            notes = [str(n) for n in data.get("notes", [])]
        except (AttributeError, TypeError, ValueError) as exc:
            raise DataError(f"the saved split is damaged ({exc}): start the run with --fresh") from None
        if not parts["train"]:
            raise DataError("the saved split has no training images: start the run with --fresh")
        return cls(parts["train"], parts["val"], parts["test"], notes)

    def validate(self, num_samples: int) -> None:
        """Raise `DataError` unless the parts are disjoint and inside `0..num_samples-1`."""
        everything = [*self.train, *self.val, *self.test]
        if len(set(everything)) != len(everything):
            raise DataError("the split uses some images twice: start the run with --fresh")
        if everything and not 0 <= min(everything) <= max(everything) < num_samples:
            raise DataError(
                f"the split refers to images beyond the {num_samples} found: the dataset "
                "changed since it was made; start the run with --fresh"
            )


def split_indices(
    labels: Sequence[int],
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
    groups: Sequence[int] | None = None,
) -> Split:
    """Split sample indices into train/val/test, stratified by `labels`, deterministic by seed.

    `class_names` only makes the notes readable (`class 'desktop'` instead of `class 2`).
    `groups` (a group id per sample) keeps each group on one side (module docstring).

    Test is taken first, then val from the rest (with `val_fraction / (1 - test_fraction)`),
    as two-step scripts do, so `val_fraction` and `test_fraction` are both shares of the
    whole dataset. Each returned list is sorted.
    """
    _check_fractions(val_fraction, test_fraction)
    labels = [int(y) for y in labels]
    members = _units(groups, len(labels))
    if members is not None:
        unit_labels = _majority(members, labels)
        inner = _split_units(unit_labels, val_fraction, test_fraction, seed, class_names, [len(m) for m in members])
        expand = lambda ids: sorted(i for u in ids for i in members[u])  # noqa: E731
        big = [m for m in members if len(m) > 1]
        return Split(expand(inner.train), expand(inner.val), expand(inner.test), inner.notes,
                     groups_kept=len(big), images_in_groups=sum(len(m) for m in big))
    return _split_units(labels, val_fraction, test_fraction, seed, class_names, None)


def _units(groups: Sequence[int] | None, n: int) -> list[list[int]] | None:
    """Members of each group, in order of first member — None when every group is one sample."""
    if groups is None:
        return None
    if len(groups) != n:
        raise ValueError(f"{len(groups)} group ids for {n} samples")
    order: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        order.setdefault(int(g), []).append(i)
    if all(len(m) == 1 for m in order.values()):
        return None
    return list(order.values())


def _majority(members: list[list[int]], labels: list[int]) -> list[int]:
    from collections import Counter

    return [min(Counter(labels[i] for i in m).most_common(), key=lambda kv: (-kv[1], kv[0]))[0] for m in members]


def _split_units(labels: list[int], val_fraction: float, test_fraction: float, seed: int,
                 class_names: Sequence[str] | None, sizes: list[int] | None) -> Split:
    """The split of units (images, or groups of ``sizes`` images each)."""
    everything = list(range(len(labels)))
    test: list[int] = []
    rest = everything
    if test_fraction > 0:
        rest, test = _stratified(rest, labels, test_fraction, seed)
    val: list[int] = []
    train = rest
    if val_fraction > 0:
        train, val = _stratified(rest, labels, val_fraction / (1.0 - test_fraction), seed)
    parts = {"train": train, "val": val, "test": test}
    notes = _repair(parts, labels, val_fraction > 0, test_fraction > 0, seed, class_names, sizes)
    return Split(sorted(parts["train"]), sorted(parts["val"]), sorted(parts["test"]), notes)


def split_from_presplit(
    presplit: dict[str, list[int]],
    labels: Sequence[int],
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
) -> Split:
    """Keep a folder's own train/val/test; carve val out of train only if it has none."""
    if presplit.get("val"):
        return Split(sorted(presplit.get("train", [])), sorted(presplit["val"]),
                     sorted(presplit.get("test", [])))
    train = list(presplit.get("train", []))
    inner = split_indices([labels[i] for i in train], val_fraction=val_fraction, seed=seed,
                          class_names=class_names)
    notes = ["the folder has no val split: it was taken from train", *inner.notes]
    return Split(sorted(train[i] for i in inner.train), sorted(train[i] for i in inner.val),
                 sorted(presplit.get("test", [])), notes)


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise DataError(f"{name} must be at least 0 and below 1, not {value}")
    if val_fraction + test_fraction >= 1.0:
        raise DataError(
            f"val_fraction + test_fraction is {val_fraction + test_fraction:g}: "
            "it must stay below 1 to leave images for training"
        )


def _stratified(
    indices: list[int], labels: list[int], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """(kept, held_out): scikit-learn's stratified split, or per-class when it refuses."""
    from sklearn.model_selection import train_test_split

    ys = [labels[i] for i in indices]
    try:
        kept, held = train_test_split(indices, test_size=fraction, stratify=ys, random_state=seed)
        return list(kept), list(held)
    except ValueError:  # a class with 1 image, or fewer held-out images than classes
        pass
    rng = random.Random(seed)
    kept, held = [], []
    for y in sorted(set(ys)):
        members = [i for i in indices if labels[i] == y]
        rng.shuffle(members)
        n = len(members)
        k = min(n - 1, max(1, round(n * fraction))) if n >= 2 else 0
        held += members[:k]
        kept += members[k:]
    return kept, held


def _repair(
    parts: dict[str, list[int]],
    labels: list[int],
    want_val: bool,
    want_test: bool,
    seed: int,
    class_names: Sequence[str] | None,
    sizes: list[int] | None = None,
) -> list[str]:
    """Move images between parts so each class meets its minimums; return the notes."""
    rng = random.Random(seed)
    where = {i: p for p, idx in parts.items() for i in idx}
    by_class: dict[int, list[int]] = {}
    for i in sorted(where):
        by_class.setdefault(labels[i], []).append(i)
    notes: list[str] = []
    for y, members in sorted(by_class.items()):
        n = len(members)
        minimum = {"train": 1, "val": int(want_val and n >= 2),
                   "test": int(want_test and n >= 2 + want_val)}
        for part in _PARTS:
            while sum(where[i] == part for i in members) < minimum[part]:
                donor = max(_PARTS, key=lambda p: sum(where[i] == p for i in members) - minimum[p])
                choice = rng.choice(sorted(i for i in members if where[i] == donor))
                where[choice] = part
        name = repr(class_names[y]) if class_names is not None else str(y)
        images = n if sizes is None else sum(sizes[i] for i in members)
        notes += _class_notes(name, n, want_val, want_test, images)
    for part in _PARTS:
        parts[part] = [i for i in sorted(where) if where[i] == part]
    return notes


def _class_notes(name: str, n: int, want_val: bool, want_test: bool, images: int | None = None) -> list[str]:
    """Notes on a class of ``n`` units (``images`` images in all, when the units are groups)."""
    images = n if images is None else images
    what = f"{images} images" if images == n else f"{images} images in {n} groups of near-duplicates"
    if n == 1 and (want_val or want_test):
        unmeasured = "validated" if want_val else "tested"
        one = "1 image" if images == 1 else f"{images} images, all near-duplicates of one another"
        return [f"class {name} has {one}: it is in train only and cannot be {unmeasured}"]
    if want_test and n < 2 + want_val:
        return [f"class {name} has {what}: none is left for test"]
    return []


def fold_indices(
    labels: Sequence[int],
    *,
    folds: int,
    fold: int,
    test_fraction: float = 0.0,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
    groups: Sequence[int] | None = None,
) -> Split:
    """Fold ``fold`` (1-based) of ``folds``-fold stratified group cross-validation: that fold is
    the validation split, the others train. A test split (``test_fraction``) is carved out
    first, the same for every fold, and never validated on."""
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    if not 2 <= folds <= 100 or not 1 <= fold <= folds:
        raise DataError(f"fold {fold} of {folds}: folds must be 2–100 and the fold between 1 and folds")
    labels = [int(y) for y in labels]
    gids = [int(g) for g in groups] if groups is not None else list(range(len(labels)))
    outer = split_indices(labels, val_fraction=0.0, test_fraction=test_fraction, seed=seed,
                          class_names=class_names, groups=gids) if test_fraction > 0 else \
        Split(list(range(len(labels))), [], [])
    rest = outer.train
    n_groups = len({gids[i] for i in rest})
    if n_groups < folds:
        raise DataError(f"{folds} folds need at least {folds} groups of images; there are {n_groups}: use at most "
                        f"{n_groups} folds")
    largest = max(sum(1 for i in rest if labels[i] == y) for y in set(labels[i] for i in rest))
    if largest < folds:  # scikit-learn refuses to stratify when every class has fewer images than folds
        raise DataError(f"{folds} folds need a class with at least {folds} images; the largest has {largest}: use "
                        f"at most {largest} folds")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed % 2**32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "the least populated class has only n members"
        try:
            chosen = list(splitter.split(rest, [labels[i] for i in rest], [gids[i] for i in rest]))[fold - 1]
        except ValueError as exc:
            raise DataError(f"cannot make {folds} stratified folds of these images ({exc}); use fewer folds") from None
    train, val = sorted(rest[j] for j in chosen[0]), sorted(rest[j] for j in chosen[1])
    notes = list(outer.notes)
    names = class_names or [str(y) for y in range(max(labels) + 1)]
    for y in sorted(set(labels[i] for i in rest)):
        if not any(labels[i] == y for i in val):
            notes.append(f"class {names[y]!r} has no image in fold {fold} of {folds} (too few groups): "
                         f"its recall is not measured in this fold")
    sizes: dict[int, int] = {}
    for g in gids:
        sizes[g] = sizes.get(g, 0) + 1
    big = [g for g, n in sizes.items() if n > 1]
    return Split(train, val, sorted(outer.test), notes, groups_kept=len(big),
                 images_in_groups=sum(sizes[g] for g in big))


def straddling_groups(parts: dict[str, Sequence[int]], groups: Sequence[int]) -> list[list[int]]:
    """Groups whose members sit in more than one part (leakage across a folder's own split)."""
    where: dict[int, set[str]] = {}
    members: dict[int, list[int]] = {}
    for part, ids in parts.items():
        for i in ids:
            where.setdefault(int(groups[i]), set()).add(part)
            members.setdefault(int(groups[i]), []).append(i)
    return [sorted(members[g]) for g, ps in where.items() if len(ps) > 1]
