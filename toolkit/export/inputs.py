"""Image files → model inputs, by exactly the rule the model was trained with.

Training decodes a file with `toolkit.data.load_rgb` (EXIF-upright 8-bit RGB) and resizes it
with `toolkit.data.cache.resize_rgb` (the model's rule, `toolkit.geometry`: squeezed or
letterboxed to ``H×W``, no crop). Predicting,
evaluating and benchmarking must feed the same pixels, so they go through the same two
functions; the rule is read from the model (checkpoint ``model_info`` or exported metadata)
and a rule this tk does not implement is refused rather than approximated.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import TkError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["expand_image_args", "load_inputs"]


def _check_rule(rule: str) -> None:
    from ..geometry import RESIZE_RULES

    if rule not in RESIZE_RULES.values():
        raise TkError(f"The model was trained with resize rule '{rule}', but this tk resizes only with "
                      f"{' or '.join(repr(r) for r in RESIZE_RULES.values())}; predict with the tk version that "
                      f"trained it.")


def load_inputs(paths: Sequence[str | os.PathLike[str]], image_size: Any, resize: str = "bicubic", *,
                workers: int = 2) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Decode and resize ``paths`` → (uint8 ``N×3×H×W`` of the readable ones, [(path, reason)] of the rest).

    The array holds the readable images in the order given; unreadable files are listed
    with the reason `load_rgb` gave, for the caller to report by name.
    """
    import numpy as np

    from ..data.images import ImageError, load_rgb

    from ..data.cache import resize_rgb
    from ..geometry import input_hw

    _check_rule(resize)
    size = input_hw(image_size)

    def one(path: str | os.PathLike[str]) -> tuple[np.ndarray | None, str]:
        try:
            img = resize_rgb(load_rgb(path, reduce_for=size), size, resize)
        except ImageError as exc:
            return None, exc.reason
        return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1), ""

    if workers > 0 and len(paths) > 8:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tk-inputs") as pool:
            decoded = list(pool.map(one, paths))
    else:
        decoded = [one(p) for p in paths]
    arrays = [arr for arr, _ in decoded if arr is not None]
    failed = [(os.fspath(p), reason) for p, (arr, reason) in zip(paths, decoded) if arr is None]
    images = np.stack(arrays) if arrays else np.zeros((0, 3, *size), dtype=np.uint8)
    return np.ascontiguousarray(images), failed


def expand_image_args(args: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Files and folders from the command line → image files (folders searched recursively, sorted).

    A named file is kept whatever its suffix (the user asked for it; an unreadable one is
    reported later); inside folders every entry with an image suffix that is not a folder is
    taken, so broken links, link loops and FIFOs are reported by name rather than left out unsaid.
    """
    from ..data.images import is_image_name

    out: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if not p.is_dir() and is_image_name(p.name)
                           and not any(part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise TkError(f"{path}: no image files in this folder.")
            out.extend(found)
        elif path.exists() or path.is_symlink():
            out.append(path)
        else:
            raise TkError(f"{path}: no such image file or folder.")
    return out
