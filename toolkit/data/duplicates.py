"""Exact and near-duplicate images: perceptual hashes, groups, and label conflicts.

Screenshots cut from recordings come in runs of nearly identical frames. A random split puts
copies of one frame on both sides, and the validation score that picks ``best.pt`` then
measures memory, not generalisation. tk therefore groups near-duplicates and keeps every
group on one side of the split (`toolkit.data.split`).

* **Hash**: the 64-bit perceptual hash of `imagehash.phash` (the DCT hash: grayscale,
  32×32, the sign of the 8×8 lowest frequencies against their median), computed on the
  decoded, resized pixels while decoding, and stored with them in the decode cache, so a
  cached run pays nothing for it.
* **Near-duplicate**: two images whose hashes differ in at most ``max_bits`` bits
  (``data.near_duplicate_bits``, default `DEFAULT_BITS` = 8 of 64). JPEG re-encoding, a
  cursor drawn on the frame or a shift of a few pixels typically move 0–8 bits; unrelated
  screenshots differ in about 32. Flat frames (black, blue, "no signal") hash alike
  whatever their noise: they are near-duplicates of one another, which is what they are.
* **Group**: the connected components of the near-duplicate relation (union–find), so
  a chain of consecutive frames forms one group.
* **Regular-expression groups** (``data.group_by = "<regex>"``): the first capture group of
  the expression, searched in each image's path relative to the data folder, names its group
  (a recording or session id); an image that does not match is a group of its own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.recipe import compile_group_pattern

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DEFAULT_BITS", "HASH_BITS", "GroupReport", "image_hash", "near_duplicate_groups", "regex_groups",
           "group_report", "compile_group_pattern"]

#: Bits of the perceptual hash.
HASH_BITS = 64
#: Default Hamming distance (bits of 64) at or below which two images are near-duplicates.
DEFAULT_BITS = 8


def image_hash(row: np.ndarray) -> int:
    """The perceptual hash of one decoded image (uint8, 3×H×W) as an unsigned 64-bit int."""
    import imagehash
    from PIL import Image

    import numpy as np

    bits = imagehash.phash(Image.fromarray(row.transpose(1, 2, 0))).hash.reshape(-1)
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def near_duplicate_groups(hashes: Sequence[int] | np.ndarray, max_bits: int = DEFAULT_BITS,
                          *, block: int = 2048) -> list[int]:
    """Group id per image (0, 1, … in order of first member): connected components of
    "Hamming distance ≤ ``max_bits``". Exact duplicates (distance 0) always share a group.

    All pairs are compared, ``block`` rows at a time (numpy's popcount), so memory stays at
    ``block × N`` bytes: 3k images take milliseconds, 100k images about a minute on one core.
    """
    import numpy as np

    h = np.asarray(hashes, dtype=np.uint64).reshape(-1)
    n = h.shape[0]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, n, block):
        rows = h[start:start + block]
        dist = np.bitwise_count(rows[:, None] ^ h[None, :])
        ii, jj = np.nonzero(dist <= max_bits)
        for i, j in zip((ii + start).tolist(), jj.tolist()):
            if j > i:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    ids: dict[int, int] = {}
    return [ids.setdefault(find(i), len(ids)) for i in range(n)]


def regex_groups(relpaths: Sequence[str], pattern: str) -> list[int]:
    """Group id per path from the first capture group of ``pattern`` (see the module docstring)."""
    compiled = compile_group_pattern(pattern)
    ids: dict[Any, int] = {}
    out = []
    for i, rel in enumerate(relpaths):
        m = compiled.search(rel.replace(os.sep, "/"))
        key = ("name", m.group(1)) if m and m.group(1) is not None else ("alone", i)
        out.append(ids.setdefault(key, len(ids)))
    return out


@dataclass
class GroupReport:
    """The groups of more than one image, largest first, and those whose labels disagree."""

    groups: list[list[int]] = field(default_factory=list)  # member indices, each sorted
    conflicts: list[list[int]] = field(default_factory=list)  # groups holding more than one label

    @property
    def images_in_groups(self) -> int:
        return sum(len(g) for g in self.groups)

    def summary(self) -> str:
        if not self.groups:
            return "no duplicate images"
        largest = len(self.groups[0])
        text = (f"{len(self.groups)} group{'s' if len(self.groups) != 1 else ''} of near-duplicate images "
                f"({self.images_in_groups} images, largest {largest})")
        if self.conflicts:
            text += f", {len(self.conflicts)} with conflicting labels"
        return text

    def to_json(self, paths: Sequence[str], labels: Sequence[int], class_names: Sequence[str]) -> dict[str, Any]:
        def members(group: list[int]) -> list[dict[str, str]]:
            return [{"path": paths[i], "label": class_names[labels[i]]} for i in group]

        return {"groups": len(self.groups), "images": self.images_in_groups,
                "largest": len(self.groups[0]) if self.groups else 0,
                "conflicts": [members(g) for g in self.conflicts],
                "members": [members(g) for g in self.groups]}


def group_report(group_ids: Sequence[int], labels: Sequence[int]) -> GroupReport:
    """Groups of two or more images (largest first, then by first member) and label conflicts."""
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group_ids):
        members.setdefault(int(g), []).append(i)
    groups = sorted((m for m in members.values() if len(m) > 1), key=lambda m: (-len(m), m[0]))
    conflicts = [m for m in groups if len({labels[i] for i in m}) > 1]
    return GroupReport(groups, conflicts)
