"""The fine check of the same-frame test written plainly, as it was before it was made fast (#29):
whole-frame numpy with padded windows, each step for every pair, no bounds and no reuse. The
tests compare `toolkit.data.frame_fine` and `toolkit.data.frame_forgive` with it."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from toolkit.data.frame_spec import (
    BLUR_BUDGET,
    CURSOR_WH,
    FINE_BUDGET,
    FINE_TOLERANCE,
    GREY_TOLERANCE,
    MAX_SHIFT,
    MOVED_EXPLAINED,
)

LIMIT = 2 * MAX_SHIFT + 1
NEAR = [(0, 0)] + [(y, x) for y in (-1, 0, 1) for x in (-1, 0, 1) if (y, x) != (0, 0)]


def window_range(x: np.ndarray, reach: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum of each pixel's (2·reach+1)² neighbourhood, edges repeated (P×H×W)."""
    p = np.pad(x, ((0, 0), (reach, reach), (reach, reach)), mode="edge")
    h, w = x.shape[1:]
    views = [p[:, dy:dy + h, dx:dx + w] for dy in range(2 * reach + 1) for dx in range(2 * reach + 1)]
    return np.min(views, axis=0), np.max(views, axis=0)


def mean3(x: np.ndarray) -> np.ndarray:
    p = np.pad(x.astype(np.int64), ((0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = x.shape[1:]
    return sum(p[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) // 9


def moved_by(b: np.ndarray, t: tuple[int, int]) -> np.ndarray:
    """One frame moved by ``t`` (rows, columns), the edge repeated."""
    p = np.pad(b, LIMIT, mode="edge")
    h, w = b.shape
    return p[LIMIT - t[0]:LIMIT - t[0] + h, LIMIT - t[1]:LIMIT - t[1] + w]


def strict(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.int64)[None], b.astype(np.int64)[None]
    (alo, ahi), (blo, bhi) = window_range(a), window_range(b)
    half = np.maximum(np.maximum(2 * a - b - bhi, b + blo - 2 * a), np.maximum(2 * b - a - ahi, a + alo - 2 * b))
    return (half.clip(min=0) // 2 > FINE_TOLERANCE)[0]


def blurred(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x, y = mean3(a[None]), mean3(b[None])
    (xlo, xhi), (ylo, yhi) = window_range(x), window_range(y)
    return (np.maximum(np.maximum(x - yhi, ylo - x), np.maximum(y - xhi, xlo - y)) > GREY_TOLERANCE)[0]


def refine(a: np.ndarray, b: np.ndarray, base: tuple[int, int]) -> tuple[int, int]:
    h, w = a.shape
    m, best, best_score = LIMIT, base, None
    for e in NEAR:
        s = tuple(int(v) for v in np.clip(np.array(base) + e, -LIMIT, LIMIT))
        score = int(np.minimum(np.abs(a.astype(int) - moved_by(b, s))[m:h - m, m:w - m], 32).sum())
        if best_score is None:
            best_score = score
        elif score * 10 < best_score * 9:
            best, best_score = s, score
    return best


def panel_box(differs: np.ndarray, dilate: int = 2, min_height: float = 0.0) -> tuple[int, int, int, int] | None:
    h, w = differs.shape
    area = h * w
    labels, _ = ndimage.label(ndimage.binary_dilation(differs, iterations=dilate), structure=[[1, 1, 1]] * 3)
    best, best_box = 0, None
    for k, sl in enumerate(ndimage.find_objects(labels)):
        if (sl[0].stop - sl[0].start) * (sl[1].stop - sl[1].start) < 0.005 * area:
            continue
        mine = differs[sl] & (labels[sl] == k + 1)
        ys, xs = mine.any(axis=1).nonzero()[0], mine.any(axis=0).nonzero()[0]
        y0, y1 = sl[0].start + ys[0], sl[0].start + ys[-1] + 1
        x0, x1 = sl[1].start + xs[0], sl[1].start + xs[-1] + 1
        bh, bw = y1 - y0, x1 - x0
        if (min(y0, h - y1) <= 0.10 * h and 0.005 * area <= bh * bw <= 0.06 * area and bw <= 0.4 * w
                and min_height * h <= bh <= 0.2 * h):
            pixels = int(differs[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2].sum())
            if pixels > best:
                best, best_box = pixels, (int(y0), int(y1), int(x0), int(x1))
    return best_box


def unforgiven(differs: np.ndarray, panel: tuple[int, int, int, int] | None, margin: tuple[int, int]) -> int:
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
        return int(left.sum())
    sizes = ndimage.sum_labels(counts, labels, np.arange(1, n + 1))
    best, best_label = 0, 0
    for k, sl in enumerate(ndimage.find_objects(labels)):
        if (2 * (sl[0].stop - sl[0].start) - 1 <= CURSOR_WH[1] * h and 2 * (sl[1].stop - sl[1].start) - 1 <= CURSOR_WH[0] * w
                and sizes[k] > best):
            best, best_label = sizes[k], k + 1
    if best_label:
        left &= (labels != best_label).repeat(2, axis=0).repeat(2, axis=1)
    return int(left.sum())


def moved(a: np.ndarray, b: np.ndarray, panel: tuple[int, int, int, int] | None, margin: int) -> bool:
    x, y = a.astype(np.float64), b.astype(np.float64)
    mean = (x + y) / 2
    gy, gx = np.zeros_like(mean), np.zeros_like(mean)
    gy[1:-1] = (mean[2:] - mean[:-2]) / 2
    gx[:, 1:-1] = (mean[:, 2:] - mean[:, :-2]) / 2
    wt = np.zeros_like(mean)
    wt[margin:-margin, margin:-margin] = 1
    if panel is not None:
        y0, y1, x0, x1 = panel
        wt[max(0, y0 - 3):y1 + 3, max(0, x0 - 3):x1 + 3] = 0
    d = x - y
    energy = float((wt * d * d).sum())
    if energy <= 0:
        return False
    g = np.array([[(wt * gy * gy).sum(), (wt * gy * gx).sum()], [(wt * gy * gx).sum(), (wt * gx * gx).sum()]])
    r = np.array([(wt * gy * d).sum(), (wt * gx * d).sum()])
    if abs(np.linalg.det(g)) < 1e-9:
        return False
    delta = np.linalg.solve(g, r)
    rest = d - gy * delta[0] - gx * delta[1]
    return bool(np.abs(delta).max() >= 0.1 and 1 - float((wt * rest * rest).sum()) / energy >= MOVED_EXPLAINED)


def fine_same(a: np.ndarray, b: np.ndarray, shift: tuple[int, int]) -> tuple[bool, int]:
    """(same frame, squared difference after alignment) of one pair of 320×180 frames."""
    t = (2 * shift[0], 2 * shift[1])
    s = strict(a, moved_by(b, t))
    same = int(s.sum()) <= FINE_BUDGET
    if not same:
        t = refine(a, b, t)
        s = strict(a, moved_by(b, t))
        same = int(s.sum()) <= FINE_BUDGET
    m = moved_by(b, t)
    my, mx = abs(t[0]) + 2, abs(t[1]) + 2
    diff = a[my:-my, mx:-mx].astype(np.int64) - m[my:-my, mx:-mx]
    score = int((diff * diff).sum())
    if not same:
        blur = blurred(a, m)
        panel = panel_box(blur, dilate=4, min_height=0.05)
        if unforgiven(s, panel, (my, mx)) <= FINE_BUDGET:
            same = True
        elif moved(a, m, panel, LIMIT):
            same = unforgiven(blur, panel, (my, mx)) <= BLUR_BUDGET
        else:
            other = panel_box(s, dilate=4, min_height=0.05)
            same = other is not None and unforgiven(s, other, (my, mx)) <= FINE_BUDGET
    return same, score
