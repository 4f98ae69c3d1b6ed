"""Candidate pairs of same-frame images and their verification at 160×90 (`toolkit.data.duplicates`
describes the method); pairs that pass go on to the fine check (`toolkit.data.frame_fine`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_features import _coarse, _split, _thumbs
from toolkit.data.frame_fine import _fine_same, _panel
from toolkit.data.frame_ops import (
    _blur3,
    _fractional_shift,
    _halve,
    _outside,
    _range3,
    _refine,
    _shift_windows,
)
from toolkit.data.frame_spec import (
    CANDIDATE_RADIUS,
    CHANGED_BUDGET,
    COLOUR_HW,
    COLOUR_TOLERANCE,
    FRAME_HW,
    GREY_TOLERANCE,
    MAX_SHIFT,
    RETRY_CHANGED,
    THUMB_HW,
)

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

    t = thumbs.astype(np.int32)  # block sums of at most 100 pixels: far below 2**31
    lo, hi = _range3(t, reach)
    keep = np.zeros(len(pairs), bool)
    for start in range(0, len(pairs), 4096):
        i, j = pairs[start:start + 4096, 0], pairs[start:start + 4096, 1]
        a, b = t[i], t[j]
        outside = np.maximum(np.maximum(a - hi[j], lo[j] - a), np.maximum(b - hi[i], lo[i] - b))
        changed = (outside > 12 * cells)[:, reach:-reach, reach:-reach]
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


def same_frame_pairs(features: np.ndarray, pairs: np.ndarray, *, chunk: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Verify ``pairs`` (K×2 indices into ``features``): (same-frame bool K, pixels that differ
    at 160×90 outside a forgiven panel K) — module docstring."""
    same, changed, _ = _scored_pairs(features, pairs, chunk=chunk)
    return same, changed


