"""The same-frame test of candidate pairs (`toolkit.data.duplicates` describes the method): the
pre-test, then colour, the alignment, the rough test at half size and the changed pixels at
160×90 with one notification panel forgiven; pairs that pass go on to the fine check
(`toolkit.data.frame_fine`). Per-image arrays come from `toolkit.data.frame_views`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_fine import _few_far_apart, _fine_same
from toolkit.data.frame_forgive import _panel, _unforgivable
from toolkit.data.frame_ops import (
    _blur3,
    _counts,
    _fractional_shift,
    _in_batches,
    _keep_temporaries_on_the_heap,
    _outside,
    _range3,
    _refine,
    _search_shift,
    _shift_windows,
)
from toolkit.data.frame_spec import (
    CHANGED_BUDGET,
    COLOUR_HW,
    COLOUR_TOLERANCE,
    FRAME_HW,
    GREY_TOLERANCE,
    MAX_SHIFT,
    RETRY_CHANGED,
)
from toolkit.data.frame_views import FrameViews

if TYPE_CHECKING:
    import numpy as np

AREA = FRAME_HW[0] * FRAME_HW[1]
#: Pixels that may differ at 160×90 outside a forgiven panel (a cursor, a few re-encoding artefacts).
BUDGET = int(CHANGED_BUDGET * AREA)
#: More than a panel and the budget can ever forgive.
HOPELESS = BUDGET + int(0.06 * AREA)
#: The shifts `_align_half` tries (half size: ±2), in order.
_AROUND = [(0, 0)] + [(y, x) for y in range(-2, 3) for x in range(-2, 3) if (y, x) != (0, 0)]


def same_frame_pairs(features: np.ndarray, pairs: np.ndarray, *, chunk: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Verify ``pairs`` (K×2 indices into ``features``): (same-frame bool K, pixels that differ
    at 160×90 outside a forgiven panel K; the whole frame's count for a pair answered before
    that count) — module docstring."""
    same, changed, _ = _scored_pairs(features, pairs, chunk=chunk)
    return same, changed


