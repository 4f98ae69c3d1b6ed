"""Same-frame detection for near-duplicate groups: the features stored per image, the cheap
candidate pairs, the pixel check after alignment, and complete-linkage groups.

`toolkit.data.duplicates` describes the method and re-exports these names; this module holds the
numerical part so that the grouping module stays readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FEATURE_BYTES", "FEATURE_DECODE", "FEATURE_VERSION", "candidate_pairs", "decode_features",
           "features_hash", "frame_features", "same_frame_groups", "same_frame_pairs"]


#: Grey frame (height, width) and colour frame the features hold; thumbnails are 10×10 blocks of the grey frame.
FRAME_HW = (90, 160)
COLOUR_HW = (18, 32)
THUMB_HW = (9, 16)
GREY_BYTES = FRAME_HW[0] * FRAME_HW[1]
FEATURE_BYTES = GREY_BYTES + COLOUR_HW[0] * COLOUR_HW[1] * 3
#: The decode the features are computed from (`toolkit.data.images.load_rgb`'s ``reduce_for``):
#: one for every recipe, so that features (and groups) do not depend on ``data.image_size``.
FEATURE_DECODE = FRAME_HW
#: Bump when the features or the test change: stored features are then computed again.
FEATURE_VERSION = 1
#: Candidate pairs: thumbnails within this Euclidean distance (grey levels over the 144 blocks).
CANDIDATE_RADIUS = 700
#: A pixel differs when it is outside its neighbourhood's range in the other frame by more than this.
GREY_TOLERANCE = 24
COLOUR_TOLERANCE = 20
#: Share of the frame's pixels that may differ outside a forgiven panel (a cursor, artefacts).
CHANGED_BUDGET = 0.004
_SHIFT = 4  # the largest shift searched each way, pixels of the 160×90 frame


def frame_features(img: Any) -> np.ndarray:
    """The features of one image (a PIL RGB image as decoded for `FEATURE_DECODE`): uint8,
    `FEATURE_BYTES` long — the grey frame at 160×90 then the colour frame at 32×18 (RGB)."""
    import numpy as np
    from PIL import Image

    w, h = img.size
    factor = min(w // (2 * FRAME_HW[1]), h // (2 * FRAME_HW[0]))
    small = img.reduce(factor) if factor >= 2 else img  # box filter to at least twice the frame: cheap
    grey = small.convert("L").resize((FRAME_HW[1], FRAME_HW[0]), Image.Resampling.BILINEAR)
    colour = small.resize((COLOUR_HW[1], COLOUR_HW[0]), Image.Resampling.BOX)
    return np.concatenate([np.asarray(grey, dtype=np.uint8).reshape(-1),
                           np.asarray(colour, dtype=np.uint8).reshape(-1)])


def features_hash(features: np.ndarray) -> int:
    """A 64-bit perceptual hash of the grey frame (the sign of the 8×8 lowest DCT frequencies of
    a 32×32 copy against their median), kept in the image store beside the features."""
    import numpy as np
    from PIL import Image

    grey = Image.fromarray(np.asarray(features[:GREY_BYTES], dtype=np.uint8).reshape(FRAME_HW))
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
    from (any file but a JPEG large enough to be decoded at reduced scale), else the file is
    decoded again for `FEATURE_DECODE` (a JPEG at 1/2–1/8 scale: cheap)."""
    from toolkit.data.images import load_rgb

    if decoded is not None and _same_decode(path, decoded_for, FEATURE_DECODE):
        return frame_features(decoded)
    return frame_features(load_rgb(path, reduce_for=FEATURE_DECODE))