def _scored_pairs(features: np.ndarray, pairs: np.ndarray, *, chunk: int = 128,
                  coarse: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """`same_frame_pairs` and, for pairs found the same, their squared difference at 320×180."""
    import numpy as np

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    same = np.zeros(len(pairs), bool)
    changed = np.zeros(len(pairs), np.int64)
    score = np.zeros(len(pairs), np.int64)
    grey, colour = _split(features)
    if coarse is None:
        used = np.unique(pairs)
        coarse = np.zeros((len(grey), *FRAME_HW), np.uint8)
        if len(used):
            coarse[used] = _coarse(grey[used])  # once per image, not per pair
    for start in range(0, len(pairs), chunk):
        part = pairs[start:start + chunk]
        i, j = part[:, 0], part[:, 1]
        s, c, f = _verify((coarse[i], coarse[j]), (grey[i], grey[j]), colour[i], colour[j])
        same[start:start + chunk], changed[start:start + chunk], score[start:start + chunk] = s, c, f
    # the test is not symmetric (the colour cells of the second frame are interpolated to the first's;
    # each alignment step keeps the shift it starts from unless another is clearly better): a pair that
    # failed by at most `RETRY_CHANGED` of the pixels is tried the other way round
    again = np.nonzero(~same & (changed <= RETRY_CHANGED * FRAME_HW[0] * FRAME_HW[1]))[0]
    for start in range(0, len(again), chunk):
        rows = again[start:start + chunk]
        i, j = pairs[rows, 1], pairs[rows, 0]
        s, c, f = _verify((coarse[i], coarse[j]), (grey[i], grey[j]), colour[i], colour[j])
        same[rows], score[rows], changed[rows] = s, np.where(s, f, score[rows]), np.where(s, c, changed[rows])
    return same, changed, score


def _align_half(a2: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """Per pair, the shift (dy, dx) of ``b2`` (half size: ±2, so ±4 px of the 160×90 frame) that
    best matches ``a2``. The score is the absolute difference clipped at 32 grey levels a pixel;
    a shift replaces the best so far only when it halves the score, starting from no shift: a
    frame really moved matches far better once aligned, while an overlay near the edge (a toast
    on a black frame) must not pull the frame out of place."""
    import numpy as np

    p = a2.shape[0]
    best = np.zeros((p, 2), np.int64)
    best_score = None
    padded2 = np.pad(b2, ((0, 0), (2, 2), (2, 2)), mode="edge")
    inner = a2[:, 2:-2, 2:-2]
    for dy, dx in [(0, 0)] + [(y, x) for y in range(-2, 3) for x in range(-2, 3) if (y, x) != (0, 0)]:
        moved = padded2[:, 4 - dy:padded2.shape[1] - 4 - dy, 4 - dx:padded2.shape[2] - 4 - dx]  # shifted, 2 px in
        score = np.minimum(np.abs(inner - moved), 4 * 32).sum(axis=(1, 2), dtype=np.int64)
        if best_score is None:
            best_score = score
            continue
        better = score * 2 < best_score
        best_score = np.where(better, score, best_score)
        best[better] = (dy, dx)
    return best


def _verify(coarse: tuple[np.ndarray, np.ndarray], fine: tuple[np.ndarray, np.ndarray], ca: np.ndarray,
            cb: np.ndarray) -> tuple[np.ndarray, ...]:
    """(same frame, pixels that differ outside a forgiven panel) for P pairs of features. Cheap
    tests first: pairs whose colour or half-size grey frames already differ too much are
    answered without the full-size test."""
    import numpy as np

    (ga, gb), (fine_a, fine_b) = coarse, fine
    p = ga.shape[0]
    h, w = FRAME_HW
    area = h * w
    budget = int(CHANGED_BUDGET * area)
    hopeless = budget + int(0.06 * area)  # more than a panel and the budget can ever forgive
    # colour: the 32×18 frames averaged to 16×9 blocks; a pair whose colours differ (beyond each block's
    # neighbours' range) over a quarter of the frame is not the same frame: black against navy or a
    # dimmed wallpaper, one blue screen against another. Local colour is left to the grey test: small
    # colourful objects move between blocks when a frame shifts.
    p2 = ca.shape[0]
    colour_a, colour_b = ca, cb
    ca = ca.reshape(p2, COLOUR_HW[0] // 2, 2, COLOUR_HW[1] // 2, 2, 3).sum(axis=(2, 4), dtype=np.int16)
    cb = cb.reshape(p2, COLOUR_HW[0] // 2, 2, COLOUR_HW[1] // 2, 2, 3).sum(axis=(2, 4), dtype=np.int16)
    colour = np.max(np.stack([_outside(ca[..., k], cb[..., k]) for k in range(3)]), axis=0) > 4 * COLOUR_TOLERANCE
    count = np.full(p, area, np.int64)
    todo = np.nonzero(colour.mean(axis=(1, 2)) <= 0.25)[0]
    if len(todo):
        a = ga[todo].astype(np.int16)
        b = gb[todo].astype(np.int16)
        a2, b2 = _halve(a), _halve(b)
        half = _align_half(a2, b2)
        # the rough test at half size, aligned and blurred (half a pixel off at most): pairs that
        # differ too much even so are answered here. A panel touches the top or the bottom tenth and
        # is at most a fifth of the height, so the middle 40% of the rows must pass on the budget
        # alone (roughly: thrice the budget, as half size is rough).
        moved2 = _shift_windows(b2, half[:, 0], half[:, 1], 2)
        rough = _outside(_blur3(a2), _blur3(moved2))[:, 2:-2, 2:-2] > 4 * GREY_TOLERANCE
        band = rough[:, int(0.3 * h / 2) - 2:int(0.7 * h / 2) - 2]
        keep = (rough.sum(axis=(1, 2)) * 4 <= hopeless) & (band.sum(axis=(1, 2)) * 4 <= 3 * budget)
        todo, a, b, half = todo[keep], a[keep], b[keep], half[keep]
    if len(todo):
        shift = _refine(a, b, 2 * half)
    if len(todo):
        moved = _shift_windows(b, shift[:, 0], shift[:, 1], MAX_SHIFT)
        differs = _outside(a, moved) > GREY_TOLERANCE
        # a frame that moved (by a pixel of 160×90 or more) is off by up to half a pixel wherever it
        # landed, and a thin line or small text then falls into one row of pixels in one frame and is
        # spread over two in the other: such pairs are compared blurred (3×3 mean), with the 5×5 range
        moved_rows = np.nonzero(shift.any(axis=1))[0]
        if len(moved_rows):
            differs[moved_rows] = _outside(_blur3(a[moved_rows]), _blur3(moved[moved_rows]), reach=2) > GREY_TOLERANCE
        # colour cells (5×5 pixels of the frame) moved by the same shift, in fractions of a cell
        fy, fx = h // COLOUR_HW[0], w // COLOUR_HW[1]
        ca_t = colour_a[todo].astype(np.float32)
        cb_t = _fractional_shift(colour_b[todo].astype(np.float32), shift[:, 0] / fy, shift[:, 1] / fx)
        cdiff = np.max(np.stack([_outside(ca_t[..., k], cb_t[..., k]) for k in range(3)]), axis=0) > COLOUR_TOLERANCE
        cdiff[:, [0, -1]] = cdiff[:, :, [0, -1]] = False  # border cells: what a shift uncovers, not content
        # only where both frames are flat (grey range within a cell at most 12 levels): there a cell's
        # colour cannot move with a shift, while at edges and text the grey test decides
        def cell_range(x: np.ndarray) -> np.ndarray:
            cells = x.reshape(len(todo), COLOUR_HW[0], fy, COLOUR_HW[1], fx)
            return cells.max(axis=(2, 4)) - cells.min(axis=(2, 4))

        cdiff &= (cell_range(a) <= 12) & (cell_range(moved) <= 12)
        differs |= cdiff.repeat(fy, axis=1).repeat(fx, axis=2)
        m = MAX_SHIFT  # the border a shift fills with repeated edges
        differs[:, :m] = differs[:, -m:] = False
        differs[:, :, :m] = differs[:, :, -m:] = False
        count[todo] = differs.sum(axis=(1, 2))
        # a panel lies within the top or the bottom 30% of the rows (and 2 more): pairs that differ too
        # much outside both bands are past saving
        band = int(0.3 * h) + 3
        outside_top = count[todo] - differs[:, :band].sum(axis=(1, 2))
        outside_bottom = count[todo] - differs[:, h - band:].sum(axis=(1, 2))
        savable = (outside_top <= budget) | (outside_bottom <= budget)
        for k in np.nonzero((count[todo] > budget) & (count[todo] <= hopeless) & savable)[0]:
            count[todo[k]] -= _panel(differs[k])
    same = count <= budget
    score = np.full(p, np.iinfo(np.int64).max, np.int64)
    if len(todo):
        rows = np.nonzero(same[todo])[0]
        if len(rows):
            fine, score[todo[rows]] = _fine_same(fine_a[todo[rows]], fine_b[todo[rows]], shift[rows])
            same[todo[rows[~fine]]] = False
    return same, count, score
