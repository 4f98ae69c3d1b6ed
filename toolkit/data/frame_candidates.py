"""Candidate pairs for the same-frame test: images whose thumbnails are alike (`toolkit.data.duplicates`
describes the method). Exact integer arithmetic: the same images give the same candidates on any
machine and thread count."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_features import _coarse, _split, _thumbs
from toolkit.data.frame_ops import _range3
from toolkit.data.frame_spec import CANDIDATE_RADIUS, FRAME_HW, THUMB_HW

if TYPE_CHECKING:
    import numpy as np


def candidate_pairs(features: np.ndarray, *, block: int = 1024, coarse: np.ndarray | None = None) -> np.ndarray:
    """Pairs (i < j, K×2 int64) worth verifying (module docstring): exact integer arithmetic.
    ``coarse``: the features' 160×90 frames (`_coarse`), when already computed."""
    import numpy as np

    n = features.shape[0]
    if n < 2:
        return np.zeros((0, 2), np.int64)
    if coarse is None:
        coarse = _coarse(_split(features)[0])
    thumbs = _thumbs(coarse)
    flat = thumbs.reshape(n, -1).astype(np.float64)  # integers below 2**53: the products and sums are exact
    sq = (flat * flat).sum(axis=1)
    cells = (FRAME_HW[0] // THUMB_HW[0]) * (FRAME_HW[1] // THUMB_HW[1])
    radius2 = float((CANDIDATE_RADIUS * cells) ** 2)
    found = []
    for start in range(0, n, block):
        rows = flat[start:start + block]
        d2 = sq[start:start + block, None] + sq[None, :] - 2.0 * (rows @ flat.T)
        ii, jj = np.nonzero(d2 <= radius2)
        keep = jj > ii + start
        found.append(np.stack([ii[keep] + start, jj[keep]], axis=1))
    pairs = np.concatenate(found) if found else np.zeros((0, 2), np.int64)
    if not len(pairs):
        return pairs.astype(np.int64)
    # (a second test on 32×18 thumbnails cut this set's candidates six-fold, but a shift of a few
    # pixels moves thin content past a 5×5 block: it lost shifted copies of 320×180 screens)
    return pairs[_coarse_same(thumbs, pairs, cells)].astype(np.int64)


def _coarse_same(thumbs: np.ndarray, pairs: np.ndarray, cells: int, band: int = 3, width: int = 7,
                 spots: int = 2, reach: int = 1) -> np.ndarray:
    """Thumbnail test of candidate ``pairs`` (K×2 indices into N thumbnails): leaving out the
    outer ring of blocks (what a shift uncovers), at most ``spots`` blocks (2 of the 16×9; a
    cursor) differ by more than 12 grey levels beyond their neighbours' range, besides those of one
    notification: up to ``band`` rows of blocks at the top or the bottom, spanning fewer than
    ``width`` columns. Neighbours: the 3×3 blocks around (5×5 with ``reach=2``: small blocks,
    where a shift of a few pixels moves content past the next block). Each thumbnail's
    neighbourhood range is computed once, not once per pair."""
    import numpy as np

    t = thumbs.astype(np.int16 if cells * (255 + 12) < 2**15 else np.int32)  # block sums of `cells` pixels
    lo, hi = _range3(t, reach)
    inner = np.s_[:, reach:-reach, reach:-reach]
    t, hi, lo = t[inner], hi[inner] + 12 * cells, lo[inner] - 12 * cells  # thresholds: "more than 12 levels beyond"
    keep = np.zeros(len(pairs), bool)
    for start in range(0, len(pairs), 4096):
        i, j = pairs[start:start + 4096, 0], pairs[start:start + 4096, 1]
        a, b = t[i], t[j]
        changed = (a > hi[j]) | (a < lo[j]) | (b > hi[i]) | (b < lo[i])
        middle = changed[:, band:-band].sum(axis=(1, 2))
        top, bottom = changed[:, :band], changed[:, -band:]

        def narrow(rows: np.ndarray) -> np.ndarray:  # the band's changed blocks lie within `width` columns
            cols = rows.any(axis=1)
            first = np.where(cols.any(axis=1), cols.argmax(axis=1), 0)
            last = np.where(cols.any(axis=1), cols.shape[1] - 1 - cols[:, ::-1].argmax(axis=1), 0)
            return last - first < width

        n_top, n_bottom = top.sum(axis=(1, 2)), bottom.sum(axis=(1, 2))
        keep[start:start + 4096] = ((middle + n_top + n_bottom <= spots)
                                    | ((middle + n_bottom <= spots) & narrow(top))
                                    | ((middle + n_top <= spots) & narrow(bottom)))
    return keep
