"""Same-frame detection for near-duplicate groups: the features stored per image, the cheap
candidate pairs, the pixel checks after alignment (at 160×90, then at 320×180 on the pairs that
pass), and complete-linkage groups.

`toolkit.data.duplicates` describes the method and re-exports these names; this module holds the
numerical part so that the grouping module stays readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FEATURE_BYTES", "FEATURE_DECODE", "FEATURE_VERSION", "candidate_pairs", "decode_features",
           "features_hash", "frame_features", "same_frame_groups", "same_frame_pairs"]


#: The fine grey frame (height, width) the features hold; the grey frame the first checks use is
#: its 2×2 means (160×90), thumbnails are 10×10 blocks of that, and the colour frame is 32×18.
FINE_HW = (180, 320)
FRAME_HW = (90, 160)
COLOUR_HW = (18, 32)
THUMB_HW = (9, 16)
FINE_BYTES = FINE_HW[0] * FINE_HW[1]
GREY_BYTES = FRAME_HW[0] * FRAME_HW[1]
FEATURE_BYTES = FINE_BYTES + COLOUR_HW[0] * COLOUR_HW[1] * 3
#: The decode the features are computed from (`toolkit.data.images.load_rgb`'s ``reduce_for``):
#: one for every recipe, so that features (and groups) do not depend on ``data.image_size``.
FEATURE_DECODE = FINE_HW
#: Bump when the features or the test change: stored features are then computed again.
FEATURE_VERSION = 2
#: Candidate pairs: thumbnails within this Euclidean distance (grey levels over the 144 blocks).
CANDIDATE_RADIUS = 700
#: A pixel differs when it is outside its neighbourhood's range in the other frame by more than this.
GREY_TOLERANCE = 24
COLOUR_TOLERANCE = 20
#: Share of the frame's pixels that may differ outside a forgiven panel (a cursor, artefacts).
CHANGED_BUDGET = 0.004
#: Pairs that fail the 160×90 test with at most this share of pixels changed are tried the other way round.
RETRY_CHANGED = 0.03
#: The fine check (320×180): a pixel differs when it lies outside the range its aligned twin spans
#: within half a pixel by more than this many grey levels ...
FINE_TOLERANCE = 40
#: ... and the pair is the same frame when, besides one notification panel and one cursor-sized
#: patch (at most this share of the frame's width and height), at most this many pixels differ.
CURSOR_WH = (0.05, 0.10)
FINE_BUDGET = 6
#: A pair moved by a fraction of a pixel when one shift explains this share of its differences;
#: compared blurred, at most this many pixels may differ.
MOVED_EXPLAINED = 0.03
BLUR_BUDGET = 32
_SHIFT = 4  # the largest shift searched each way, pixels of the 160×90 frame


def frame_features(img: Any) -> np.ndarray:
    """The features of one image (a PIL RGB image as decoded for `FEATURE_DECODE`): uint8,
    `FEATURE_BYTES` long — the grey frame at 320×180 then the colour frame at 32×18 (RGB). Box
    filters only (PIL's ``reduce``, then a box resize where the size is not a multiple): a
    screenshot of 1280×720, or a JPEG of any 16:9 size decoded at reduced scale, costs one pass."""
    import numpy as np
    from PIL import Image

    w, h = img.size
    factor = min(w // FINE_HW[1], h // FINE_HW[0])
    small = img.reduce(factor) if factor >= 2 else img
    if small.size != (FINE_HW[1], FINE_HW[0]):
        small = small.resize((FINE_HW[1], FINE_HW[0]), Image.Resampling.BOX)
    colour = small.reduce((FINE_HW[1] // COLOUR_HW[1], FINE_HW[0] // COLOUR_HW[0]))
    return np.concatenate([np.asarray(small.convert("L"), dtype=np.uint8).reshape(-1),
                           np.asarray(colour, dtype=np.uint8).reshape(-1)])


def features_hash(features: np.ndarray) -> int:
    """A 64-bit perceptual hash of the grey frame (the sign of the 8×8 lowest DCT frequencies of
    a 32×32 copy against their median), kept in the image store beside the features."""
    import numpy as np
    from PIL import Image

    grey = Image.fromarray(_coarse(np.asarray(features[:FINE_BYTES], dtype=np.uint8).reshape(1, *FINE_HW))[0])
    x = np.asarray(grey.resize((32, 32), Image.Resampling.BOX), dtype=np.float64)
    d = _dct_matrix()
    low = (d @ x @ d.T)[:8, :8].reshape(-1)
    bits = low > np.median(low)
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


_DCT: Any = None


def _dct_matrix() -> np.ndarray:
    global _DCT
    if _DCT is None:
        import numpy as np

        n = np.arange(32)
        _DCT = np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / 64)
    return _DCT


def decode_features(path: str, decoded: Any = None, decoded_for: tuple[int, int] | None = None) -> np.ndarray:
    """The features of the image file ``path``. ``decoded`` is the image as `load_rgb(path,
    reduce_for=decoded_for)` gave it: reused when that is the very decode the features are made
    from (any file but a JPEG decoded at another reduced scale; the decode's size says which, so
    ``decoded_for`` is not needed), else the file is decoded again for `FEATURE_DECODE` (a JPEG
    at 1/2–1/8 scale: cheap)."""
    from toolkit.data.images import load_rgb

    if decoded is not None and _same_decode(path, decoded, FEATURE_DECODE):
        return frame_features(decoded)
    return frame_features(load_rgb(path, reduce_for=FEATURE_DECODE))


def _same_decode(path: str, decoded: Any, b: tuple[int, int]) -> bool:
    """Whether ``decoded`` (the file as `load_rgb` gave it) holds the pixels `load_rgb(path,
    reduce_for=b)` gives: any file but a JPEG decoded at another reduced scale (its size says which)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.format != "JPEG":
                return True
            h, w = b
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # stored rotated: the decode's sides swap
                h, w = w, h
                size = decoded.size[::-1]
            else:
                size = decoded.size
            im.draft("RGB", (2 * w, 2 * h))
            return tuple(im.size) == tuple(size)
    except (OSError, ValueError):
        return False


def _coarse(fine: np.ndarray) -> np.ndarray:
    """The 160×90 grey frames (uint8, N×90×160) of N×180×320 fine frames: a triangle filter
    ([1, 3, 3, 1]/8 each way, edges repeated: what a bilinear resize to half the size does),
    rounded; integer arithmetic, the same on every machine."""
    import numpy as np

    out = np.empty((fine.shape[0], *FRAME_HW), np.uint8)
    for start in range(0, fine.shape[0], 64):  # a few MB at a time
        x = np.pad(fine[start:start + 64].astype(np.uint16), ((0, 0), (1, 1), (1, 1)), mode="edge")
        rows = x[:, 0:-3:2] + 3 * x[:, 1:-2:2] + 3 * x[:, 2:-1:2] + x[:, 3::2]
        both = rows[:, :, 0:-3:2] + 3 * rows[:, :, 1:-2:2] + 3 * rows[:, :, 2:-1:2] + rows[:, :, 3::2]
        out[start:start + 64] = (both + 32) // 64  # at most 64 × 255 + 32: fits uint16
    return out


def _split(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fine grey N×180×320, colour N×18×32×3) views of an N×FEATURE_BYTES array."""
    n = features.shape[0]
    return (features[:, :FINE_BYTES].reshape(n, *FINE_HW),
            features[:, FINE_BYTES:FEATURE_BYTES].reshape(n, *COLOUR_HW, 3))


def _thumbs(grey: np.ndarray, hw: tuple[int, int] = THUMB_HW) -> np.ndarray:
    """Thumbnails (16×9 unless ``hw`` says) of 160×90 frames as exact block sums (int64), N×H×W."""
    import numpy as np

    n = grey.shape[0]
    bh, bw = FRAME_HW[0] // hw[0], FRAME_HW[1] // hw[1]
    return grey.reshape(n, hw[0], bh, hw[1], bw).astype(np.int64).sum(axis=(2, 4))


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


def _shift_windows(x: np.ndarray, dy: np.ndarray, dx: np.ndarray, pad: int, padded: np.ndarray | None = None) -> np.ndarray:
    """Each x[p] moved by (dy[p], dx[p]) (edges repeated): P×H×W, sliced once per distinct shift.
    ``padded``: ``x`` already padded by ``pad`` on each side (to pad once for many shifts)."""
    import numpy as np

    p, h, w = x.shape
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


def _refine(a: np.ndarray, b: np.ndarray, base: np.ndarray, limit: int = _SHIFT) -> np.ndarray:
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
        moved = _shift_windows(b, shift[:, 0], shift[:, 1], _SHIFT)
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
        m = _SHIFT  # the border a shift fills with repeated edges
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
    limit = 2 * _SHIFT + 1
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


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    """``mask`` (H×W bool) grown by ``steps`` pixels along rows and columns (a diamond; what
    `scipy.ndimage.binary_dilation` does with its default structure and ``iterations=steps``), in
    a few array operations."""
    import numpy as np

    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def same_frame_groups(features: np.ndarray) -> list[int]:
    """Group id per image (0, 1, … in order of first member): complete linkage over verified
    same-frame pairs (module docstring). ``features``: N×`FEATURE_BYTES` uint8."""
    import hashlib

    import numpy as np

    features = np.ascontiguousarray(np.asarray(features, dtype=np.uint8).reshape(-1, FEATURE_BYTES))
    digests = [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in features]
    unique = sorted(set(digests))  # nodes in digest order: the result does not depend on the input order
    node_of = {d: k for k, d in enumerate(unique)}
    first = {}
    for i, d in enumerate(digests):
        first.setdefault(d, i)
    reps = features[[first[d] for d in unique]]
    coarse = _coarse(_split(reps)[0])
    pairs = candidate_pairs(reps, coarse=coarse)
    same, _, score = _scored_pairs(reps, pairs, coarse=coarse)
    edges = sorted(zip(score[same].tolist(), pairs[same, 0].tolist(), pairs[same, 1].tolist()))
    verified = {(i, j) for _, i, j in edges}
    parent = list(range(len(unique)))
    members = {k: [k] for k in range(len(unique))}
    for _, i, j in edges:
        a, b = parent[i], parent[j]
        if a == b:
            continue
        if all((min(u, v), max(u, v)) in verified for u in members[a] for v in members[b]):
            keep, gone = min(a, b), max(a, b)
            for u in members[gone]:
                parent[u] = keep
            members[keep] += members.pop(gone)
    ids: dict[int, int] = {}
    return [ids.setdefault(parent[node_of[d]], len(ids)) for d in digests]
