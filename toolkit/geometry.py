"""The model's input geometry: its size (square or height × width) and the resize rule.

A model's input is part of the model: training, `tk predict`, `tk eval` and every exported
file must turn an image file into the same pixels. Two rules exist, named in checkpoints
(``model_info["resize"]``) and exported metadata (``tk.resize``):

* ``"bicubic"`` — **squeeze** (``data.resize = "squeeze"``, the default): the whole image is
  resized to height × width with PIL's antialiased bicubic filter, no crop; a 16:9 screenshot
  squeezed to a square is distorted 1.78×.
* ``"letterbox-bicubic"`` — **letterbox** (``data.resize = "letterbox"``): the image is
  scaled by one factor to fit inside height × width (bicubic), centred, and the rest filled
  with `LETTERBOX_FILL` (black, the colour of a screen's own bars). The aspect ratio is kept.

Sizes are written as an int (square) or ``[height, width]`` in recipes, ``"256"`` or
``"256x448"`` (height x width) in metadata. This module is light (no PIL at import).
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["RESIZE_RULES", "LETTERBOX_FILL", "input_hw", "size_value", "size_text", "parse_size_text",
           "resize_rule", "resize_image", "letterbox_box"]

#: ``data.resize`` → the rule's name in checkpoints and metadata.
RESIZE_RULES = {"squeeze": "bicubic", "letterbox": "letterbox-bicubic"}
#: The colour letterboxing pads with (RGB).
LETTERBOX_FILL = (0, 0, 0)


def input_hw(size: Any) -> tuple[int, int]:
    """``(height, width)`` of ``S``, ``[H, W]`` or ``(H, W)``."""
    if isinstance(size, bool):
        raise ValueError(f"an image size must be an int or [height, width], not {size!r}")
    if isinstance(size, int):
        return size, size
    if isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                  for v in size):
        return int(size[0]), int(size[1])
    raise ValueError(f"an image size must be an int or [height, width], not {size!r}")


def size_value(size: Any) -> int | list[int]:
    """The JSON/TOML form: an int when square, else ``[height, width]``."""
    h, w = input_hw(size)
    return h if h == w else [h, w]


def size_text(size: Any) -> str:
    """``"256"`` (square) or ``"256x448"`` (height x width): the metadata form."""
    h, w = input_hw(size)
    return str(h) if h == w else f"{h}x{w}"


def parse_size_text(text: str) -> tuple[int, int]:
    """Inverse of `size_text`; raises ValueError on anything else."""
    parts = str(text).strip().lower().split("x")
    if len(parts) == 1:
        s = int(parts[0])
        return s, s
    if len(parts) == 2:
        return int(parts[0]), int(parts[1])
    raise ValueError(f"not an image size: {text!r}")


def resize_rule(resize: str) -> str:
    """The stored rule name of a ``data.resize`` value (a stored name passes through)."""
    if resize in RESIZE_RULES.values():
        return resize
    try:
        return RESIZE_RULES[resize]
    except KeyError:
        raise ValueError(f"unknown resize {resize!r}: use {' or '.join(RESIZE_RULES)}") from None


def letterbox_box(src_wh: Sequence[int], dst_hw: Sequence[int]) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the scaled image inside the letterboxed canvas."""
    sw, sh = int(src_wh[0]), int(src_wh[1])
    h, w = int(dst_hw[0]), int(dst_hw[1])
    scale = min(w / sw, h / sh)
    nw, nh = max(1, min(w, round(sw * scale))), max(1, min(h, round(sh * scale)))
    return (w - nw) // 2, (h - nh) // 2, nw, nh


def resize_image(img: Any, size: Any, rule: str = "bicubic") -> Any:
    """Apply a stored rule (see the module docstring) to a PIL RGB image; returns a PIL image of
    exactly ``size``."""
    from PIL import Image

    h, w = input_hw(size)
    if rule == "bicubic":
        return img if img.size == (w, h) else img.resize((w, h), Image.Resampling.BICUBIC)
    if rule == "letterbox-bicubic":
        left, top, nw, nh = letterbox_box(img.size, (h, w))
        scaled = img if img.size == (nw, nh) else img.resize((nw, nh), Image.Resampling.BICUBIC)
        if (nw, nh) == (w, h):
            return scaled
        canvas = Image.new("RGB", (w, h), LETTERBOX_FILL)
        canvas.paste(scaled, (left, top))
        return canvas
    raise ValueError(f"unknown resize rule {rule!r}: this tk knows {', '.join(RESIZE_RULES.values())}")
