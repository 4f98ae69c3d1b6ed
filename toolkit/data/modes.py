"""Pixel-mode conversion: any PIL mode to the 8-bit RGB the models are trained on.

Separate from `images` because the rules are the subtle part: PIL's own `convert("L")`
clips 16-bit grayscale instead of scaling it (a medical or scientific TIFF turns white), and
transparent pixels keep whatever colour the encoder left under them unless they are
composited. Screenshots and photos rarely need any of this; the odd file that does must
still look like what a person sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ALPHA_MODES", "WIDE_GRAY_MODES", "to_rgb"]

#: Grayscale modes wider than 8 bits, scaled (not clipped) to 0..255.
WIDE_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
#: Modes that carry an alpha channel.
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert a loaded image of any mode to 8-bit RGB, transparency composited on white."""
    from PIL import Image

    mode = im.mode
    if mode in WIDE_GRAY_MODES or mode == "F":
        return _wide_to_8bit(im).convert("RGB")
    if mode in ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":
        return im.copy() if im.readonly else im
    return im.convert("RGB")  # L, P, 1, CMYK, YCbCr ...


def _wide_to_8bit(im: Image.Image) -> Image.Image:
    """Scale 16-bit and 32-bit grayscale to 0..255 instead of clipping, as PIL's convert does.

    `I;16*` uses its full 0..65535 range. `I` is ambiguous: values up to 255 are kept, up to
    65535 are read as 16-bit (how PNG and TIFF store it), beyond that the maximum maps to 255.
    `F` in 0..1 is scaled by 255, otherwise clipped to 0..255.
    """
    import numpy as np
    from PIL import Image

    arr = np.asarray(im)
    if im.mode.startswith("I;16"):
        out = np.round(arr.astype(np.float32) / 257.0)
    elif im.mode == "I":
        top = int(arr.max()) if arr.size else 0
        scale = 1.0 if top <= 255 else 257.0 if top <= 65535 else top / 255.0
        out = np.round(arr.astype(np.float64) / scale)
    else:  # "F"
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        out = arr * 255.0 if lo >= 0.0 and hi <= 1.0 else arr
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))
