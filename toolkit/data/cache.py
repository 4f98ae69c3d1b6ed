"""Decode once, reuse: images as one uint8 tensor, backed by a per-image disk cache.

The usual ImageFolder loop decodes and resizes every PNG every epoch; for 3k screenshots that
costs more than a small model's forward pass. Here each image is decoded and resized once,
to `size` with the rule below, and kept as uint8 (`N x 3 x H x W`, 196 KB an image at 256 px);
augmentation then runs batched on the training device. The decoded pixels are also written to
`cache_dir`, one file per image, keyed by the file's identity and the target size, so the
next run over the same files decodes nothing and an edited image is decoded again. Each
entry ends with a checksum of its key and its pixels: a damaged entry, or one copied over
another's, is decoded again (with one note) instead of training on the wrong pixels.

The resize rule is part of the model: exported models document it and predictors must apply
it, so it is spelled out in constants and never changes silently (`CACHE_VERSION` is bumped
when it does, which also invalidates old cache files).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.data.duplicates import image_hash
from toolkit.data.images import ImageError, load_rgb
from toolkit.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["CACHE_VERSION", "CROP", "RESIZE", "DecodedImages", "decode_images", "resize_rgb"]

#: Resampling filter used to reach the model's input size (PIL's BICUBIC, antialiased).
RESIZE = "bicubic"
#: No crop: the whole image is kept (squeezed, or letterboxed with ``data.resize``), so slides
#: keep their layout.
CROP = None
#: Bump when the decode or resize rule changes: old cache files then stop matching.
#: 2: entries carry a checksum; the key holds the change time (st_ctime_ns).
#: 3: entries carry the image's perceptual hash (`toolkit.data.duplicates`). Entries of older
#: versions are not read (their key differs) and are decoded again.
CACHE_VERSION = 3

ProgressFn = Callable[[int, int], None]


@dataclass
class DecodedImages:
    """`images[i]` is image `i`, except the rows listed in `failed`, which are zero."""

    images: torch.Tensor  # uint8, N x 3 x H x W, contiguous
    hashes: np.ndarray | None = None  # uint64 perceptual hash per row (0 for failed rows)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (index, reason)
    decoded: int = 0  # images decoded in this call
    cached: int = 0  # images read back from the disk cache
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # e.g. a cache file that could not be written

    @property
    def ok(self) -> list[int]:
        """Indices of the rows that hold a real image."""
        bad = {i for i, _ in self.failed}
        return [i for i in range(self.images.shape[0]) if i not in bad]


def resize_rgb(img, size: tuple[int, int], rule: str = RESIZE):  # PIL.Image.Image -> PIL.Image.Image
    """Resize to (height, width) by ``rule`` (`toolkit.geometry`): ``bicubic`` squeezes the whole
    image (`RESIZE`, no crop), ``letterbox-bicubic`` keeps its aspect ratio and pads."""
    from toolkit.geometry import resize_image

    return resize_image(img, size, rule)


def decode_images(
    paths: Sequence[str | os.PathLike[str]],
    size: int | tuple[int, int],
    *,
    cache_dir: str | os.PathLike[str] | None,
    workers: int = 0,
    on_progress: ProgressFn | None = None,
    hashes: bool = True,
    rule: str = RESIZE,
) -> DecodedImages:
    """Decode `paths` to a uint8 `N x 3 x H x W` tensor, reusing `cache_dir` when possible.

    `size` is `S` (square) or `(height, width)`; `rule` the resize rule (`toolkit.geometry`:
    ``bicubic`` squeezes, ``letterbox-bicubic`` pads). A file that cannot be decoded does not stop
    the run: its row stays zero and `(index, reason)` goes to `failed`, for the caller to drop
    and report. `workers > 0` uses that many threads: PIL releases the GIL while it decodes
    and resizes, so threads scale without the pickling cost of processes.

    With ``hashes`` (the default) each image's perceptual hash is computed from its decoded
    pixels (`toolkit.data.duplicates.image_hash`) and kept in the cache entry beside them.
    """
    import numpy as np
    import torch

    hw = _check_size(size)
    cache = _DiskCache(Path(os.fspath(cache_dir)), hw, rule) if cache_dir is not None else None
    started = time.perf_counter()
    out = np.zeros((len(paths), 3, *hw), dtype=np.uint8)
    phash = np.zeros(len(paths), dtype=np.uint64)
    result = DecodedImages(images=torch.from_numpy(out), hashes=phash if hashes else None)

    def work(i: int) -> tuple[str, str | None]:
        """('cached' | 'decoded' | 'failed', reason or cache problem)."""
        path = os.fspath(paths[i])
        try:
            st = os.stat(path)
        except OSError as exc:
            return "failed", f"unreadable: {(exc.strerror or str(exc)).lower()}"
        key = cache.key(path, st) if cache else ""
        damaged = False
        if cache:
            hit = cache.read(key, out[i], phash[i:i + 1])
            if hit is True:
                return "cached", None
            damaged = hit is None
        try:
            img = resize_rgb(load_rgb(path), hw, rule)
        except ImageError as exc:
            return "failed", exc.reason
        except Exception as exc:  # a decoder bug on one odd file must not end the run
            return "failed", f"cannot decode: {exc}".lower()
        out[i] = np.asarray(img).transpose(2, 0, 1)
        if hashes or cache:
            phash[i] = image_hash(out[i])
        problem = cache.write(key, out[i], phash[i:i + 1]) if cache else None
        return "decoded", problem or ("damaged" if damaged else None)

    indices = range(len(paths))
    if workers > 0:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tk-decode")
        outcomes = pool.map(work, indices)
    else:
        pool, outcomes = None, map(work, indices)
    damaged, write_problems = 0, []
    try:
        for i, (status, detail) in enumerate(outcomes):
            if status == "failed":
                out[i] = 0
                result.failed.append((i, detail or "cannot decode"))
            elif status == "cached":
                result.cached += 1
            else:
                result.decoded += 1
                if detail == "damaged":
                    damaged += 1
                elif detail:
                    write_problems.append(detail)
            if on_progress is not None:
                on_progress(i + 1, len(paths))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if damaged:
        result.notes.append(f"{damaged} image cache entr{'y' if damaged == 1 else 'ies'} in {cache_dir} did not match "
                            f"{'its' if damaged == 1 else 'their'} checksum (damaged or copied); decoded again")
    if write_problems:  # one note however many files failed the same way
        more = f" ({len(write_problems)} images)" if len(write_problems) > 1 else ""
        result.notes.append(write_problems[0] + more)
    result.seconds = time.perf_counter() - started
    return result


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if len(hw) != 2 or not all(isinstance(v, int) and v > 0 for v in hw):
        raise ValueError(f"size must be a positive int or (height, width), not {size!r}")
    return hw  # type: ignore[return-value]


class _DiskCache:
    """One file per image under `<root>/<2 hex>/<sha1>.tkimg`: an .npy header (uint8, 3 x H x W),
    the pixels, the 8-byte perceptual hash, then a 16-byte BLAKE2b digest of the key, the
    pixels and the hash.

    The key holds the absolute path, inode, size, mtime_ns and ctime_ns of the source (the
    change time cannot be set back with `os.utime`, so an image rewritten in place with its
    size and mtime restored still misses) plus the target size and `CACHE_VERSION`. Writes go
    to a temp file renamed into place, so a killed run leaves a whole entry or none. `read`
    tells a plain miss (no entry) from a damaged one: wrong length, wrong header, or a digest
    that does not match (bits changed at the same length, or another image's entry copied
    over this one).
    """

    SUFFIX = ".tkimg"
    DIGEST = 16

    def __init__(self, root: Path, hw: tuple[int, int], rule: str = RESIZE) -> None:
        import numpy as np

        self.root = root
        self.hw = hw
        self.rule = rule
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(
                f"cannot create the image cache folder {root} ({(exc.strerror or exc)}): "
                "choose another cache folder"
            ) from None
        # The .npy header is fixed for a given shape; compute it once to validate and skip.
        probe = np.lib.format.header_data_from_array_1_0(np.zeros((3, *hw), np.uint8))
        buf = _BytesSink()
        np.lib.format.write_array_header_1_0(buf, probe)
        self.header = bytes(buf.data)
        self.nbytes = 3 * hw[0] * hw[1]

    def key(self, path: str, st: os.stat_result) -> str:
        ident = "\0".join(
            [f"v{CACHE_VERSION}", self.rule, f"{self.hw[0]}x{self.hw[1]}", str(st.st_size),
             str(st.st_mtime_ns), str(st.st_ctime_ns), str(st.st_ino)]
        )
        raw = ident.encode() + b"\0" + os.fsencode(os.path.abspath(path))
        return hashlib.sha1(raw).hexdigest()

    def _file(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}{self.SUFFIX}"

    def _digest(self, key: str, pixels: memoryview, phash: memoryview) -> bytes:
        h = hashlib.blake2b(key.encode("ascii"), digest_size=self.DIGEST)
        h.update(pixels)
        h.update(phash)
        return h.digest()

    def read(self, key: str, into: np.ndarray, phash: np.ndarray) -> bool | None:
        """Read straight into `into` (a contiguous row) and `phash` (one uint64): True on a hit,
        False when there is no entry, None when the entry is damaged (both are garbage after
        either miss)."""
        try:
            fh = open(self._file(key), "rb")
        except OSError:
            return False
        view = memoryview(into.reshape(-1))
        hview = memoryview(phash.view("u1"))
        try:
            with fh:
                if fh.read(len(self.header)) != self.header or fh.readinto(view) != self.nbytes \
                        or fh.readinto(hview) != 8:
                    return None
                stored = fh.read(self.DIGEST + 1)
        except OSError:
            return None
        return True if stored == self._digest(key, view, hview) else None

    def write(self, key: str, arr: np.ndarray, phash: np.ndarray) -> str | None:
        """Store `arr` and its hash atomically; a problem (disk full ...) is returned, never raised."""
        target = self._file(key)
        row = memoryview(arr.reshape(-1))  # contiguous row of the output
        hview = memoryview(phash.view("u1"))
        try:
            target.parent.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=self.SUFFIX)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(self.header)
                    fh.write(row)
                    fh.write(hview)
                    fh.write(self._digest(key, row, hview))
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            return f"could not write to the image cache {self.root}: {exc.strerror or exc}"
        return None


class _BytesSink:
    """A minimal binary file for numpy's header writer."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> int:
        self.data += b
        return len(b)
