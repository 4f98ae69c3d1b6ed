"""The fine check at 320×180 of pairs that passed the 160×90 test (`toolkit.data.duplicates`
describes the method).

The check is exact as described, on batches of pairs; shortcuts decide pairs without its costly
steps, never otherwise than those steps would: a pair with no more pixels that differ by more
than the tolerance than the budget fits without the strict test, and an upper bound of what a
panel and a cursor can forgive (`frame_forgive._unforgivable`) answers most of the rest before a
panel is looked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_forgive import _panel_box, _unforgivable, _unforgiven
from toolkit.data.frame_ops import (
    _blur3,
    _const,
    _counts,
    _in_batches,
    _range3,
    _refine,
    _shift_windows,
)
from toolkit.data.frame_spec import (
    BLUR_BUDGET,
    FINE_BUDGET,
    FINE_TOLERANCE,
    GREY_TOLERANCE,
    MAX_SHIFT,
    MOVED_EXPLAINED,
)
from toolkit.data.frame_views import FrameViews, _above, _below, strict_thresholds

if TYPE_CHECKING:
    import numpy as np

#: The largest shift at 320×180 (twice the 160×90 one, refined by a pixel): the edge a shift fills.
LIMIT = 2 * MAX_SHIFT + 1


def _fine_same(views: FrameViews, i: np.ndarray, j: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fine check of pairs (``i``, ``j``: image indices) that passed the 160×90 test at
    ``shift``, at 320×180 with the second frame aligned (twice the coarse shift, refined by a
    pixel): (same frame, the squared difference after alignment, to order merges).

    Strictly, a pixel differs when it lies outside the range its twin spans within half a pixel by
    more than `FINE_TOLERANCE`: JPEG noise stays inside, one changed word does not. A frame that
    moved by a fraction of a pixel (1–3 px of a 1280×720 screen) differs strictly along its edges;
    it is recognised by its differences being the frame's own gradient times one small shift
    (least squares: the shift explains at least `MOVED_EXPLAINED` of the differences' energy,
    where a changed word or cursor explains none) and compared blurred instead (3×3 means, each
    against its twin's 3×3 range, `GREY_TOLERANCE`). Either way one notification panel and one
    cursor-sized patch are forgiven, and at most `FINE_BUDGET` (strict) or `BLUR_BUDGET`
    (blurred) pixels may differ besides.

    At no shift both tests give the same answer either way round, so they are answered once per
    pair (``views.memo``): `_scored_pairs` tries failing pairs the other way round."""
    import numpy as np

    a, b = views.fine[i], views.fine[j]
    t = 2 * np.asarray(shift, dtype=np.int64)
    keys = [(min(x, y), max(x, y)) for x, y in zip(i.tolist(), j.tolist())]
    strict: dict[tuple[int, int, int], np.ndarray] = {}  # (pair, shift) → its strict differences (when over budget)

    def answers(test: str, rows: np.ndarray, compute) -> np.ndarray:
        still = ~t[rows].any(axis=1)
        known = np.array([s and (test, keys[r]) in views.memo for s, r in zip(still.tolist(), rows.tolist())], bool)
        out = np.zeros(len(rows), bool)
        out[known] = [views.memo[test, keys[r]] for r in rows[known].tolist()]
        todo = rows[~known]
        if len(todo):
            out[~known] = compute(todo)
            for r, v in zip(todo[still[~known]].tolist(), out[~known][still[~known]].tolist()):
                views.memo[test, keys[r]] = v
        return out

    def key(r: int) -> tuple[int, int, int]:
        return r, int(t[r, 0]), int(t[r, 1])

    def fits(rows: np.ndarray) -> np.ndarray:
        new = np.array([key(r) not in strict for r in rows.tolist()], bool)
        found = np.zeros(len(rows), bool)  # a pair whose map is kept did not fit at that shift
        if new.any():
            found[new], maps = _strict_fits(a[rows[new]], _moved_frames(b[rows[new]], t[rows[new]]))
            strict.update(zip([key(r) for r in rows[new][~found[new]].tolist()], maps))
        return found

    def forgiven(rows: np.ndarray) -> np.ndarray:
        moved = _moved_frames(b[rows], t[rows])
        missing = np.array([key(r) not in strict for r in rows.tolist()], bool)
        if missing.any():  # pairs answered "does not fit" from the memo
            strict.update(zip([key(r) for r in rows[missing].tolist()], _strict(a[rows[missing]], moved[missing])))
        return _forgiven(a[rows], moved, t[rows], np.stack([strict[key(r)] for r in rows.tolist()]))

    out = answers("strict_fits", np.arange(len(a)), fits)
    redo = np.nonzero(~out)[0]  # the rest aligned to the pixel at this size (twice the coarse shift, refined by one)
    if len(redo):
        t[redo] = _refine(a[redo], b[redo], t[redo], LIMIT)
        out[redo] = answers("strict_fits", redo, fits)
        rest = redo[~out[redo]]
        if len(rest):
            out[rest] = answers("forgiven", rest, forgiven)
    score = np.zeros(len(a), np.int64)
    for k in np.nonzero(out)[0]:  # unclipped, over all but what the shift uncovers: a changed word or footer adds to it
        my, mx = abs(int(t[k, 0])) + 2, abs(int(t[k, 1])) + 2
        moved = _moved_frames(b[k:k + 1], t[k:k + 1])[0]
        diff = a[k, my:-my, mx:-mx].astype(np.int32) - moved[my:-my, mx:-mx]
        score[k] = int((diff * diff).sum(dtype=np.int64))
    return out, score


