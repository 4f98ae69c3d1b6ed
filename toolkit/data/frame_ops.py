"""Array operations the same-frame test is built of: neighbourhood ranges, blurs, shifts (each over
a stack of frames, P×H×W)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_spec import MAX_SHIFT

if TYPE_CHECKING:
    import numpy as np


_HEAP_READY = False


def _keep_temporaries_on_the_heap() -> None:
    """Let this process's allocator serve the test's temporaries (up to tens of MB) from its heap.

    glibc's malloc gives each block over its mmap threshold (128 KB to start with) fresh pages
    from the kernel, zeroed on first touch, and returns them when freed; the test makes thousands
    of such temporaries (a batch of frames gathered per pair), and their page faults took 0.3–0.5 s
    of a 1.4 s grouping on the real screenshots. When such a block is freed, glibc raises the
    threshold to its size (at most 32 MB: `mallopt(3)`, "dynamic adjustment"), after which freed
    memory is reused. One 31 MB block, allocated untouched and freed, does that once per process:
    nothing else changes, and where the threshold was set by the user (``MALLOC_MMAP_THRESHOLD_``)
    or the allocator is another, it does nothing."""
    global _HEAP_READY
    if not _HEAP_READY:
        import numpy as np

        block = np.empty(31 << 20, np.uint8)
        del block
        _HEAP_READY = True


def _range3(x: np.ndarray, reach: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum over each element's neighbourhood (3×3, or 5×5 with ``reach=2``; edges
    repeated, which for a minimum or maximum is the window clipped to the frame) of P×H×W,
    separably: rows, then columns, each as operations on the flattened stack (the neighbour a row
    or a column away), the first and last row and column of each frame set apart."""
    import numpy as np

    lo, hi = x, x
    for axis in (1, 2):
        for _ in range(reach):
            lo, hi = _extreme3(lo, np.minimum, axis), _extreme3(hi, np.maximum, axis)
    return lo, hi


def _extreme3(x: np.ndarray, fn: np.ufunc, axis: int) -> np.ndarray:
    """``fn`` (`numpy.minimum` or `numpy.maximum`) of each element of P×H×W and its two neighbours
    along ``axis`` (1: rows, 2: columns), the window clipped to the frame."""
    import numpy as np

    x = np.ascontiguousarray(x)
    step = x.shape[2] if axis == 1 else 1
    flat = x.reshape(-1)
    pair = fn(flat[:-step], flat[step:])  # pair[k]: element k and the one after it
    out = np.empty_like(x)
    body = out.reshape(-1)
    fn(pair[:-step], pair[step:], out=body[step:-step])
    body[:step], body[-step:] = pair[:step], pair[-step:]
    first, second, last, before = ((np.s_[:, 0], np.s_[:, 1], np.s_[:, -1], np.s_[:, -2]) if axis == 1 else
                                   (np.s_[:, :, 0], np.s_[:, :, 1], np.s_[:, :, -1], np.s_[:, :, -2]))
    out[first] = fn(x[first], x[second])  # the edges, where the flattened neighbour is another row or frame
    out[last] = fn(x[last], x[before])
    return out


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


def _shift_windows(x: np.ndarray, dy: np.ndarray, dx: np.ndarray, pad: int) -> np.ndarray:
    """Each x[p] moved by (dy[p], dx[p]) (edges repeated; no shift beyond ``pad``): a new P×H×W
    array. Row i of a frame moved by sy is its row clip(i − sy) — what padding by ``pad`` with
    repeated edges and slicing at ``pad − sy`` gives, without building the padded copy (that
    copy, made per pair by the fine check's scores, took a fifth of the grouping's time on runs of
    recorded frames). One gather per distinct shift."""
    import numpy as np

    _, h, w = x.shape
    if len(dy) and max(int(np.abs(dy).max()), int(np.abs(dx).max())) > pad:
        raise ValueError(f"shift beyond {pad} pixels")
    out = np.empty_like(x)
    shifts = np.stack([np.asarray(dy), np.asarray(dx)], axis=1).astype(np.int64)
    uniform = not len(shifts) or bool((shifts == shifts[0]).all())
    for sy, sx in (shifts[:1] if uniform else np.unique(shifts, axis=0)).tolist():
        rows = np.s_[:] if uniform else np.nonzero((shifts[:, 0] == sy) & (shifts[:, 1] == sx))[0]
        part = x[rows]
        if sy:
            part = part[:, np.clip(np.arange(h) - sy, 0, h - 1)]
        if sx:
            part = part[:, :, np.clip(np.arange(w) - sx, 0, w - 1)]
        out[rows] = part
    return out


