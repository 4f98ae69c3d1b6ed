"""Image files → model inputs, by exactly the rule the model was trained with.

Training decodes a file with `toolkit.data.pixels.decode` for the model's
`toolkit.core.geometry.InputSpec` (EXIF-upright 8-bit RGB, then squeezed or letterboxed to ``H×W``,
no crop). Predicting, evaluating and benchmarking must feed the same pixels, so they call the
same function; the spec is read from the model (checkpoint ``model_info`` or exported metadata,
`toolkit.export.Predictor.input_spec`) and a rule this tk does not implement is refused rather
than approximated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from ..core.errors import TkError

if TYPE_CHECKING:
    import numpy as np

    from ..core.geometry import InputSpec

__all__ = ["expand_image_args", "load_inputs"]


def load_inputs(paths: Sequence[str | os.PathLike[str]], spec: InputSpec, *,
                workers: int = 2) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Decode ``paths`` for ``spec`` → (uint8 ``N×3×H×W`` of the readable ones, [(path, reason)] of the rest).

    The array holds the readable images in the order given; unreadable files are listed
    with the reason `load_rgb` gave, for the caller to report by name.
    """
    import numpy as np

    from ..data.pixels import decode_rows

    arrays, failed = [], []
    for i, pixels, _, reason in decode_rows(list(paths), spec, workers=workers if len(paths) > 8 else 0):
        if pixels is None:
            failed.append((os.fspath(paths[i]), reason))
        else:
            arrays.append(pixels)
    images = np.stack(arrays) if arrays else np.zeros((0, 3, *spec.hw), dtype=np.uint8)
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
