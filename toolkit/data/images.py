"""Reading and checking single image files.

Two jobs, kept together because they must agree on what "an image" is:

* `load_rgb` turns any file a user is likely to drop in a class folder (PNG, JPEG, GIF, WebP,
  TIFF, BMP in any mode) into the one thing the model sees: an 8-bit RGB image, upright, with
  transparency composited on white. Training, prediction and export all go through it, so a
  model is fed the same pixels everywhere.
* `inspect_image` says *why* a file cannot be used (one short, lower-case sentence) and notes
  files that are usable but odd (16-bit, CMYK, multi-frame, EXIF-rotated), so the scanner can
  skip the bad ones with a reason instead of crashing an epoch later.

PIL is imported inside the functions: `tk --help` must not pay for it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from toolkit.core.errors import DataError
from toolkit.data.modes import ALPHA_MODES, WIDE_GRAY_MODES, to_rgb

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_ASPECT",
    "MAX_PIXELS",
    "MIN_SIDE",
    "ImageError",
    "ImageReport",
    "check_image",
    "inspect_image",
    "is_image_name",
    "load_rgb",
]

#: File name endings the scanner treats as images (compared lower-case).
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
#: Larger images are refused as decompression bombs. 64 MP is far above any screenshot or
#: photo a classifier needs (an 8K frame is 33 MP) and keeps one decode under ~200 MB of RAM.
MAX_PIXELS = 64_000_000
#: Smaller sides carry no information after resizing and usually mean a thumbnail or icon.
MIN_SIDE = 8
#: Longer-side / shorter-side above this is a strip or a banner, not a sample of a class.
MAX_ASPECT = 20.0

_ORIENTATION_TAG = 0x0112
_EXPECTED_EXT = {
    "PNG": {".png"},
    "JPEG": {".jpg", ".jpeg"},
    "MPO": {".jpg", ".jpeg"},
    "GIF": {".gif"},
    "BMP": {".bmp"},
    "WEBP": {".webp"},
    "TIFF": {".tif", ".tiff"},
}


#: How an image given as bytes (an open file) is named in messages.
BYTES_NAME = "<image bytes>"


class ImageError(DataError):
    """An image that cannot be read; `reason` is the short sentence the scanner reports."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        path = BYTES_NAME if hasattr(path, "read") else os.fspath(path)
        super().__init__(f"cannot use image {path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class ImageReport:
    """What `inspect_image` found: `error` makes the file unusable, `notes` only inform."""

    path: str
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    size: tuple[int, int] | None = None  # (width, height) as stored, before EXIF rotation
    format: str | None = None
    mode: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def is_image_name(name: str) -> bool:
    """True when the file name ends in one of `IMAGE_EXTENSIONS` (any case)."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


# --------------------------------------------------------------------------- loading


#: JPEGs are decoded at reduced scale when much larger than the model's input (see `load_rgb`).
REDUCED_DECODE = "jpeg-draft-2x"


def load_rgb(path: str | os.PathLike[str], *, reduce_for: tuple[int, int] | None = None) -> Image.Image:
    """Open `path` (or an open binary file holding an image) as an upright 8-bit RGB image,
    whatever its format and mode.

    ``reduce_for=(height, width)``: the image is about to be resized to that size, so a JPEG at
    least twice as large on both sides is decoded at reduced scale (libjpeg's DCT scaling, PIL's
    ``draft``: 1/2, 1/4 or 1/8, never below twice the target), which is several times faster
    than decoding every pixel and then throwing most away. Training, ``tk predict``, ``tk eval``
    and export parity all decode this way (`REDUCED_DECODE`), so they see the same pixels.

    Raises `ImageError` (a `DataError`) with a short reason when the file cannot be used,
    so callers can report it by name instead of showing a PIL traceback. The size limit is
    checked against `MAX_PIXELS` on every call; PIL's global `MAX_IMAGE_PIXELS` is left as
    it is (it is larger, so PIL only ever fires for images we refuse anyway).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    # Only regular files: a path from a stranger's split.json naming /dev/stdin or a FIFO would
    # block forever, and an empty file gets the same reason here as in `tk data check`.
    problem = None if hasattr(path, "read") else _file_problem(os.fspath(path))  # an open file: its bytes
    if problem:
        raise ImageError(path, problem)
    # tk checks MAX_PIXELS itself (below); PIL's own warning for large images is noise.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    try:
        with Image.open(path) as im:
            problem = _pixel_problem(im.size)
            if problem:
                raise ImageError(path, problem)
            if reduce_for is not None and im.format == "JPEG":
                h, w = reduce_for
                if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # stored rotated by 90°: sides swap
                    h, w = w, h
                im.draft("RGB", (2 * w, 2 * h))
            ImageOps.exif_transpose(im, in_place=True)  # loads frame 0 of multi-frame files
            return to_rgb(im)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(path, _bomb_reason_from_pil(exc)) from None
    except UnidentifiedImageError:
        raise ImageError(path, "not an image (the format is not recognised)") from None
    except OSError as exc:
        reason = _os_reason(exc) if exc.errno is not None else _corrupt_reason(exc)
        raise ImageError(path, reason) from None
    except Exception as exc:  # PIL raises SyntaxError, ValueError, struct.error ... on bad data
        raise ImageError(path, _corrupt_reason(exc)) from None


# --------------------------------------------------------------------------- checking


def check_image(path: str | os.PathLike[str]) -> str | None:
    """The reason `path` cannot be used as a training image, or None when it can."""
    return inspect_image(path).error


def inspect_image(path: str | os.PathLike[str], *, thorough: bool = True) -> ImageReport:
    """Check one file and say why it is unusable (`error`) or merely odd (`notes`).

    `thorough=True` decodes every pixel: the only way to catch every truncated or corrupt
    file. `thorough=False` is the scanner's fast path (about 5-10x cheaper on screenshots):
    PNG chunk CRCs via `verify()` (catches truncation without inflating), JPEG decoded at 1/8
    scale (still reads the whole entropy stream, so truncation shows), other formats fully
    decoded. Notes that need pixels (real transparency) are only given when thorough.
    Not thread-safe: it forces `ImageFile.LOAD_TRUNCATED_IMAGES` off while it runs.
    """
    from PIL import Image, UnidentifiedImageError

    spath = os.fspath(path)
    report = ImageReport(spath)
    report.error = _file_problem(spath)
    if report.error:
        return report
    try:
        fh = open(spath, "rb")
    except OSError as exc:
        report.error = _os_reason(exc)
        return report
    with fh, _strict_decoding(), warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(fh)
        except UnidentifiedImageError:
            report.error = "not an image (the format is not recognised)"
            return report
        except Image.DecompressionBombError as exc:
            report.error = _bomb_reason_from_pil(exc)
            return report
        except Exception as exc:
            report.error = _corrupt_reason(exc)
            return report
        report.size, report.format, report.mode = im.size, im.format, im.mode
        report.error = _geometry_problem(im.size)
        if report.error:
            return report
        report.notes = _header_notes(im, spath)
        # PNG keeps EXIF after the pixels: asking for it early would decode the whole file.
        exif_late = im.format == "PNG" and "exif" not in im.info
        try:
            if not exif_late:
                report.notes += _orientation_notes(im)
            _decode_check(im, thorough)
            if exif_late and thorough:
                report.notes += _orientation_notes(im)
        except Exception as exc:
            report.error = _corrupt_reason(exc)
            return report
        if thorough and _has_real_alpha(im):
            report.notes.append("has transparency: composited on white")
    return report


def _file_problem(path: str) -> str | None:
    """Filesystem-level reasons: missing, dangling or looping links, folders, empty files."""
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        return "file not found"
    except OSError as exc:
        return _os_reason(exc)
    try:
        st = os.stat(path) if stat.S_ISLNK(lst.st_mode) else lst
    except FileNotFoundError:
        return "broken symlink (its target does not exist)"
    except OSError as exc:
        return "symlink loop" if exc.errno == errno.ELOOP else _os_reason(exc)
    if stat.S_ISDIR(st.st_mode):
        return "a folder, not a file"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a device, pipe or socket)"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    return None