def _blur3(x: np.ndarray) -> np.ndarray:
    """The mean of each pixel's 3×3 neighbourhood (edges repeated), rounded down, of P×H×W whose
    values are at most 3640 (int16 sums): separably, as `_range3`."""
    import numpy as np

    total = _sum3(_sum3(np.asarray(x, dtype=np.int16), 1), 2)
    total //= 9
    return total


def _sum3(x: np.ndarray, axis: int) -> np.ndarray:
    """Each element of P×H×W plus its two neighbours along ``axis`` (1: rows, 2: columns), the
    edge repeated."""
    import numpy as np

    step = x.shape[2] if axis == 1 else 1
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    np.add(flat[:-2 * step], flat[step:-step], out=out[step:-step])
    out[step:-step] += flat[2 * step:]
    out = out.reshape(x.shape)
    first, second, last, before = ((np.s_[:, 0], np.s_[:, 1], np.s_[:, -1], np.s_[:, -2]) if axis == 1 else
                                   (np.s_[:, :, 0], np.s_[:, :, 1], np.s_[:, :, -1], np.s_[:, :, -2]))
    out[first] = 2 * x[first] + x[second]
    out[last] = 2 * x[last] + x[before]
    return out


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
    return _search_shift(a, b, base, _NEIGHBOURS, limit, 32, (10, 9), limit)


#: The shifts `_refine` tries around its start, in order.
_NEIGHBOURS = [(0, 0)] + [(y, x) for y in (-1, 0, 1) for x in (-1, 0, 1) if (y, x) != (0, 0)]


def _search_shift(a: np.ndarray, b: np.ndarray, start: np.ndarray, steps: list[tuple[int, int]], crop: int,
                  clip: int, ratio: tuple[int, int], limit: int) -> np.ndarray:
    """Per pair of frames (``a``, ``b``: P×H×W), the shift of ``b`` among ``start`` + each of ``steps``
    (the first (0, 0); clipped to ±``limit``) kept by the rule: tried in order, a shift replaces
    the best so far when its score times ``ratio[0]`` is below the best's times ``ratio[1]``. The
    score is the absolute difference clipped at ``clip``, summed over ``a`` less ``crop`` pixels
    at each edge (``crop`` ≥ the shift: no repeated edge enters it).

    Exact shortcut: the best only gets better, so a shift whose score on some of the rows (a lower
    bound of its score) already fails the rule against the start's score can never replace
    anything. Each shift's score is summed a quarter of the rows at a time (every fourth row, then
    the rows between), dropping such shifts as it goes; the shifts left have their full score."""
    import numpy as np

    start = np.asarray(start, dtype=np.int64).reshape(-1, 2)
    best = start.copy()
    if not len(start):
        return best
    first = np.clip(start, -limit, limit)
    best_score = _scores_at(a, b, np.arange(len(start)), first, crop, clip)
    first_score = best_score.copy()
    for e in steps[1:]:
        shift = np.clip(start + e, -limit, limit)
        rows = np.nonzero((shift != first).any(axis=1))[0]  # a shift equal to the start cannot replace it
        score = np.zeros(len(rows), np.int64)
        for phase in (0, 2, 1, 3):
            if not len(rows):
                break
            score += _scores_at(a, b, rows, shift[rows], crop, clip, step=4, phase=phase)
            alive = score * ratio[0] < first_score[rows] * ratio[1]
            rows, score = rows[alive], score[alive]
        if len(rows):
            better = score * ratio[0] < best_score[rows] * ratio[1]
            best_score[rows[better]] = score[better]
            best[rows[better]] = shift[rows[better]]
    return best


