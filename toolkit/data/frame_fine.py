"""The fine check at 320×180 of pairs that passed the 160×90 test, and the notification panel and
cursor it forgives (`toolkit.data.duplicates` describes the method)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_ops import (
    _blur3,
    _dilate,
    _outside,
    _range3,
    _refine,
    _shift_windows,
)
from toolkit.data.frame_spec import (
    BLUR_BUDGET,
    CURSOR_WH,
    FINE_BUDGET,
    FINE_TOLERANCE,
    GREY_TOLERANCE,
    MAX_SHIFT,
    MOVED_EXPLAINED,
)

if TYPE_CHECKING:
    import numpy as np


def _fine_same(fa: np.ndarray, fb: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fine check of pairs that passed the 160×90 test (module docstring of
    `toolkit.data.duplicates`), at 320×180 with the second frame aligned (twice the coarse shift,
    refined by a pixel): (same frame, the squared difference after alignment, to order merges).

    Strictly, a pixel differs when it lies outside the range its twin spans within half a pixel by
    more than `FINE_TOLERANCE`: JPEG noise stays inside, one changed word does not. A frame that
    moved by a fraction of a pixel (1–3 px of a 1280×720 screen) differs strictly along its edges;
    it is recognised by its differences being the frame's own gradient times one small shift
    (least squares: the shift explains at least `MOVED_EXPLAINED` of the differences' energy,
    where a changed word or cursor explains none) and compared blurred instead (3×3 means, each
    against its twin's 3×3 range, `GREY_TOLERANCE`). Either way one notification panel and one
    cursor-sized patch are forgiven, and at most `FINE_BUDGET` (strict) or `BLUR_BUDGET`
    (blurred) pixels may differ besides."""
    import numpy as np

    a, b = fa.astype(np.int16), fb.astype(np.int16)
    limit = 2 * MAX_SHIFT + 1
    m = limit
    t = 2 * shift
    moved = _shift_windows(b, t[:, 0], t[:, 1], limit)
    strict = _outside_half(a, moved) > FINE_TOLERANCE
    out = strict.sum(axis=(1, 2)) <= FINE_BUDGET
    redo = np.nonzero(~out)[0]
    if len(redo):  # the rest aligned to the pixel at this size (twice the coarse shift, refined by one)
        t[redo] = _refine(a[redo], b[redo], t[redo], limit)
        moved[redo] = _shift_windows(b[redo], t[redo, 0], t[redo, 1], limit)
        strict[redo] = _outside_half(a[redo], moved[redo]) > FINE_TOLERANCE
        out[redo] = strict[redo].sum(axis=(1, 2)) <= FINE_BUDGET
    score = np.zeros(len(a), np.int64)
    for k in range(len(a)):  # unclipped, over all but what the shift uncovers: a changed word or footer adds to it
        my, mx = abs(int(t[k, 0])) + 2, abs(int(t[k, 1])) + 2
        diff = (a[k, my:-my, mx:-mx] - moved[k, my:-my, mx:-mx]).astype(np.int32)
        score[k] = int((diff * diff).sum(dtype=np.int64))
    for k in np.nonzero(~out)[0]:
        blurred = (_outside(_blur3(a[k:k + 1]), _blur3(moved[k:k + 1])) > GREY_TOLERANCE)[0]
        margin = (abs(int(t[k, 0])) + 2, abs(int(t[k, 1])) + 2)  # what the shift uncovers, and the edge
        panel = _panel_box(blurred, dilate=4, min_height=0.05)
        if _unforgiven(strict[k], panel, margin).sum() <= FINE_BUDGET:
            out[k] = True
        elif _moved(a[k], moved[k], panel, m):
            out[k] = _unforgiven(blurred, panel, margin).sum() <= BLUR_BUDGET
        else:  # the panel as the strict differences show it
            other = _panel_box(strict[k], dilate=4, min_height=0.05)
            out[k] = other is not None and _unforgiven(strict[k], other, margin).sum() <= FINE_BUDGET
    return out, score


def _moved(a: np.ndarray, b: np.ndarray, panel: tuple[int, int, int, int] | None, margin: int) -> bool:
    """Whether ``b`` is ``a`` moved by a fraction of a pixel: the least-squares shift δ with
    a − b ≈ ∇·δ (the mean frame's central differences) is at least a tenth of a pixel and explains
    at least `MOVED_EXPLAINED` of the energy of a − b (outside the ``panel`` and the ``margin``)."""
    import numpy as np

    x, y = a.astype(np.float64), b.astype(np.float64)
    mean = (x + y) / 2
    gy, gx = np.zeros_like(mean), np.zeros_like(mean)
    gy[1:-1] = (mean[2:] - mean[:-2]) / 2
    gx[:, 1:-1] = (mean[:, 2:] - mean[:, :-2]) / 2
    w = np.zeros_like(mean)
    w[margin:-margin, margin:-margin] = 1
    if panel is not None:
        y0, y1, x0, x1 = panel
        w[max(0, y0 - 3):y1 + 3, max(0, x0 - 3):x1 + 3] = 0
    d = x - y
    energy = float((w * d * d).sum())
    if energy <= 0:
        return False
    g = np.array([[(w * gy * gy).sum(), (w * gy * gx).sum()], [(w * gy * gx).sum(), (w * gx * gx).sum()]])
    r = np.array([(w * gy * d).sum(), (w * gx * d).sum()])
    if abs(np.linalg.det(g)) < 1e-9:
        return False
    delta = np.linalg.solve(g, r)
    rest = d - gy * delta[0] - gx * delta[1]
    return bool(np.abs(delta).max() >= 0.1 and 1 - float((w * rest * rest).sum()) / energy >= MOVED_EXPLAINED)


