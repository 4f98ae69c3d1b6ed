"""The frame features stored per image (`frame_features`, `decode_features`), their perceptual hash,
and the frames derived from them when pairs are compared (the 160×90 grey frame, thumbnails)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolkit.data.frame_spec import (
    COLOUR_HW,
    FEATURE_BYTES,
    FEATURE_DECODE,
    FINE_BYTES,
    FINE_HW,
    FRAME_HW,
    THUMB_HW,
)

if TYPE_CHECKING:
    import numpy as np


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
    reduce_for=b)` gives: any file but a JPEG decoded at another reduced scale (its size says which).
    A decode that still names its format (PIL keeps it on an image it loaded as RGB) answers
    without opening the file again when that is not JPEG."""
    from PIL import Image

    if getattr(decoded, "format", None) not in (None, "JPEG"):  # the decode says its file is no JPEG
        return True
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
    rounded; integer arithmetic, the same on every machine. Each output row (column) weighs the
    even and odd input rows (columns) it sits between: 3 × (both) + the odd one before + the even
    one after (at the edges the even or odd one itself), a few frames at a time (in cache)."""
    import numpy as np

    out = np.empty((fine.shape[0], *FRAME_HW), np.uint8)
    for start in range(0, fine.shape[0], 16):
        x = fine[start:start + 16]
        even, odd = x[:, 0::2].astype(np.uint16), x[:, 1::2].astype(np.uint16)
        rows = _weigh(even, odd, 1)
        out[start:start + 16] = (_weigh(rows[:, :, 0::2], rows[:, :, 1::2], 2) + 32) >> 6  # at most 64 × 255 + 32
    return out


def _weigh(even: np.ndarray, odd: np.ndarray, axis: int) -> np.ndarray:
    """3 × (even + odd) + odd shifted one on (the first: even's first) + even shifted one back (the
    last: odd's last), along ``axis`` of N×H×W uint16."""
    import numpy as np

    first, rest, last, most = ((np.s_[:, :1], np.s_[:, 1:], np.s_[:, -1:], np.s_[:, :-1]) if axis == 1 else
                               (np.s_[:, :, :1], np.s_[:, :, 1:], np.s_[:, :, -1:], np.s_[:, :, :-1]))
    out = even + odd
    out *= 3
    out[rest] += odd[most]
    out[first] += even[first]
    out[most] += even[rest]
    out[last] += odd[last]
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
    rows = grey.reshape(n, hw[0], bh, FRAME_HW[1]).sum(axis=2, dtype=np.uint16)  # at most 255 × bh
    return rows.reshape(n, hw[0], hw[1], bw).sum(axis=3, dtype=np.int64)
