"""The fine check at 320×180 of pairs that passed the 160×90 test (`toolkit.data.duplicates`
describes the method).

The check is exact as described; it is computed where the frames differ (`_Pair`), and two
shortcuts decide pairs without its costly steps, never otherwise than those steps would: before
the shift is refined by a pixel, a lower bound of what any shift within that pixel leaves
unforgiven (`_Pair.hopeless`), and the same bound on the differences themselves before a panel
is looked for (`frame_forgive._unforgivable`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_forgive import _box, _panel_box, _unforgivable, _unforgiven
from toolkit.data.frame_ops import _blur3, _range3, _refine, _shift_windows
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

    Both tests only ever mark pixels where the two frames differ by more than `GREY_TOLERANCE`
    (or next to one, blurred), so they are computed within the box of those (`_Pair`)."""
    import numpy as np

    a, b = views.fine[i], views.fine[j]
    t = 2 * np.asarray(shift, dtype=np.int64)
    memo = views.memo
    keys = [(min(x, y), max(x, y)) for x, y in zip(i.tolist(), j.tolist())]
    pairs: dict[int, _Pair] = {}

    def answer(k: int, test: str) -> bool:
        """``test`` ("strict_fits" or "forgiven") of pair k at its shift; at no shift the answer
        is the pair's either way round (both tests are symmetric then), kept in ``views.memo``."""
        still = not t[k].any()
        if still and (test, keys[k]) in memo:
            return memo[test, keys[k]]
        result = getattr(_pair(pairs, k, a, b, t), test)()
        if still:
            memo[test, keys[k]] = result
        return result

    out = np.array([answer(k, "strict_fits") for k in range(len(a))], dtype=bool)
    # the rest aligned to the pixel at this size (twice the coarse shift, refined by one), but pairs no
    # shift within that pixel can save are answered first (unless their answer at no shift is known)
    redo = np.array([k for k in np.nonzero(~out)[0].tolist()
                     if (not t[k].any() and ("forgiven", keys[k]) in memo) or not _pair(pairs, k, a, b, t).hopeless()],
                    dtype=np.int64)
    if len(redo):
        t[redo] = _refine(a[redo], b[redo], t[redo], LIMIT)
        for k in redo.tolist():
            out[k] = answer(k, "strict_fits") or answer(k, "forgiven")
    score = np.zeros(len(a), np.int64)
    for k in np.nonzero(out)[0]:  # unclipped, over all but what the shift uncovers: a changed word or footer adds to it
        my, mx = abs(int(t[k, 0])) + 2, abs(int(t[k, 1])) + 2
        moved = _shift_windows(b[k:k + 1], t[k:k + 1, 0], t[k:k + 1, 1], LIMIT)[0]
        diff = a[k, my:-my, mx:-mx].astype(np.int32) - moved[my:-my, mx:-mx]
        score[k] = int((diff * diff).sum(dtype=np.int64))
    return out, score