def _moved_frames(b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Frames ``b`` (P×H×W) each moved by its ``t`` (edges repeated)."""
    return _shift_windows(b, t[:, 0], t[:, 1], LIMIT)


def _strict_fits(a: np.ndarray, moved: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per pair, whether at most `FINE_BUDGET` pixels differ strictly (`_strict`), and the strict
    differences of the pairs that do not fit. A strict difference is where the frames differ by
    more than `FINE_TOLERANCE`, so pairs with no more such pixels than that fit without the test."""
    import numpy as np

    fits = _in_batches(_few_far_apart, a, moved)
    rows = np.nonzero(~fits)[0]
    maps = []
    if len(rows):
        found = _in_batches(_strict, a[rows], moved[rows])
        fits[rows] = _counts(found) <= FINE_BUDGET
        maps = [found[k] for k in np.nonzero(~fits[rows])[0]]
    return fits, maps


def _few_far_apart(a: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """Per pair, whether at most `FINE_BUDGET` pixels differ by more than `FINE_TOLERANCE`."""
    import numpy as np

    diff = np.maximum(a, moved)
    diff -= np.minimum(a, moved)
    return _counts(diff > _const(FINE_TOLERANCE, diff)) <= FINE_BUDGET


def _strict(a: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """The strict differences (P×H×W bool) of frames ``a`` and ``moved``: a pixel of either lies
    outside the range the other spans within half a pixel (half way from each value to its 3×3
    neighbourhood's minimum and maximum) by more than `FINE_TOLERANCE`
    (`frame_views.strict_thresholds`)."""
    x_hi, x_lo = strict_thresholds(a, *_range3(a))
    y_hi, y_lo = strict_thresholds(moved, *_range3(moved))
    return (a > y_hi) | (a < y_lo) | (moved > x_hi) | (moved < x_lo)


def _blurred(a: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """The blurred differences (P×H×W bool): 3×3 means outside the twin's 3×3 range by more than
    `GREY_TOLERANCE`."""
    x, y = _blur3(a).astype("uint8"), _blur3(moved).astype("uint8")
    (x_lo, x_hi), (y_lo, y_hi) = _range3(x), _range3(y)
    return ((x > _above(y_hi, GREY_TOLERANCE)) | (x < _below(y_lo, GREY_TOLERANCE))
            | (y > _above(x_hi, GREY_TOLERANCE)) | (y < _below(x_lo, GREY_TOLERANCE)))


def _forgiven(a: np.ndarray, moved: np.ndarray, t: np.ndarray, strict: np.ndarray) -> np.ndarray:
    """The last steps of the fine check, for pairs whose ``strict`` differences at their shift ``t``
    exceed `FINE_BUDGET`: one panel (found in the blurred differences) and one cursor forgiven; or,
    for a frame moved by a fraction of a pixel, the blurred differences. What a panel and a cursor
    can forgive at most (`_unforgivable`) answers many without looking for them."""
    import numpy as np

    blurred = _in_batches(_blurred, a, moved)
    edge = np.abs(t) + 2  # what the shift uncovers, and the edge
    strict_left = _in_batches(lambda f, m: _unforgivable(f, m, 3), strict, edge)
    blurred_left = _in_batches(lambda f, m: _unforgivable(f, m, 3), blurred, edge)
    out = np.zeros(len(a), bool)
    for k in np.nonzero((strict_left <= FINE_BUDGET) | (blurred_left <= BLUR_BUDGET))[0].tolist():
        e = (int(edge[k, 0]), int(edge[k, 1]))
        panel = _panel_box(blurred[k], dilate=4, min_height=0.05)
        if strict_left[k] <= FINE_BUDGET and _unforgiven(strict[k], panel, e) <= FINE_BUDGET:
            out[k] = True
        elif blurred_left[k] > BLUR_BUDGET:  # a moved frame fails; one that did not move gets the strict test again
            out[k] = _other_panel(strict[k], e) and not _moved(a[k], moved[k], panel, LIMIT)
        elif _moved(a[k], moved[k], panel, LIMIT):
            out[k] = _unforgiven(blurred[k], panel, e) <= BLUR_BUDGET
        else:
            out[k] = strict_left[k] <= FINE_BUDGET and _other_panel(strict[k], e)
    return out


def _other_panel(strict: np.ndarray, edge: tuple[int, int]) -> bool:
    """The strict test with the panel as the strict differences show it."""
    other = _panel_box(strict, dilate=4, min_height=0.05)
    return other is not None and _unforgiven(strict, other, edge) <= FINE_BUDGET


def _moved(a: np.ndarray, b: np.ndarray, panel: tuple[int, int, int, int] | None, margin: int) -> bool:
    """Whether ``b`` is ``a`` moved by a fraction of a pixel: the least-squares shift δ with
    a − b ≈ ∇·δ (the mean frame's central differences) is at least a tenth of a pixel and explains
    at least `MOVED_EXPLAINED` of the energy of a − b (outside the ``panel`` and the ``margin``).

    In integers over the rows and columns inside the margin, the panel (and 3 pixels around it)
    set to nought: s = a + b, its differences across two rows and two columns (4 × the mean
    frame's gradient), d = a − b; the sums of their products, taken as dot products, are exact,
    and the share of the energy the shift explains is δ · r / Σd² (r: the gradient times d)."""
    import numpy as np

    h, w = a.shape
    m = margin
    s = a.astype(np.int32) + b
    d = (a.astype(np.int32) - b)[m:h - m, m:w - m].astype(np.float64)
    gy = (s[m + 1:h - m + 1, m:w - m] - s[m - 1:h - m - 1, m:w - m]).astype(np.float64)
    gx = (s[m:h - m, m + 1:w - m + 1] - s[m:h - m, m - 1:w - m - 1]).astype(np.float64)
    if panel is not None:
        y0, y1, x0, x1 = panel
        box = np.s_[max(0, y0 - 3 - m):max(0, y1 + 3 - m), max(0, x0 - 3 - m):max(0, x1 + 3 - m)]
        d[box] = gy[box] = gx[box] = 0
    d, gy, gx = d.reshape(-1), gy.reshape(-1), gx.reshape(-1)

    def dot(u: np.ndarray, v: np.ndarray) -> float:  # not BLAS: one thread, no start-up
        return float(np.einsum("i,i->", u, v))

    energy = dot(d, d)
    if energy <= 0:
        return False
    g = np.array([[dot(gy, gy), dot(gy, gx)], [dot(gy, gx), dot(gx, gx)]]) / 16
    r = np.array([dot(gy, d), dot(gx, d)]) / 4
    if abs(np.linalg.det(g)) < 1e-9:
        return False
    delta = np.linalg.solve(g, r)
    return bool(np.abs(delta).max() >= 0.1 and float(delta @ r) / energy >= MOVED_EXPLAINED)
