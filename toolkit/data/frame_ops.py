"""Array operations the same-frame test is built of: neighbourhood ranges, blurs, shifts (each over
a stack of frames, P×H×W)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_spec import MAX_SHIFT

if TYPE_CHECKING:
    import numpy as np


def _range3(x: np.ndarray, reach: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum over each element's neighbourhood (3×3, or 5×5 with ``reach=2``; edges
    repeated, which for a minimum or maximum is the window clipped to the frame) of …×H×W,
    separably: rows, then columns."""
    import numpy as np

    def along(v: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = v.copy(), v.copy()
        lo_m, hi_m, v_m = (np.moveaxis(a, axis, 0) for a in (lo, hi, v))
        for s in range(1, reach + 1):
            np.minimum(lo_m[:-s], v_m[s:], out=lo_m[:-s])
            np.minimum(lo_m[s:], v_m[:-s], out=lo_m[s:])
            np.maximum(hi_m[:-s], v_m[s:], out=hi_m[:-s])
            np.maximum(hi_m[s:], v_m[:-s], out=hi_m[s:])
        return lo, hi

    lo, hi = along(x, x.ndim - 2)
    return along(lo, x.ndim - 1)[0], along(hi, x.ndim - 1)[1]


def _halve(x: np.ndarray) -> np.ndarray:
    """Sums of 2×2 blocks of P×H×W (int16): the frame at half size, four times as bright."""
    v = x.reshape(x.shape[0], x.shape[1] // 2, 2, x.shape[2] // 2, 2)
    return v[:, :, 0, :, 0] + v[:, :, 1, :, 0] + v[:, :, 0, :, 1] + v[:, :, 1, :, 1]


def _outside(a: np.ndarray, b: np.ndarray, reach: int = 1) -> np.ndarray:
    """How far each element of ``a`` lies outside the range of ``b``'s neighbourhood (3×3, or 5×5
    with ``reach=2``) and vice versa (the larger)."""
    import numpy as np

    alo, ahi = _range3(a, reach)
    blo, bhi = _range3(b, reach)
    return np.maximum(np.maximum(a - bhi, blo - a), np.maximum(b - ahi, alo - b)).clip(min=0)


def _shift_windows(x: np.ndarray, dy: np.ndarray, dx: np.ndarray, pad: int, padded: np.ndarray | None = None) -> np.ndarray:
    """Each x[p] moved by (dy[p], dx[p]) (edges repeated): P×H×W, sliced once per distinct shift.
    ``padded``: ``x`` already padded by ``pad`` on each side (to pad once for many shifts)."""
    import numpy as np

    _, h, w = x.shape
    if padded is None:
        padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
    if len(dy) and (dy == dy[0]).all() and (dx == dx[0]).all():
        sy, sx = int(dy[0]), int(dx[0])
        return padded[:, pad - sy:pad - sy + h, pad - sx:pad - sx + w]
    out = np.empty_like(x)
    shifts = np.stack([dy, dx], axis=1)
    for sy, sx in np.unique(shifts, axis=0).tolist():
        rows = np.nonzero((shifts[:, 0] == sy) & (shifts[:, 1] == sx))[0]
        out[rows] = padded[rows, pad - sy:pad - sy + h, pad - sx:pad - sx + w]
    return out


def _blur3(x: np.ndarray) -> np.ndarray:
    """The mean of each pixel's 3×3 neighbourhood (edges repeated), integer, of P×H×W."""
    import numpy as np

    h, w = x.shape[1:]
    padded = np.pad(x.astype(np.int32), ((0, 0), (1, 1), (1, 1)), mode="edge")
    total = sum(padded[:, dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3))
    return (total // 9).astype(np.int16)


def _fractional_shift(x: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Each x[p] (P×H×W×C) moved by (dy[p], dx[p]) cells, fractions interpolated linearly, edges repeated."""
    import numpy as np

    p, h, w = x.shape[:3]
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
    ys = np.arange(h)[None, :] + 2 - dy[:, None]  # P×H source rows
    xs = np.arange(w)[None, :] + 2 - dx[:, None]
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    wy, wx = (ys - y0)[:, :, None, None], (xs - x0)[:, None, :, None]
    idx = np.arange(p)[:, None, None]

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        return padded[idx, yy[:, :, None], xx[:, None, :]]

    return ((1 - wy) * (1 - wx) * at(y0, x0) + (1 - wy) * wx * at(y0, x0 + 1)
            + wy * (1 - wx) * at(y0 + 1, x0) + wy * wx * at(y0 + 1, x0 + 1))


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    """``mask`` (H×W bool) grown by ``steps`` pixels along rows and columns (a diamond; what
    `scipy.ndimage.binary_dilation` does with its default structure and ``iterations=steps``), in
    a few array operations."""
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def _refine(a: np.ndarray, b: np.ndarray, base: np.ndarray, limit: int = MAX_SHIFT) -> np.ndarray:
    """The shift within ±1 of ``base`` (twice the shift found at half the size), at most ``limit``
    each way, that matches 10% better than ``base`` (clipped absolute difference, as `_align_half`)."""
    import numpy as np

    final, final_score = base.copy(), None
    m = limit
    padded = np.pad(b, ((0, 0), (limit, limit), (limit, limit)), mode="edge")
    for ey, ex in [(0, 0)] + [(y, x) for y in (-1, 0, 1) for x in (-1, 0, 1) if (y, x) != (0, 0)]:
        shift = np.clip(base + (ey, ex), -limit, limit)
        moved = _shift_windows(b, shift[:, 0], shift[:, 1], limit, padded)
        score = np.minimum(np.abs(a - moved)[:, m:-m, m:-m], 32).sum(axis=(1, 2), dtype=np.int64)
        if final_score is None:
            final_score = score
            continue
        better = score * 10 < final_score * 9
        final_score = np.where(better, score, final_score)
        final[better] = shift[better]
    return final
