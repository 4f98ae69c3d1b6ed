"""What the same-frame test forgives in a pair's changed pixels: one notification panel near the
top or the bottom of the frame and one cursor-sized patch (`toolkit.data.duplicates` describes
the method), and an upper bound of what they can forgive, which lets a pair that differs too much
be answered without finding them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.data.frame_ops import _band_max, _counts, _dilate, _patch_max
from toolkit.data.frame_spec import CURSOR_WH

if TYPE_CHECKING:
    import numpy as np

#: A notification panel (`_panel_box`): its changed pixels' box touches the top or the bottom
#: tenth of the frame and is at most a fifth of its height and two fifths of its width.
PANEL_EDGE, PANEL_HEIGHT, PANEL_WIDTH = 0.10, 0.2, 0.4


def _unforgivable(flags: np.ndarray, margin: np.ndarray, pad: int) -> np.ndarray:
    """A lower bound, per frame of P×H×W changed pixels, of what `_unforgiven` leaves with a panel
    forgiven with ``pad`` pixels around its box (any panel `_panel_box` may find) and, with
    ``pad`` = 3, the cursor: the changed pixels inside the ``margin`` (P×2 or 2: rows, columns left
    out at each edge), less the most that fit a panel's area (a band at the top or the bottom as
    tall as the tallest panel can reach, as wide as the widest) and, at 320×180, a cursor's (9×8
    blocks of 2×2 pixels, as `_unforgiven` measures it)."""
    import numpy as np

    p, h, w = flags.shape
    margin = np.broadcast_to(np.asarray(margin), (p, 2))
    rows, cols = np.arange(h), np.arange(w)
    inside = flags & ((rows >= margin[:, :1]) & (rows < h - margin[:, :1]))[:, :, None]
    inside &= ((cols >= margin[:, 1:]) & (cols < w - margin[:, 1:]))[:, None, :]
    reach = int(PANEL_EDGE * h) + int(PANEL_HEIGHT * h) + pad
    width = int(PANEL_WIDTH * w) + 2 * pad
    panel = np.maximum(_band_max(inside, slice(0, reach), width), _band_max(inside, slice(h - reach, h), width))
    left = _counts(inside) - panel
    if pad == 3:  # the fine check: a cursor too
        left -= _patch_max(inside, (int((CURSOR_WH[1] * h + 1) // 2), int((CURSOR_WH[0] * w + 1) // 2)))
    return left


def _unforgiven(differs: np.ndarray, panel: tuple[int, int, int, int] | None, margin: tuple[int, int]) -> int:
    """How many changed pixels of one fine frame are left once the notification ``panel`` (its box
    and 3 pixels around it), the ``margin`` rows and columns at the edges (what a shift uncovers)
    and the largest cursor-sized patch (`CURSOR_WH`; changes joined within about two pixels:
    touching blocks of 2×2 pixels) are forgiven. The blocks are labelled within the box of what is
    left (whole blocks; the rest of the frame holds none)."""
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
    crop = _box(left, 0, 2)
    if crop is None:
        return 0
    part = left[crop].view(np.uint8)
    counts = part[0::2, 0::2] + part[1::2, 0::2] + part[0::2, 1::2] + part[1::2, 1::2]  # changed pixels per block
    labels, n = ndimage.label(counts > 0, structure=np.ones((3, 3), bool))
    total = int(counts.sum())
    sizes = np.bincount(labels.ravel(), weights=counts.ravel(), minlength=n + 1)[1:]
    best = 0
    for k, sl in enumerate(ndimage.find_objects(labels)):
        if (2 * (sl[0].stop - sl[0].start) - 1 <= CURSOR_WH[1] * h and 2 * (sl[1].stop - sl[1].start) - 1 <= CURSOR_WH[0] * w
                and sizes[k] > best):
            best = sizes[k]
    return total - int(best)


def _box(mask: np.ndarray, grow: int, align: int = 1) -> tuple[slice, slice] | None:
    """The box (row and column slices) of ``mask``'s set pixels, grown by ``grow`` on each side and
    out to multiples of ``align``, within the frame; None when none is set."""
    import numpy as np

    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    h, w = mask.shape
    y0, y1 = max(0, rows[0] - grow) // align * align, min(h, -(-(rows[-1] + 1 + grow) // align) * align)
    x0, x1 = max(0, cols[0] - grow) // align * align, min(w, -(-(cols[-1] + 1 + grow) // align) * align)
    return slice(int(y0), int(y1)), slice(int(x0), int(x1))


def _panel(differs: np.ndarray) -> int:
    """Changed pixels of the largest notification-like patch (module docstring), 0 if none."""
    import numpy as np

    box = _panel_box(differs)
    if box is None:
        return 0
    y0, y1, x0, x1 = box
    # the panel's box and 2 pixels around it: its faint border and icon, apart from its text
    return int(np.count_nonzero(differs[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2]))


def _panel_box(differs: np.ndarray, dilate: int = 2, min_height: float = 0.0) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the notification-like patch of changes with the most changed pixels
    around it, or None: the changed pixels' box (joined by ``dilate`` pixels) touches the top or
    the bottom tenth of the frame, covers 0.5–6% of it, at most 40% of its width and from
    ``min_height`` to 20% of its height. Patches are found within the box of the changes grown by
    ``dilate`` (no join reaches further)."""
    import numpy as np
    from scipy import ndimage

    h, w = differs.shape
    area = h * w
    crop = _box(differs, dilate)
    if crop is None or not _may_hold_panel(differs, min_height):
        return None
    oy, ox = crop[0].start, crop[1].start
    part = differs[crop]
    labels, _ = ndimage.label(_dilate(part, dilate), structure=[[1, 1, 1]] * 3)
    best, best_box = 0, None
    for k, sl in enumerate(ndimage.find_objects(labels)):
        if (sl[0].stop - sl[0].start) * (sl[1].stop - sl[1].start) < 0.005 * area:
            continue  # even its dilated box is smaller than a panel
        mine = part[sl] & (labels[sl] == k + 1)
        ys, xs = mine.any(axis=1).nonzero()[0], mine.any(axis=0).nonzero()[0]
        y0, y1 = oy + sl[0].start + ys[0], oy + sl[0].start + ys[-1] + 1  # the changed pixels' box (not the dilated one)
        x0, x1 = ox + sl[1].start + xs[0], ox + sl[1].start + xs[-1] + 1
        bh, bw = y1 - y0, x1 - x0
        at_edge = min(y0, h - y1) <= PANEL_EDGE * h  # notifications sit at the top or the bottom
        if (at_edge and 0.005 * area <= bh * bw <= 0.06 * area and bw <= PANEL_WIDTH * w
                and min_height * h <= bh <= PANEL_HEIGHT * h):
            pixels = int(np.count_nonzero(differs[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2]))
            if pixels > best:
                best, best_box = pixels, (int(y0), int(y1), int(x0), int(x1))
    return best_box


def _may_hold_panel(differs: np.ndarray, min_height: float) -> bool:
    """False when no patch of ``differs`` can be a panel (`_panel_box`): a panel at the top has all
    its changed pixels within the rows a panel reaches from the top edge, so its box lies within
    the box of the changes there; when that box (and the one at the bottom) is too small or too
    low for a panel, there is none."""
    import numpy as np

    h, w = differs.shape
    reach = int(PANEL_EDGE * h) + int(PANEL_HEIGHT * h)
    for band in (differs[:reach], differs[h - reach:]):
        rows, cols = np.flatnonzero(band.any(axis=1)), np.flatnonzero(band.any(axis=0))
        if len(rows):
            bh, bw = rows[-1] + 1 - rows[0], cols[-1] + 1 - cols[0]
            if bh * bw >= 0.005 * h * w and bh >= min_height * h:
                return True
    return False
