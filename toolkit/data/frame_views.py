"""Per-image arrays the same-frame test compares: each image's frames (160×90, its half, 320×180),
their blurs and the neighbourhood ranges the tests look up, computed once per image on first use
(a candidate pair compares two images; an image is in many pairs) and, for a frame moved by a
shift, once per pair from the moved frame.

Comparisons are thresholds looked up per pixel: "``a`` lies more than ``tol`` above the maximum of
``b``'s neighbourhood" is ``a > hi_b`` with ``hi_b = max + tol`` stored per image (clipped to the
dtype, which leaves the comparison exact), so that comparing a pair is a few passes over uint8.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from toolkit.data.frame_features import _coarse, _split
from toolkit.data.frame_ops import _blur3, _const, _halve, _range3
from toolkit.data.frame_spec import (
    COLOUR_HW,
    COLOUR_TOLERANCE,
    FINE_TOLERANCE,
    FRAME_HW,
    GREY_TOLERANCE,
)

if TYPE_CHECKING:
    import numpy as np


def _above(hi: np.ndarray, tol: int) -> np.ndarray:
    """``hi + tol`` of uint8, clipped at 255 (``v > that`` is then ``v > hi + tol`` for any uint8 ``v``)."""
    import numpy as np

    out = np.minimum(hi, _const(255 - tol, hi))
    out += tol
    return out


def _below(lo: np.ndarray, tol: int) -> np.ndarray:
    """``lo - tol`` of uint8, clipped at 0 (``v < that`` is then ``v < lo - tol`` for any uint8 ``v``)."""
    import numpy as np

    out = np.maximum(lo, _const(tol, lo))
    out -= tol
    return out


def coarse_arrays(c: np.ndarray) -> dict[str, np.ndarray]:
    """Of 160×90 frames (uint8 P×90×160): the strict test's thresholds (3×3 range ±
    `GREY_TOLERANCE`), the 3×3 mean and the thresholds of its 5×5 range, and the grey range of
    each colour cell (5×5 pixels)."""
    import numpy as np

    lo3, hi3 = _range3(c)
    blur = _blur3(c).astype(np.uint8)
    blo5, bhi5 = _range3(blur, 2)
    return {"c_hi": _above(hi3, GREY_TOLERANCE), "c_lo": _below(lo3, GREY_TOLERANCE),
            "blur": blur, "b_hi": _above(bhi5, GREY_TOLERANCE), "b_lo": _below(blo5, GREY_TOLERANCE),
            "cell_range": cell_range(c)}


def loose_arrays(c: np.ndarray) -> dict[str, np.ndarray]:
    """Of 160×90 frames: the pre-test's thresholds (`frame_pairs._alike`): the 5×5 range ±
    `GREY_TOLERANCE`, the 3×3 mean and the 9×9 range of means ± `GREY_TOLERANCE`."""
    import numpy as np

    lo5, hi5 = _range3(c, 2)
    blur = _blur3(c).astype(np.uint8)
    blo9, bhi9 = _range3(blur, 4)
    return {"l_hi": _above(hi5, GREY_TOLERANCE), "l_lo": _below(lo5, GREY_TOLERANCE), "blur": blur,
            "lb_hi": _above(bhi9, GREY_TOLERANCE), "lb_lo": _below(blo9, GREY_TOLERANCE)}


def cell_range(c: np.ndarray) -> np.ndarray:
    """The grey range (maximum − minimum, uint8) of each colour cell (5×5 pixels) of 160×90 frames:
    over each cell's rows, then its columns, as element-wise operations."""
    import numpy as np

    p, (fy, fx) = c.shape[0], (FRAME_HW[0] // COLOUR_HW[0], FRAME_HW[1] // COLOUR_HW[1])

    def extremes(v: np.ndarray, lo: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        hi, low = v[..., 0, :].copy(), lo[..., 0, :].copy()
        for k in range(1, n):
            np.maximum(hi, v[..., k, :], out=hi)
            np.minimum(low, lo[..., k, :], out=low)
        return hi, low

    rows = c.reshape(p, COLOUR_HW[0], fy, FRAME_HW[1])
    hi, lo = extremes(rows, rows, fy)  # p × 18 × 160
    hi, lo = (x.reshape(p, COLOUR_HW[0], COLOUR_HW[1], fx).swapaxes(2, 3) for x in (hi, lo))
    hi, lo = extremes(hi, lo, fx)
    return hi - lo


def half_arrays(c: np.ndarray) -> dict[str, np.ndarray]:
    """Of 160×90 frames: the half-size frame (sums of 2×2 pixels, int16), its 3×3 mean and the
    thresholds of that mean's 3×3 range for the rough test (± 4 × `GREY_TOLERANCE`)."""
    import numpy as np

    half = _halve(c.astype(np.int16))
    blur = _blur3(half)
    lo, hi = _range3(blur)
    return {"half": half, "h_blur": blur, "h_hi": hi + 4 * GREY_TOLERANCE, "h_lo": lo - 4 * GREY_TOLERANCE}


def strict_thresholds(f: np.ndarray, lo3: np.ndarray, hi3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s_hi, s_lo) of frames ``f`` with 3×3 ranges ``lo3``, ``hi3``: a pixel ``v`` of the other frame
    lies more than `FINE_TOLERANCE` outside the range ``f`` spans within half a pixel (half way
    from each value to its neighbourhood's minimum and maximum) — 2v − f − hi3 ≥ 2·tol + 2 or
    f + lo3 − 2v ≥ 2·tol + 2, `frame_fine` — exactly when ``v > s_hi`` or ``v < s_lo``."""
    import numpy as np

    x = f.astype(np.int16)
    hi = (x + hi3 + 2 * FINE_TOLERANCE + 1) >> 1  # halved, rounded down (a shift: `//` is slower)
    lo = (x + lo3 - 2 * FINE_TOLERANCE) >> 1
    return np.minimum(hi, _const(255, hi)).astype(np.uint8), np.maximum(lo, _const(0, lo)).astype(np.uint8)


def colour_arrays(colour: np.ndarray) -> dict[str, np.ndarray]:
    """Of colour frames (uint8 P×18×32×3): sums of 2×2 cells (int16, 16×9) and the thresholds of
    their 3×3 range (± 4 × `COLOUR_TOLERANCE`), per channel."""
    import numpy as np

    p = colour.shape[0]
    sums = colour.reshape(p, COLOUR_HW[0] // 2, 2, COLOUR_HW[1] // 2, 2, 3).sum(axis=(2, 4), dtype=np.int16)
    sums = np.ascontiguousarray(np.moveaxis(sums, 3, 1))  # P×3×9×16: one frame per channel
    lo, hi = _range3(sums.reshape(p * 3, *sums.shape[2:]))
    return {"k_sum": sums, "k_hi": (hi + 4 * COLOUR_TOLERANCE).reshape(sums.shape),
            "k_lo": (lo - 4 * COLOUR_TOLERANCE).reshape(sums.shape)}


class FrameViews:
    """The arrays above for N images' features, each computed for an image when a test first asks
    for it. ``coarse``: the 160×90 frames when already computed (`frame_groups` has them)."""

    def __init__(self, features: np.ndarray, coarse: np.ndarray | None = None) -> None:
        import numpy as np

        self.fine, self.colour = _split(features)
        self.n = features.shape[0]
        #: answers of symmetric tests, by (image, image) in either order (`frame_fine`)
        self.memo: dict[tuple[str, tuple[int, int]], bool] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self._done: dict[str, np.ndarray] = {}
        if coarse is not None:
            self._arrays["coarse"], self._done["coarse"] = coarse, np.ones(self.n, bool)
        self._makers: dict[str, tuple[str, Callable[[np.ndarray], dict[str, np.ndarray]]]] = {}
        for group, source, make, names in (
                ("coarse", "fine", lambda f: {"coarse": _coarse(f)}, ["coarse"]),
                ("c", "coarse", coarse_arrays, ["c_hi", "c_lo", "blur", "b_hi", "b_lo", "cell_range"]),
                ("l", "coarse", loose_arrays, ["l_hi", "l_lo", "blur", "lb_hi", "lb_lo"]),
                ("h", "coarse", half_arrays, ["half", "h_blur", "h_hi", "h_lo"]),
                ("k", "colour", colour_arrays, ["k_sum", "k_hi", "k_lo"])):
            for name in names:
                key = name if group == "coarse" else f"{group}.{name}"
                self._makers[key] = (source, lambda x, make=make, group=group: {
                    (k if group == "coarse" else f"{group}.{k}"): v for k, v in make(x).items()})

    def source(self, name: str, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` of a source array: "fine", "colour" or "coarse"."""
        if name == "fine":
            return self.fine[idx]
        if name == "colour":
            return self.colour[idx]
        return self.get("coarse", idx)

    def get(self, name: str, idx: np.ndarray, rows: slice | None = None) -> np.ndarray:
        """Rows ``idx`` (image indices) of the array ``name`` ("coarse", or "c.", "l.", "h.", "k." and a
        name of `coarse_arrays`, `loose_arrays`, `half_arrays`, `colour_arrays`); only ``rows`` of
        each if given."""
        import numpy as np

        idx = np.asarray(idx, dtype=np.int64)
        done = self._done.get(name)
        missing = np.unique(idx) if done is None else np.unique(idx[~done[idx]])
        source, make = self._makers[name] if len(missing) else (None, None)
        for start in range(0, len(missing), 32):  # a few images at a time: their temporaries stay in cache
            part = missing[start:start + 32]
            for key, value in make(self.source(source, part)).items():
                if key not in self._arrays:
                    self._arrays[key] = np.empty((self.n, *value.shape[1:]), value.dtype)
                    self._done[key] = np.zeros(self.n, bool)
                self._arrays[key][part] = value
                self._done[key][part] = True
        return self._arrays[name][idx] if rows is None else self._arrays[name][idx, rows]