def _same_decode(path: str, a: tuple[int, int] | None, b: tuple[int, int] | None) -> bool:
    """Whether `load_rgb` gives the same pixels for ``reduce_for=a`` and ``reduce_for=b``
    (only JPEGs are decoded at a reduced scale, which depends on the size asked for)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.format != "JPEG":
                return True
            rotated = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
            sizes = []
            for want in (a, b):
                if want is None:
                    sizes.append(im.size)
                    continue
                h, w = want
                if rotated:
                    h, w = w, h
                with Image.open(path) as probe:
                    probe.draft("RGB", (2 * w, 2 * h))
                    sizes.append(probe.size)
            return sizes[0] == sizes[1]
    except (OSError, ValueError):
        return False


def _split(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grey N×90×160, colour N×18×32×3) views of an N×FEATURE_BYTES array."""
    n = features.shape[0]
    return (features[:, :GREY_BYTES].reshape(n, *FRAME_HW),
            features[:, GREY_BYTES:FEATURE_BYTES].reshape(n, *COLOUR_HW, 3))


def _thumbs(grey: np.ndarray) -> np.ndarray:
    """16×9 thumbnails as exact block sums (int64), N×9×16."""
    import numpy as np

    n = grey.shape[0]
    bh, bw = FRAME_HW[0] // THUMB_HW[0], FRAME_HW[1] // THUMB_HW[1]
    return grey.reshape(n, THUMB_HW[0], bh, THUMB_HW[1], bw).astype(np.int64).sum(axis=(2, 4))


def _range3(x: np.ndarray, reach: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum over each element's neighbourhood (3×3, or 5×5 with ``reach=2``; edges
    repeated) of …×H×W, separably: rows, then columns."""
    import numpy as np

    h, w = x.shape[-2:]
    lead = [(0, 0)] * (x.ndim - 2)
    rows = np.pad(x, lead + [(reach, reach), (0, 0)], mode="edge")
    lo = np.minimum.reduce([rows[..., k:k + h, :] for k in range(2 * reach + 1)])
    hi = np.maximum.reduce([rows[..., k:k + h, :] for k in range(2 * reach + 1)])
    lo = np.pad(lo, lead + [(0, 0), (reach, reach)], mode="edge")
    hi = np.pad(hi, lead + [(0, 0), (reach, reach)], mode="edge")
    return (np.minimum.reduce([lo[..., k:k + w] for k in range(2 * reach + 1)]),
            np.maximum.reduce([hi[..., k:k + w] for k in range(2 * reach + 1)]))


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


def candidate_pairs(features: np.ndarray, *, block: int = 1024) -> np.ndarray:
    """Pairs (i < j, K×2 int64) worth verifying (module docstring): exact integer arithmetic."""
    import numpy as np

    n = features.shape[0]
    if n < 2:
        return np.zeros((0, 2), np.int64)
    grey, _ = _split(features)
    thumbs = _thumbs(grey)
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
    keep = np.zeros(len(pairs), bool)
    for start in range(0, len(pairs), 4096):
        chunk = pairs[start:start + 4096]
        keep[start:start + 4096] = _coarse_same(thumbs[chunk[:, 0]], thumbs[chunk[:, 1]], cells)
    return pairs[keep].astype(np.int64)


def _coarse_same(a: np.ndarray, b: np.ndarray, cells: int) -> np.ndarray:
    """Thumbnail test of candidate pairs: leaving out the outer ring of blocks (what a shift
    uncovers), at most two blocks differ by more than 12 grey levels beyond their neighbours'
    range, besides those of one notification: up to 3 rows of blocks at the top or the bottom,
    spanning at most 7 columns."""
    import numpy as np

    changed = (_outside(a, b) > 12 * cells)[:, 1:-1, 1:-1]
    middle = changed[:, 3:-3].sum(axis=(1, 2))
    top, bottom = changed[:, :3], changed[:, -3:]

    def narrow(band: np.ndarray) -> np.ndarray:  # the band's changed blocks lie within 7 columns
        cols = band.any(axis=1)
        first = np.where(cols.any(axis=1), cols.argmax(axis=1), 0)
        last = np.where(cols.any(axis=1), cols.shape[1] - 1 - cols[:, ::-1].argmax(axis=1), 0)
        return last - first < 7

    n_top, n_bottom = top.sum(axis=(1, 2)), bottom.sum(axis=(1, 2))
    return ((middle + n_top + n_bottom <= 2)
            | ((middle + n_bottom <= 2) & narrow(top))
            | ((middle + n_top <= 2) & narrow(bottom)))


def same_frame_pairs(features: np.ndarray, pairs: np.ndarray, *, chunk: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Verify ``pairs`` (K×2 indices into ``features``): (same-frame bool K, pixels that differ
    outside a forgiven panel K) — module docstring."""
    import numpy as np

    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    same = np.zeros(len(pairs), bool)
    changed = np.zeros(len(pairs), np.int64)
    grey, colour = _split(features)
    for start in range(0, len(pairs), chunk):
        part = pairs[start:start + chunk]
        s, c = _verify(grey[part[:, 0]], grey[part[:, 1]], colour[part[:, 0]], colour[part[:, 1]])
        same[start:start + chunk], changed[start:start + chunk] = s, c
    return same, changed


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