def _geometry_problem(size: tuple[int, int]) -> str | None:
    w, h = size
    problem = _pixel_problem(size)
    if problem:
        return problem
    if min(w, h) <= 0:
        return f"empty image ({w}x{h} px)"
    ratio = max(w, h) / min(w, h)
    if ratio > MAX_ASPECT:
        return f"extreme aspect ratio: {w}x{h} px is {ratio:.0f}:1, the limit is {MAX_ASPECT:.0f}:1"
    if min(w, h) < MIN_SIDE:
        return f"too small: {w}x{h} px, each side needs at least {MIN_SIDE} px"
    return None


def _pixel_problem(size: tuple[int, int]) -> str | None:
    """Read `MAX_PIXELS` at call time so a caller (or a test) can lower it."""
    w, h = size
    if w * h > MAX_PIXELS:
        return f"decompression bomb: {w}x{h} px is {w * h:,} pixels, the limit is {MAX_PIXELS:,}"
    return None


def _header_notes(im: Image.Image, path: str) -> list[str]:
    """Usable-but-odd facts that cost nothing beyond the header."""
    notes = []
    if im.mode in WIDE_GRAY_MODES:
        notes.append("16-bit image: scaled to 8-bit")
    elif im.mode == "F":
        notes.append("32-bit float image: scaled to 8-bit")
    elif im.mode == "CMYK":
        notes.append("cmyk image: converted to rgb")
    if getattr(im, "is_animated", False):
        notes.append(f"{getattr(im, 'n_frames', 2)} frames: only the first is used")
    ext = os.path.splitext(path)[1].lower()
    expected = _EXPECTED_EXT.get(im.format or "")
    if expected is not None and ext not in expected:
        notes.append(f"{im.format.lower()} data in a {ext or 'nameless'} file")
    elif expected is None:
        notes.append(f"unusual format {im.format}")
    return notes