def _outside_half(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How far each element of ``a`` lies outside the range ``b`` spans within half a pixel (half
    way from each value to its 3×3 neighbourhood's minimum and maximum), and vice versa."""
    import numpy as np

    alo, ahi = _range3(a)
    blo, bhi = _range3(b)
    return np.maximum(np.maximum(2 * a - b - bhi, b + blo - 2 * a),
                      np.maximum(2 * b - a - ahi, a + alo - 2 * b)).clip(min=0) // 2


def _unforgiven(differs: np.ndarray, panel: tuple[int, int, int, int] | None, margin: tuple[int, int]) -> np.ndarray:
    """The changed pixels of one fine frame left once the notification ``panel`` (its box and 3
    pixels around it), the ``margin`` rows and columns at the edges (what a shift uncovers) and
    the largest cursor-sized patch (`CURSOR_WH`; changes joined within about two pixels) are
    forgiven."""
    import numpy as np
    from scipy import ndimage

    h, w = differs.shape
    left = differs.copy()
    if panel is not None:
        y0, y1, x0, x1 = panel
        left[max(0, y0 - 3):y1 + 3, max(0, x0 - 3):x1 + 3] = False
    my, mx = margin
    left[:my] = left[h - my:] = False
    left[:, :mx] = left[:, w - mx:] = False
    counts = left.reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
    labels, n = ndimage.label(counts > 0, structure=np.ones((3, 3), bool))
    if n == 0:
        return left
    sizes = ndimage.sum_labels(counts, labels, np.arange(1, n + 1))
    best, best_label = 0, 0
    for k, sl in enumerate(ndimage.find_objects(labels)):
        if (2 * (sl[0].stop - sl[0].start) - 1 <= CURSOR_WH[1] * h and 2 * (sl[1].stop - sl[1].start) - 1 <= CURSOR_WH[0] * w
                and sizes[k] > best):
            best, best_label = sizes[k], k + 1
    if best_label:
        left &= (labels != best_label).repeat(2, axis=0).repeat(2, axis=1)
    return left


def _panel(differs: np.ndarray) -> int:
    """Changed pixels of the largest notification-like patch (module docstring), 0 if none."""
    box = _panel_box(differs)
    if box is None:
        return 0
    y0, y1, x0, x1 = box
    # the panel's box and 2 pixels around it: its faint border and icon, apart from its text
    return int(differs[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2].sum())


def _panel_box(differs: np.ndarray, dilate: int = 2, min_height: float = 0.0,
               pool: int = 1) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the notification-like patch of changes with the most changed pixels
    around it (module docstring), or None: the changed pixels' box (joined by ``dilate`` pixels,
    or, with ``pool`` > 1, by touching ``pool``×``pool`` blocks: cheaper on a large frame)
    touches the top or the bottom tenth of the frame, covers 0.5–6% of it, at most 40% of its
    width and from ``min_height`` to 20% of its height."""
    import numpy as np
    from scipy import ndimage

    h, w = differs.shape
    area = h * w
    if pool > 1:
        joined = differs.reshape(h // pool, pool, w // pool, pool).any(axis=(1, 3))
        labels, _ = ndimage.label(joined, structure=np.ones((3, 3), bool))
    else:
        labels, _ = ndimage.label(_dilate(differs, dilate), structure=[[1, 1, 1]] * 3)
    best, best_box = 0, None
    for k, sl in enumerate(ndimage.find_objects(labels)):
        if pool > 1:
            sl = (slice(sl[0].start * pool, sl[0].stop * pool), slice(sl[1].start * pool, sl[1].stop * pool))
            if (sl[0].stop - sl[0].start) * (sl[1].stop - sl[1].start) < 0.005 * area:
                continue
            mine = differs[sl] & (labels == k + 1).repeat(pool, axis=0).repeat(pool, axis=1)[sl]
        else:
            if (sl[0].stop - sl[0].start) * (sl[1].stop - sl[1].start) < 0.005 * area:
                continue  # even its dilated box is smaller than a panel
            mine = differs[sl] & (labels[sl] == k + 1)
        ys, xs = mine.any(axis=1).nonzero()[0], mine.any(axis=0).nonzero()[0]
        y0, y1 = sl[0].start + ys[0], sl[0].start + ys[-1] + 1  # the changed pixels' box (not the dilated one)
        x0, x1 = sl[1].start + xs[0], sl[1].start + xs[-1] + 1
        bh, bw = y1 - y0, x1 - x0
        at_edge = min(y0, h - y1) <= 0.10 * h  # notifications sit at the top or the bottom
        if at_edge and 0.005 * area <= bh * bw <= 0.06 * area and bw <= 0.4 * w and min_height * h <= bh <= 0.2 * h:
            pixels = int(differs[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2].sum())
            if pixels > best:
                best, best_box = pixels, (int(y0), int(y1), int(x0), int(x1))
    return best_box