def _refine(a: np.ndarray, b: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The full-size shift within ±1 of ``base`` (twice the half-size shift) that matches 10%
    better than ``base`` (clipped absolute difference, as `_align_half`)."""
    import numpy as np

    final, final_score = base.copy(), None
    m = _SHIFT
    padded = np.pad(b, ((0, 0), (_SHIFT, _SHIFT), (_SHIFT, _SHIFT)), mode="edge")
    for ey, ex in [(0, 0)] + [(y, x) for y in (-1, 0, 1) for x in (-1, 0, 1) if (y, x) != (0, 0)]:
        shift = np.clip(base + (ey, ex), -_SHIFT, _SHIFT)
        moved = _shift_windows(b, shift[:, 0], shift[:, 1], _SHIFT, padded)
        score = np.minimum(np.abs(a - moved)[:, m:-m, m:-m], 32).sum(axis=(1, 2), dtype=np.int64)
        if final_score is None:
            final_score = score
            continue
        better = score * 10 < final_score * 9
        final_score = np.where(better, score, final_score)
        final[better] = shift[better]
    return final


def _verify(ga: np.ndarray, gb: np.ndarray, ca: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(same frame, pixels that differ outside a forgiven panel) for P pairs of features. Cheap
    tests first: pairs whose colour or half-size grey frames already differ too much are
    answered without the full-size test."""
    import numpy as np

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
        for k in np.nonzero((count[todo] > budget) & (count[todo] <= hopeless))[0]:
            count[todo[k]] -= _panel(differs[k])
    return count <= budget, count


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
    from scipy import ndimage

    h, w = differs.shape
    area = h * w
    labels, _ = ndimage.label(ndimage.binary_dilation(differs, iterations=2), structure=[[1, 1, 1]] * 3)
    best = 0
    for k, sl in enumerate(ndimage.find_objects(labels)):
        if (sl[0].stop - sl[0].start) * (sl[1].stop - sl[1].start) < 0.005 * area:
            continue  # even its dilated box is smaller than a panel
        mine = differs[sl] & (labels[sl] == k + 1)
        ys, xs = mine.any(axis=1).nonzero()[0], mine.any(axis=0).nonzero()[0]
        y0, y1 = sl[0].start + ys[0], sl[0].start + ys[-1] + 1  # the changed pixels' box (not the dilated one)
        x0, x1 = sl[1].start + xs[0], sl[1].start + xs[-1] + 1
        bh, bw = y1 - y0, x1 - x0
        at_edge = min(y0, h - y1) <= 0.10 * h  # notifications sit at the top or the bottom
        if at_edge and 0.005 * area <= bh * bw <= 0.06 * area and bw <= 0.4 * w and bh <= 0.2 * h:
            # the panel's box and 2 pixels around it: its faint border and icon, apart from its text
            box = differs[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2]
            best = max(best, int(box.sum()))
    return best


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
    pairs = candidate_pairs(reps)
    same, changed = same_frame_pairs(reps, pairs)
    edges = sorted(zip(changed[same].tolist(), pairs[same, 0].tolist(), pairs[same, 1].tolist()))
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
