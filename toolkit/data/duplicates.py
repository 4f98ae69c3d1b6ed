"""Exact and near-duplicate images: which images show the same frame, groups, and label conflicts.

Screenshots cut from recordings come in runs of nearly identical frames. A random split puts
copies of one frame on both sides, and the validation score that picks ``best.pt`` then
measures memory, not generalisation. tk therefore groups near-duplicates and keeps every
group on one side of the split (`toolkit.data.split`).

**What counts as the same frame.** Two images are near-duplicates when one is the other
re-encoded (JPEG), shifted by a few pixels, with a mouse cursor drawn on, or with one
notification-sized panel over it near the screen's edge — and nothing else differs. Other pages
of one deck, a black frame and a dark striped wallpaper, a blue screen and a "No Signal" box on
that blue, a title page and a "The End" slide are not, however alike they look in a small
thumbnail. The test (`same_frame_pairs`), run on pairs of frame features:

* **Frame features** (`frame_features`, `FEATURE_BYTES` per image): the image decoded from its
  file (JPEGs at reduced scale for `FEATURE_DECODE`, whatever size a recipe trains at), as grey
  levels at 320×180 (box-filtered: PIL's ``reduce``) and as colour at 32×18; the 160×90 grey
  frame the first checks use is derived from the 320×180 one (a triangle filter, integer
  arithmetic). Computed while decoding, from the decoded image where it is the decode they need,
  stored in the image store beside the pixels (`toolkit.data.store`), the same for every recipe:
  `tk data check`, `tk data doctor`, ``tk run --dry-run`` and `tk run` on one folder see the same
  groups and the same split, whatever ``data.image_size``.
* **Candidates**: pairs whose 16×9 grey thumbnails (sums of 10×10 blocks of the 160×90 frame)
  are within `CANDIDATE_RADIUS` (Euclidean) and differ by more than 12 grey levels, allowing each
  block the range of its neighbours (a shift), in at most two blocks of the inner 14×7 besides
  one notification-sized cluster of blocks at an edge. Exact integer arithmetic: the same images
  give the same candidates on any machine and thread count.
* **Pre-test** (`frame_pairs._alike`): a pixel of the 160×90 frames, compared without aligning
  them, is changed when it lies more than `GREY_TOLERANCE` outside the other frame's 5×5 range
  and its 3×3 mean more than that outside the range of the other's means over 9×9; a pair with
  more than `CHANGED_BUDGET` of its pixels changed, besides the most one panel can cover, is not
  the same frame. Such a pixel differs in the test below at any shift it picks within 2 pixels,
  and a copy moved by up to 4 pixels keeps its means within that range, so the pre-test lets it
  through unaligned. It answers most candidates — other pages of one deck differ in whole
  blocks of text — in a few passes over bytes; on the real screenshots and on drawn screens with
  recorded copies it refuses none that the test accepts (``tests/data/test_same_frame_shortcuts.py``).
* **Plain copies** (`frame_pairs._plainly_same`): a pair that passes the pre-test's middle rows
  and agrees without being moved — every 160×90 pixel within `GREY_TOLERANCE` of its twin, every
  colour cell within `COLOUR_TOLERANCE`, at most `FINE_BUDGET` pixels of the 320×180 frames more
  than `FINE_TOLERANCE` apart — is the same frame: no comparison of the test below differs at no
  shift, so no shift is searched. Recorded frames of one still screen (re-encoded, no cursor
  moved) are such pairs; in a run of them every pair is the same frame, and this is what keeps
  a long run from costing the whole test per pair.
* **Verification at 160×90** of each candidate: the second frame is aligned to the first (the
  shift of at most ±4 pixels at 160×90 with the smallest clipped difference, searched at half
  size, then refined), then a pixel differs when it is outside the range of the other frame's
  3×3 neighbourhood by more than `GREY_TOLERANCE` grey levels, or its 5×5 colour cell by more
  than `COLOUR_TOLERANCE` in a channel (a black frame against navy or a striped wallpaper
  differs everywhere). The pair passes when at most `CHANGED_BUDGET` of the pixels differ (a
  cursor, a few re-encoding artefacts), once one panel is forgiven: a connected patch of
  changes within 10% of the frame's height from the top or the bottom, covering 0.5–6% of the
  frame, at most 40% of its width and 20% of its height (a notification toast; a "No Signal"
  box in the middle of the screen is not forgiven). The test is not symmetric (the second
  frame's colour cells are interpolated to the first's), so a pair that fails with at most
  `RETRY_CHANGED` (3%) of the pixels changed is tried the other way round as well.
* **The fine check at 320×180** of the pairs that pass (`frame_fine._fine_same`): at 160×90 one
  changed word on a slide is a few grey pixels, as small as a cursor. Aligned again (twice the
  shift, refined by a pixel), a pixel differs strictly when it lies outside the range its twin
  spans within half a pixel by more than `FINE_TOLERANCE` (40) grey levels: JPEG noise stays
  inside, a changed word does not. Forgiven: one notification panel (as above, and at least 5%
  of the height: taller than one line of a slide title) and the largest cursor-sized patch
  (`CURSOR_WH`: 5% of the width, 10% of the height); at most `FINE_BUDGET` pixels may differ
  besides. A frame that moved by a fraction of a pixel (1–3 px of a 1280×720 screen) differs
  strictly along all its edges; it is recognised by least squares — its differences are the
  frame's gradient times one small shift, which explains at least `MOVED_EXPLAINED` of their
  energy, where a changed word or a cursor explains none — and compared blurred instead (3×3
  means against the twin's 3×3 range, at most `BLUR_BUDGET` pixels besides the panel and the
  cursor). Limit: a page with one changed word that is *also* shifted by a fraction of a pixel
  passes the blurred comparison; complete linkage keeps it out of a group that holds the
  unshifted page it differs from.
* **Groups**: complete linkage over verified pairs — two groups merge only when every image
  of one is verified the same frame as every image of the other, so a chain of merely similar
  slides never joins 22 pages of one deck. Images with identical features are one image for
  this. Pairs are merged in order of their squared difference at 320×180 (the closest first),
  ties broken by the order of the images' 64-bit feature fingerprints, so the groups do not
  depend on the order the images were listed in.

The test is computed with shortcuts that never change an answer (``frame_views``: per-image
thresholds; ``frame_ops._search_shift``: shifts whose partial score already loses are dropped;
``frame_forgive._unforgivable``: an upper bound of what a panel and a cursor can forgive;
answers that are the same either way round reused for the retry), each checked against the
plain computation by ``tests/data/test_same_frame_shortcuts.py``.
* **Regular-expression groups** (``data.group_by = "<regex>"``): the first capture group of
  the expression, searched in each image's path relative to the data folder, names its group
  (a recording, a deck, a session); an image that does not match is a group of its own.

`near_duplicate_groups` keeps the former test (the Hamming distance of 64-bit perceptual
hashes ≤ 8 bits, connected components) for comparison: ``benchmarks/near_duplicates.py``
measures both on real screenshots.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.data.frames import (  # re-exported: the method is described above
    FEATURE_BYTES, FEATURE_DECODE, FEATURE_VERSION, candidate_pairs, decode_features, features_hash, frame_features,
    same_frame_groups, same_frame_pairs)
from toolkit.recipe.load import compile_group_pattern

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DEFAULT_BITS", "FEATURE_BYTES", "FEATURE_DECODE", "FEATURE_VERSION", "HASH_BITS", "GroupReport",
           "candidate_pairs", "decode_features", "features_hash", "frame_features", "image_hash",
           "near_duplicate_groups", "regex_groups", "group_report", "compile_group_pattern", "same_frame_groups",
           "same_frame_pairs"]

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