def _scores_at(a: np.ndarray, b: np.ndarray, rows: np.ndarray, shifts: np.ndarray, crop: int, clip: int,
               step: int = 1, phase: int = 0) -> np.ndarray:
    """Σ min(|a[q] − b[q − shift]|, ``clip``) over ``a`` less ``crop`` pixels at each edge (every
    ``step``-th row from the ``phase``-th), for pairs ``rows`` (sorted) of the stacks ``a``, ``b``
    at their ``shifts``: int64, the pairs taken one shift at a time."""
    import numpy as np

    _, h, w = a.shape
    out = np.empty(len(rows), np.int64)
    if not len(rows):
        return out
    code = shifts[:, 0] * 1024 + shifts[:, 1]
    if (code == code[0]).all():
        groups = [(slice(None), shifts[0])]
    else:
        uniq, inverse = np.unique(code, return_inverse=True)
        groups = [(np.flatnonzero(inverse == k), shifts[int(np.flatnonzero(inverse == k)[0])]) for k in range(len(uniq))]
    whole = len(rows) == a.shape[0] and rows[-1] == len(rows) - 1
    for sel, (sy, sx) in groups:
        ys, xs = slice(crop + phase, h - crop, step), slice(crop, w - crop)
        yb, xb = slice(crop + phase - int(sy), h - crop - int(sy), step), slice(crop - int(sx), w - crop - int(sx))
        if whole and isinstance(sel, slice):
            x, y = a[:, ys, xs], b[:, yb, xb]
        else:
            r = rows[sel]
            x, y = a[r, ys, xs], b[r, yb, xb]
        out[sel] = _in_batches(lambda u, v: _clipped_sums(u, v, clip), x, y)
    return out


def _clipped_sums(x: np.ndarray, y: np.ndarray, clip: int) -> np.ndarray:
    """Σ min(|x − y|, ``clip``) per frame of two stacks (int64)."""
    import numpy as np

    if x.dtype == np.uint8:
        d = np.maximum(x, y)
        d -= np.minimum(x, y)
    else:
        d = np.subtract(x, y)
        np.abs(d, out=d)
    np.minimum(d, _const(clip, d), out=d)
    return d.sum(axis=1, dtype=np.uint16 if x.dtype == np.uint8 else np.int32).sum(axis=1, dtype=np.int64)


def _const(value: int, like: np.ndarray) -> np.ndarray:
    """``value`` as a row (``like``'s last dimension) of ``like``'s dtype, to broadcast: `numpy.minimum`
    and `numpy.maximum` of an array and one number (or an array of one element) take a loop
    several times slower than of two arrays along a row (numpy 2.4)."""
    import numpy as np

    return np.full((1,) * (like.ndim - 1) + (like.shape[-1],), value, dtype=like.dtype)


def _band_max(flags: np.ndarray, rows: slice, width: int) -> np.ndarray:
    """Per frame of P×H×W booleans, the most set within any ``width`` consecutive columns of the
    rows ``rows`` (an upper bound of what a patch that narrow within those rows covers)."""
    import numpy as np

    band = flags[:, rows].view(np.uint8)
    cols = band.sum(axis=1, dtype=np.uint8 if band.shape[1] < 256 else np.int32)
    edges = np.zeros((cols.shape[0], cols.shape[1] + 1), np.int32)
    np.cumsum(cols, axis=1, out=edges[:, 1:])
    width = min(width, cols.shape[1])
    return (edges[:, width:] - edges[:, :-width]).max(axis=1)


def _patch_max(flags: np.ndarray, blocks: tuple[int, int]) -> np.ndarray:
    """Per frame of P×H×W booleans (H, W even), the most set within any ``blocks`` (rows, columns)
    of 2×2-pixel blocks."""
    import numpy as np

    p, h, w = flags.shape
    v = flags.view(np.uint8)
    pairs = v[:, 0::2] + v[:, 1::2]
    counts = (pairs[:, :, 0::2] + pairs[:, :, 1::2]).astype(np.int32)
    edges = np.zeros((p, h // 2 + 1, w // 2 + 1), np.int32)
    np.cumsum(np.cumsum(counts, axis=1), axis=2, out=edges[:, 1:, 1:])
    bh, bw = min(blocks[0], h // 2), min(blocks[1], w // 2)
    return (edges[:, bh:, bw:] - edges[:, :-bh, bw:] - edges[:, bh:, :-bw] + edges[:, :-bh, :-bw]).max(axis=(1, 2))


def _counts(flags: np.ndarray) -> np.ndarray:
    """How many are set in each frame of P×… booleans (int64): `numpy.count_nonzero` per frame,
    much faster than counting along axes."""
    import numpy as np

    return np.array([np.count_nonzero(f) for f in flags], dtype=np.int64)


def _in_batches(fn, *stacks: np.ndarray, size: int = 8) -> np.ndarray:
    """``fn(*stacks)`` (an array with one row per frame) computed ``size`` frames at a time: a few
    frames' temporaries stay in the processor's cache, where a whole stack's would not (several
    times faster at 320×180)."""
    import numpy as np

    n = len(stacks[0])
    if n <= size:
        return fn(*stacks)
    return np.concatenate([fn(*(x[s:s + size] for x in stacks)) for s in range(0, n, size)])
