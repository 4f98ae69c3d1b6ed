"""An image → the model's input pixels, for an `InputSpec`: the one decode tk has.

Training's image store, `tk data` commands, calibration's unknown images, `tk predict`,
`tk eval`, `tk bench`, export parity checks, the exporters' calibration sets and video frames
all call `decode` (one image) or `decode_rows` (many, in a thread pool), so they see the same
pixels: `toolkit.data.images.load_rgb` (EXIF-upright 8-bit RGB, transparency on white, large
JPEGs decoded at reduced scale) and then the spec's resize rule (`toolkit.core.geometry.RESIZERS`).
A rule this tk does not implement is refused, never approximated.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from toolkit.core.errors import TkError
from toolkit.core.geometry import RESIZE_RULES, InputSpec
from toolkit.data.images import ImageError, load_rgb
from toolkit.data.modes import to_rgb

if TYPE_CHECKING:
    import numpy as np

__all__ = ["decode", "decode_rows", "check_spec", "Source"]

Source = Any
"""What `decode` takes: a file path (``str`` or ``os.PathLike``), the bytes of an image file
(``bytes``, ``bytearray``, ``memoryview``, or an open binary file), or a PIL image."""


def check_spec(spec: InputSpec) -> None:
    """A one-line `TkError` when this tk does not implement ``spec``'s resize rule (a model
    trained by a newer tk): predicting with other pixels would give other answers."""
    if not spec.known:
        raise TkError(f"The model was trained with resize rule '{spec.resize}', but this tk resizes only with "
                      f"{' or '.join(repr(r) for r in RESIZE_RULES.values())}; predict with the tk version that "
                      f"trained it.")


def _rgb(source: Source, spec: InputSpec) -> Any:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return load_rgb(io.BytesIO(bytes(source)), reduce_for=spec.hw)
    if hasattr(source, "mode") and hasattr(source, "size") and hasattr(source, "convert"):  # a PIL image
        return to_rgb(source)
    return load_rgb(source, reduce_for=spec.hw)


def decode(source: Source, spec: InputSpec, *, keep_original: bool = False) -> Any:
    """``source`` (`Source`) → uint8 ``3×H×W`` numpy array of ``spec``'s input pixels.

    With ``keep_original`` the result is ``(pixels, image)``: also the decoded RGB image before
    the resize (what near-duplicate features are computed from). A file that cannot be used
    raises `toolkit.data.ImageError` naming it; an unknown rule, `TkError` (`check_spec`).
    """
    import numpy as np

    check_spec(spec)
    img = _rgb(source, spec)
    pixels = np.asarray(spec.resize_image(img), dtype=np.uint8).transpose(2, 0, 1)
    return (pixels, img) if keep_original else pixels


def decode_rows(sources: Sequence[Source], spec: InputSpec, *, workers: int = 0,
                also: Callable[[Source, Any], Any] | None = None,
                ) -> Iterator[tuple[int, np.ndarray | None, Any, str]]:
    """`decode` each of ``sources``, in order: ``(index, pixels, extra, reason)``.

    ``pixels`` is None for a source that cannot be decoded, and ``reason`` then says why (the
    short reason of `ImageError`; any other decoder failure on one odd file is ``"cannot decode:
    ..."`` and does not stop the others). ``also(source, image)`` runs on each decoded image in
    the same worker (its result is ``extra``; an `ImageError` it raises fails the source).
    ``workers > 0`` decodes with that many threads (PIL releases the GIL while it decodes and
    resizes); the rows come back in order either way.
    """
    check_spec(spec)

    def one(i: int) -> tuple[int, Any, Any, str]:
        try:
            pixels, img = decode(sources[i], spec, keep_original=True)
            extra = also(sources[i], img) if also is not None else None
        except ImageError as exc:
            return i, None, None, exc.reason
        except TkError:
            raise
        except Exception as exc:  # a decoder bug on one odd file must not end the run
            return i, None, None, f"cannot decode: {exc}".lower()
        return i, pixels, extra, ""

    indices = range(len(sources))
    if workers > 0 and len(sources) > 1:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tk-decode")
        try:
            yield from pool.map(one, indices)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    else:
        yield from map(one, indices)