def _scored_pairs(features: np.ndarray, pairs: np.ndarray, *, chunk: int = 128,
                  coarse: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """`same_frame_pairs` and, for pairs found the same, their squared difference at 320×180.
    ``coarse``: the features' 160×90 frames, when already computed."""
    import numpy as np

    _keep_temporaries_on_the_heap()
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    same = np.zeros(len(pairs), bool)
    changed = np.full(len(pairs), AREA, np.int64)
    score = np.zeros(len(pairs), np.int64)
    views = FrameViews(features, coarse)
    changed_middle = _band_counts(views, pairs, chunk=chunk)
    alike = changed_middle <= BUDGET  # the pre-test's middle rows; plain copies need not its whole frame
    plain = np.zeros(len(pairs), bool)
    rows = np.nonzero(changed_middle == 0)[0]  # a plain copy changes no pixel in the pre-test
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        plain[part], score[part] = _plainly_same(views, pairs[part, 0], pairs[part, 1])
    same[plain], changed[plain] = True, 0
    rows = np.nonzero(alike & ~plain)[0]
    alike[rows] = _alike(views, pairs[rows], band=False)
    todo = np.nonzero(alike & ~plain)[0]
    for start in range(0, len(todo), chunk):
        rows = todo[start:start + chunk]
        same[rows], changed[rows], score[rows] = _verify(views, pairs[rows, 0], pairs[rows, 1])
    # the test is not symmetric (the colour cells of the second frame are interpolated to the first's;
    # each alignment step keeps the shift it starts from unless another is clearly better): a pair that
    # failed by at most `RETRY_CHANGED` of the pixels is tried the other way round
    again = np.nonzero(~same & alike & (changed <= RETRY_CHANGED * AREA))[0]
    for start in range(0, len(again), chunk):
        rows = again[start:start + chunk]
        s, c, f = _verify(views, pairs[rows, 1], pairs[rows, 0])
        same[rows], score[rows], changed[rows] = s, np.where(s, f, score[rows]), np.where(s, c, changed[rows])
    return same, changed, score


def _plainly_same(views: FrameViews, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(same frame, squared difference at 320×180) of pairs that agree without being moved: every
    pixel of the 160×90 frames within `GREY_TOLERANCE` of its twin, every colour cell within
    `COLOUR_TOLERANCE` in each channel, at most `FINE_BUDGET` pixels of the 320×180 frames more than
    `FINE_TOLERANCE` apart — what recorded frames of one still screen are (re-encoded: JPEG noise).
    No pixel differs then in any of the test's comparisons at no shift, so such a pair is the same
    frame without a shift being searched (the search, the rough test and the panel are what the
    test costs; in a run of recorded frames every pair is the same frame and takes them all). The
    score is the fine check's at no shift. Other pairs: (False, 0), to be tested."""
    import numpy as np

    def near(x: np.ndarray, y: np.ndarray, tol: int) -> np.ndarray:  # per pair: every element within tol
        d = np.maximum(x, y)
        d -= np.minimum(x, y)
        return d.reshape(len(d), -1).max(axis=1) <= tol

    plain = near(views.get("coarse", i), views.get("coarse", j), GREY_TOLERANCE)
    rows = np.nonzero(plain)[0]
    if len(rows):
        plain[rows] = near(views.colour[i[rows]], views.colour[j[rows]], COLOUR_TOLERANCE)
        rows = rows[plain[rows]]
    score = np.zeros(len(i), np.int64)
    if len(rows):
        found = _in_batches(_fine_plain, views.fine[i[rows]], views.fine[j[rows]])
        plain[rows] = found[:, 0] >= 0
        score[rows] = np.maximum(found[:, 0], 0)
    return plain, score


def _fine_plain(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pair of 320×180 frames (P×1): the squared difference the fine check scores at no shift
    when at most `FINE_BUDGET` pixels are more than `FINE_TOLERANCE` apart, else −1."""
    import numpy as np

    fits = _few_far_apart(a, b)
    d = a[:, 2:-2, 2:-2].astype(np.int32)
    d -= b[:, 2:-2, 2:-2]
    score = np.einsum("pij,pij->p", d, d, dtype=np.int64)
    return np.where(fits, score, -1)[:, None]


def _alike(views: FrameViews, pairs: np.ndarray, *, chunk: int = 128, band: bool = True) -> np.ndarray:
    """The pre-test: pairs whose 160×90 frames are alike without aligning them. A pixel is changed
    when it lies more than `GREY_TOLERANCE` outside the other frame's 5×5 range and its 3×3 mean
    more than that outside the range of the other's means over 9×9. At the shift the test picks
    it compares either the pixels with 3×3 ranges (no shift) or their 3×3 means with 5×5 ranges
    (a shift): within 2 pixels of no shift, a pixel changed here differs there; a copy moved by up
    to `MAX_SHIFT` pixels, the most the test aligns, has its means within the 9×9 range, so it is
    not changed here (the 5×5 range takes up 2 pixels: moved frames' thin lines, half a pixel off,
    change their grey level, which only the means forgive). A pair with more than `BUDGET`
    changed pixels, once the most one notification panel can cover is taken away (first on the
    middle rows, which no panel reaches, then on the whole frame), is not the same frame. It
    answers most candidates that are other frames in a few passes over uint8 per pair; the pairs
    it lets through are answered by the test. ``band=False``: the whole frame's pass alone (for
    pairs whose middle rows `_band_counts` already counted)."""
    import numpy as np

    h = FRAME_HW[0]
    reach = h - _PANEL_FREE.stop  # rows a panel may cover, at the top and at the bottom
    keep = _band_counts(views, pairs, chunk=chunk) <= BUDGET if band else np.ones(len(pairs), bool)
    todo = np.nonzero(keep)[0]
    for start in range(0, len(todo), chunk):
        rows = todo[start:start + chunk]
        flags = _loose_flags(views, pairs[rows, 0], pairs[rows, 1], slice(0, h))
        keep[rows] = _unforgivable(flags, (MAX_SHIFT, MAX_SHIFT), 2) <= BUDGET
    assert reach == int(0.1 * h) + int(0.2 * h) + 2  # `frame_forgive`'s panel at 160×90, 2 pixels around
    return keep


def _band_counts(views: FrameViews, pairs: np.ndarray, *, chunk: int = 128) -> np.ndarray:
    """The pre-test's changed pixels (`_alike`) per pair in the rows no panel reaches, less the
    columns a shift uncovers."""
    import numpy as np

    counts = np.zeros(len(pairs), np.int64)
    for start in range(0, len(pairs), chunk):
        i, j = pairs[start:start + chunk, 0], pairs[start:start + chunk, 1]
        counts[start:start + chunk] = _counts(_loose_flags(views, i, j, _PANEL_FREE)[:, :, MAX_SHIFT:FRAME_HW[1] - MAX_SHIFT])
    return counts


#: The rows of the 160×90 frame no forgiven panel reaches (`frame_forgive._panel_box`: within a
#: tenth of the height from the top or the bottom, at most a fifth tall, 2 pixels around).
_PANEL_FREE = slice(29, 61)


def _loose_flags(views: FrameViews, i: np.ndarray, j: np.ndarray, rows: slice) -> np.ndarray:
    """The pre-test's changed pixels (`_alike`) of pairs ``i``, ``j`` in ``rows`` of the 160×90 frames."""
    names = ("coarse", "l.l_hi", "l.l_lo", "l.blur", "l.lb_hi", "l.lb_lo")
    a, a_hi, a_lo, x, x_hi, x_lo = (views.get(name, i, rows) for name in names)
    b, b_hi, b_lo, y, y_hi, y_lo = (views.get(name, j, rows) for name in names)
    flags = (a > b_hi) | (a < b_lo) | (b > a_hi) | (b < a_lo)
    flags &= (x > y_hi) | (x < y_lo) | (y > x_hi) | (y < x_lo)
    return flags


def _verify(views: FrameViews, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, ...]:
    """(same frame, pixels that differ outside a forgiven panel, squared difference at 320×180)
    for pairs of images ``i``, ``j``. Cheap tests first: pairs whose colour or half-size grey
    frames already differ too much are answered without the full-size test. Tests that give the
    same answer either way round at no shift are answered once per pair (`_symmetric`)."""
    import numpy as np

    p = len(i)
    count = np.full(p, AREA, np.int64)
    score = np.full(p, np.iinfo(np.int64).max, np.int64)
    todo = np.nonzero(_symmetric(views, "colour", i, j, np.ones(p, bool), lambda r: _colour_alike(views, i[r], j[r])))[0]
    half = np.zeros((len(todo), 2), np.int64)
    if len(todo):
        it, jt = i[todo], j[todo]
        half = _search_shift(views.get("h.half", it), views.get("h.half", jt), half, _AROUND, 2, 4 * 32, (2, 1), 2)
        keep = _symmetric(views, "rough", it, jt, ~half.any(axis=1), lambda r: _rough(views, it[r], jt[r], half[r]))
        todo, half = todo[keep.astype(bool)], half[keep.astype(bool)]
    if not len(todo):
        return count <= BUDGET, count, score
    it, jt = i[todo], j[todo]
    a, b = views.get("coarse", it), views.get("coarse", jt)
    shift = _refine(a, b, 2 * half)
    count[todo] = _symmetric(views, "count", it, jt, ~shift.any(axis=1),
                             lambda r: _forgive_panel(_differs(views, it[r], jt[r], a[r], b[r], shift[r])))
    same = count <= BUDGET
    rows = np.nonzero(same[todo])[0]
    if len(rows):
        fine, score[todo[rows]] = _fine_same(views, it[rows], jt[rows], shift[rows])
        same[todo[rows[~fine]]] = False
    return same, count, score


def _symmetric(views: FrameViews, name: str, i: np.ndarray, j: np.ndarray, still: np.ndarray, compute) -> np.ndarray:
    """``compute(rows)`` (int or bool per pair) for pairs ``rows`` of ``i``, ``j``: a test whose answer
    for a pair not moved (``still``) is the same either way round — its formulas are symmetric in
    the two frames then — so such answers are kept in ``views.memo`` under ``name`` and reused when
    the pair comes again the other way round (`_scored_pairs`' retry)."""
    import numpy as np

    memo = views.memo
    keys = [(min(x, y), max(x, y)) for x, y in zip(i.tolist(), j.tolist())]
    known = np.array([s and (name, k) in memo for s, k in zip(still.tolist(), keys)], dtype=bool)
    out = np.zeros(len(i), np.int64)
    rows = np.nonzero(known)[0]
    if len(rows):
        out[rows] = [memo[name, keys[r]] for r in rows.tolist()]
    rows = np.nonzero(~known)[0]
    if len(rows):
        out[rows] = compute(rows)
        for r in rows[still[rows]].tolist():
            memo[name, keys[r]] = int(out[r])
    return out


def _colour_alike(views: FrameViews, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Colour: the 32×18 frames summed to 16×9 blocks; a pair whose colours differ (beyond each
    block's neighbours' range, by 4 × `COLOUR_TOLERANCE`) over more than a quarter of the frame is
    not the same frame: black against navy or a dimmed wallpaper, one blue screen against another.
    Local colour is left to the grey test: small colourful objects move between blocks when a
    frame shifts."""
    a, b = views.get("k.k_sum", i), views.get("k.k_sum", j)
    differ = ((a > views.get("k.k_hi", j)) | (a < views.get("k.k_lo", j))
              | (b > views.get("k.k_hi", i)) | (b < views.get("k.k_lo", i))).any(axis=1)
    return _counts(differ) * 4 <= differ.shape[1] * differ.shape[2]


def _rough(views: FrameViews, i: np.ndarray, j: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Pairs that pass the rough test: the second half-size frame aligned to the first (``half``,
    `_search_shift` by the rule of `_AROUND`: a shift replaces the best so far only when it halves
    the clipped difference, starting from none — a frame really moved matches far better once
    aligned, while an overlay near the edge must not pull it out of place), then both blurred
    (half a pixel off at most); pairs that differ too much even so are answered here. A panel
    touches the top or the bottom tenth and is at most a fifth of the height, so the middle 40%
    of the rows must pass on the budget alone (roughly: thrice the budget, as half size is rough)."""
    import numpy as np

    h = FRAME_HW[0]
    b2 = views.get("h.half", j)
    rough = np.empty(b2.shape, bool)
    x, x_hi, x_lo = views.get("h.h_blur", i), views.get("h.h_hi", i), views.get("h.h_lo", i)
    still = ~half.any(axis=1)
    for rows in (np.nonzero(still)[0], np.nonzero(~still)[0]):
        if not len(rows):
            continue
        if still[rows[0]]:
            y, y_hi, y_lo = views.get("h.h_blur", j[rows]), views.get("h.h_hi", j[rows]), views.get("h.h_lo", j[rows])
        else:
            y = _blur3(_shift_windows(b2[rows], half[rows, 0], half[rows, 1], 2))
            lo, hi = _range3(y)
            y_hi, y_lo = hi + 4 * GREY_TOLERANCE, lo - 4 * GREY_TOLERANCE
        xr = x[rows]
        rough[rows] = (xr > y_hi) | (xr < y_lo) | (y > x_hi[rows]) | (y < x_lo[rows])
    rough = rough[:, 2:-2, 2:-2]
    band = rough[:, int(0.3 * h / 2) - 2:int(0.7 * h / 2) - 2]
    return (_counts(rough) * 4 <= HOPELESS) & (_counts(band) * 4 <= 3 * BUDGET)


def _differs(views: FrameViews, i: np.ndarray, j: np.ndarray, a: np.ndarray, b: np.ndarray,
             shift: np.ndarray) -> np.ndarray:
    """The pixels of 160×90 frames ``a``, ``b`` (the second moved by ``shift``) that differ: outside
    the range of the other frame's 3×3 neighbourhood by more than `GREY_TOLERANCE`, or, for a
    moved pair (off by up to half a pixel wherever it landed, where a thin line or small text falls
    into one row of pixels in one frame and is spread over two in the other), their 3×3 means
    outside the other's 5×5 range; or in a flat 5×5 colour cell whose colour differs. The border
    a shift fills with repeated edges is left out."""
    import numpy as np

    p = len(a)
    differs = np.empty(a.shape, bool)
    still = ~shift.any(axis=1)
    rows = np.nonzero(still)[0]
    if len(rows):
        x, y = a[rows], b[rows]
        differs[rows] = ((x > views.get("c.c_hi", j[rows])) | (x < views.get("c.c_lo", j[rows]))
                         | (y > views.get("c.c_hi", i[rows])) | (y < views.get("c.c_lo", i[rows])))
    moved = b.copy()
    cells_b = views.get("c.cell_range", j)
    rows = np.nonzero(~still)[0]
    if len(rows):
        moved[rows] = _shift_windows(b[rows], shift[rows, 0], shift[rows, 1], MAX_SHIFT)
        blur = _blur3(moved[rows]).astype(np.uint8)
        lo, hi = _range3(blur, 2)
        x = views.get("c.blur", i[rows])
        differs[rows] = ((x.astype(np.int16) - hi > GREY_TOLERANCE) | (lo.astype(np.int16) - x > GREY_TOLERANCE)
                         | (blur > views.get("c.b_hi", i[rows])) | (blur < views.get("c.b_lo", i[rows])))
        cells = moved[rows].reshape(len(rows), COLOUR_HW[0], 5, COLOUR_HW[1], 5)
        cells_b[rows] = cells.max(axis=(2, 4)) - cells.min(axis=(2, 4))
    # colour cells (5×5 pixels of the frame) moved by the same shift, in fractions of a cell, where both
    # frames are flat (grey range within a cell at most 12 levels): there a cell's colour cannot move
    # with a shift, while at edges and text the grey test decides
    ca = views.colour[i].astype(np.float32)
    cb = views.colour[j].astype(np.float32)
    if len(rows):
        cb[rows] = _fractional_shift(cb[rows], shift[rows, 0] / 5, shift[rows, 1] / 5)
    cdiff = np.zeros((p, *COLOUR_HW), bool)
    for k in range(3):
        cdiff |= _outside(ca[..., k], cb[..., k]) > COLOUR_TOLERANCE
    cdiff[:, [0, -1]] = cdiff[:, :, [0, -1]] = False  # border cells: what a shift uncovers, not content
    cdiff &= (views.get("c.cell_range", i) <= 12) & (cells_b <= 12)
    differs |= cdiff.repeat(5, axis=1).repeat(5, axis=2)
    m = MAX_SHIFT  # the border a shift fills with repeated edges
    differs[:, :m] = differs[:, -m:] = False
    differs[:, :, :m] = differs[:, :, -m:] = False
    return differs


def _forgive_panel(differs: np.ndarray) -> np.ndarray:
    """Changed pixels per pair once one notification panel is forgiven (`frame_forgive._panel`). A
    panel lies within the top or the bottom 30% of the rows (and 2 more): pairs that differ too
    much outside both bands are past saving, and so are pairs beyond `HOPELESS`."""
    import numpy as np

    h = differs.shape[1]
    count = _counts(differs)
    band = int(0.3 * h) + 3
    outside_top = count - _counts(differs[:, :band])
    outside_bottom = count - _counts(differs[:, h - band:])
    savable = (outside_top <= BUDGET) | (outside_bottom <= BUDGET)
    for k in np.nonzero((count > BUDGET) & (count <= HOPELESS) & savable)[0]:
        count[k] -= _panel(differs[k])
    return count