def _pair(pairs: dict[int, _Pair], k: int, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> _Pair:
    """Pair k of ``pairs`` at its shift ``t[k]``, made if not yet."""
    if k not in pairs or (pairs[k].t != t[k]).any():
        pairs[k] = _Pair(a[k], b[k], t[k].copy())
    return pairs[k]


class _Pair:
    """One pair at the fine size: ``a`` and ``b`` moved by ``t`` (edges repeated), their differences
    computed within the box of the pixels where they differ by more than `GREY_TOLERANCE` (grown
    by one pixel, where a blurred difference can reach): the strict test marks a pixel only where
    they differ by more than `FINE_TOLERANCE`, the blurred one only next to a pixel where they
    differ by more than `GREY_TOLERANCE` (a 3×3 mean moves by more than that only if one of its
    nine pixels does). Each test runs on the box and the few pixels around it its neighbourhoods
    need (cut at the frame's edges as the whole frame would be)."""

    def __init__(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> None:
        import numpy as np

        self.a, self.t = a, t
        self.moved = b if not t.any() else _shift_windows(b[None], t[None, 0], t[None, 1], LIMIT)[0]
        diff = np.maximum(a, self.moved)
        diff -= np.minimum(a, self.moved)
        self.big = int(np.count_nonzero(diff > FINE_TOLERANCE))
        self.box = _box(diff > GREY_TOLERANCE, 1)

    def strict_fits(self) -> bool:
        """Whether at most `FINE_BUDGET` pixels differ strictly (every strict difference is one of
        ``big``)."""
        import numpy as np

        return self.big <= FINE_BUDGET or int(np.count_nonzero(self.strict())) <= FINE_BUDGET

    def _crop(self, halo: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
        """(the box grown by ``halo`` within the frame, the box within that)."""
        h, w = self.a.shape
        (ys, xs) = self.box
        y0, x0 = max(0, ys.start - halo), max(0, xs.start - halo)
        outer = (slice(y0, min(h, ys.stop + halo)), slice(x0, min(w, xs.stop + halo)))
        return outer, (slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0))

    def _full(self, part: np.ndarray) -> np.ndarray:
        import numpy as np

        out = np.zeros(self.a.shape, bool)
        if self.box is not None:
            out[self.box] = part
        return out

    def strict(self) -> np.ndarray:
        """The strict differences (H×W bool): `_outside_half` > `FINE_TOLERANCE`, with the
        thresholds of `frame_views.strict_thresholds`."""
        if self.box is None:
            return self._full(None)
        outer, inner = self._crop(1)
        x, y = self.a[outer][None], self.moved[outer][None]
        x_hi, x_lo = strict_thresholds(x, *_range3(x))
        y_hi, y_lo = strict_thresholds(y, *_range3(y))
        return self._full(((x > y_hi) | (x < y_lo) | (y > x_hi) | (y < x_lo))[0][inner])

    def blurred(self) -> np.ndarray:
        """The blurred differences (H×W bool): 3×3 means outside the twin's 3×3 range by more than
        `GREY_TOLERANCE`."""
        if self.box is None:
            return self._full(None)
        outer, inner = self._crop(2)
        x, y = (_blur3(v[outer][None]).astype("uint8") for v in (self.a, self.moved))
        (x_lo, x_hi), (y_lo, y_hi) = _range3(x), _range3(y)
        flags = (x > _above(y_hi, GREY_TOLERANCE)) | (x < _below(y_lo, GREY_TOLERANCE))
        flags |= (y > _above(x_hi, GREY_TOLERANCE)) | (y < _below(x_lo, GREY_TOLERANCE))
        return self._full(flags[0][inner])

    def hopeless(self) -> bool:
        """Whether the pair fails whatever shift within a pixel of ``t`` `_refine` picks: with the
        second frame moved by any such shift, a pixel of ``a`` above the 5×5 maximum (below the
        minimum) of the frame moved by ``t`` by more than `FINE_TOLERANCE` differs strictly (so
        does one whose 3×3 range lies wholly above the other's by that much; and likewise for the
        blurred test and its ranges, `GREY_TOLERANCE`); those left, inside the edge any such shift
        uncovers, once the most a panel and a cursor can cover is taken away, exceed `FINE_BUDGET`
        (strict) and `BLUR_BUDGET` (blurred)."""

        if self.box is None:
            return False
        outer, inner = self._crop(3)
        x, y = self.a[outer][None], self.moved[outer][None]
        (x_lo3, x_hi3), (y_lo3, y_hi3) = _range3(x), _range3(y)
        y_lo5, y_hi5 = _range3(y_lo3)[0], _range3(y_hi3)[1]
        tol = FINE_TOLERANCE
        strict = ((x > _above(y_hi5, tol)) | (x < _below(y_lo5, tol)) | (y_lo3 > _above(x_hi3, tol))
                  | (x_lo3 > _above(y_hi3, tol)))
        margin = (abs(int(self.t[0])) + 3, abs(int(self.t[1])) + 3)  # where every such shift's windows lie in both frames
        if _unforgivable(self._full(strict[0][inner]), margin, 3) <= FINE_BUDGET:
            return False
        x, y = (_blur3(v[outer][None]).astype("uint8") for v in (self.a, self.moved))
        (x_lo3, x_hi3), (y_lo3, y_hi3) = _range3(x), _range3(y)
        y_lo5, y_hi5 = _range3(y_lo3)[0], _range3(y_hi3)[1]
        tol = GREY_TOLERANCE
        blurred = ((x > _above(y_hi5, tol)) | (x < _below(y_lo5, tol)) | (y_lo3 > _above(x_hi3, tol))
                   | (x_lo3 > _above(y_hi3, tol)))
        return _unforgivable(self._full(blurred[0][inner]), margin, 3) > BLUR_BUDGET

    def forgiven(self) -> bool:
        """The last steps of the fine check, for a pair whose strict differences exceed
        `FINE_BUDGET`: one panel (found in the blurred differences) and one cursor forgiven; or,
        for a frame moved by a fraction of a pixel, the blurred differences."""

        strict, blurred = self.strict(), self.blurred()
        edge = (abs(int(self.t[0])) + 2, abs(int(self.t[1])) + 2)  # what the shift uncovers, and the edge
        strict_left, blurred_left = _unforgivable(strict, edge, 3), _unforgivable(blurred, edge, 3)
        if strict_left > FINE_BUDGET and blurred_left > BLUR_BUDGET:
            return False
        panel = _panel_box(blurred, dilate=4, min_height=0.05)
        if strict_left <= FINE_BUDGET and _unforgiven(strict, panel, edge) <= FINE_BUDGET:
            return True
        if blurred_left > BLUR_BUDGET:  # a moved frame fails; one that did not move gets the strict test again
            return self._other_panel(strict, edge) and not _moved(self.a, self.moved, panel, LIMIT)
        if _moved(self.a, self.moved, panel, LIMIT):
            return _unforgiven(blurred, panel, edge) <= BLUR_BUDGET
        return self._other_panel(strict, edge)

    def _other_panel(self, strict: np.ndarray, edge: tuple[int, int]) -> bool:
        """The strict test with the panel as the strict differences show it."""
        if _unforgivable(strict, edge, 3) > FINE_BUDGET:
            return False
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
