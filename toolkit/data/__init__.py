"""The data layer: scan class folders, check images, split them, decode them once.

Names are resolved lazily (PEP 562) so `import toolkit.data` costs nothing at CLI start-up;
the heavy libraries (PIL, numpy, torch, scikit-learn) are imported by the functions that use
them, on first call.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.data.cache import DecodedImages, decode_images
    from toolkit.data.images import ImageError, ImageReport, check_image, inspect_image, load_rgb
    from toolkit.data.scan import FolderIndex, class_counts, scan_folder
    from toolkit.data.split import Split, split_from_presplit, split_indices

_EXPORTS = {
    "FolderIndex": "scan",
    "scan_folder": "scan",
    "class_counts": "scan",
    "Split": "split",
    "split_indices": "split",
    "split_from_presplit": "split",
    "DecodedImages": "cache",
    "decode_images": "cache",
    "ImageError": "images",
    "ImageReport": "images",
    "load_rgb": "images",
    "check_image": "images",
    "inspect_image": "images",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