def _orientation_notes(im: Image.Image) -> list[str]:
    orientation = im.getexif().get(_ORIENTATION_TAG, 1)
    if orientation in (1, None):
        return []
    return [f"exif orientation {orientation}: rotated on load"]


def _decode_check(im: Image.Image, thorough: bool) -> None:
    """Decode enough of `im` to expose truncation or corruption; see `inspect_image`."""
    if not thorough and im.format == "PNG":
        im.verify()
        return
    if not thorough and im.format == "JPEG":
        w, h = im.size
        im.draft(im.mode, (max(1, w // 8), max(1, h // 8)))
    im.load()


def _has_real_alpha(im: Image.Image) -> bool:
    """True when some pixel is not fully opaque (macOS screenshots are RGBA but opaque)."""
    if im.mode not in ALPHA_MODES and "transparency" not in im.info:
        return False
    try:
        alpha = im.convert("RGBA").getchannel("A")
        return alpha.getextrema()[0] < 255
    except Exception:
        return False


@contextlib.contextmanager
def _strict_decoding() -> Iterator[None]:
    """Force PIL to raise on truncated files even if someone set LOAD_TRUNCATED_IMAGES."""
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before


def _bomb_reason_from_pil(exc: Exception) -> str:
    found = re.search(r"\((\d+) pixels\)", str(exc))
    count = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    return f"decompression bomb: {count}, the limit is {MAX_PIXELS:,}"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "unreadable: permission denied"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(exc, IsADirectoryError):
        return "a folder, not a file"
    return f"unreadable: {(exc.strerror or str(exc)).lower()}"


def _corrupt_reason(exc: Exception) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    detail = detail[:100].rstrip(".").lower()
    return f"truncated or corrupt image ({detail})"
