"""One memory-mapped file of decoded images, shared by every process that trains on them.

Before, each run held the whole decoded dataset as one uint8 tensor in each process (196 KB an
image at 256 px: 20 GB for 100k images, four copies under ``--nproc 4``), backed by one small
file per image. A store is one file per (image set, size, resize rule, `STORE_VERSION`):

    offset 0        b"TKSTORE\\0", header length (8 bytes, little endian), header (JSON)
    data_offset     N rows of 3·H·W uint8 pixels, contiguous (page-aligned start)
    then            N rows of frame features (`toolkit.data.duplicates.FEATURE_BYTES` each)
    then            N row keys (20 bytes each: sha1 of path, size, mtime, ctime, inode, size, rule)
                    N perceptual hashes (8 bytes each, of the frame features)
                    N row digests (16 bytes each: BLAKE2b of the row's pixels)
                    N feature digests (16 bytes each: BLAKE2b of the row's features)
    end             BLAKE2b-16 of header + keys + hashes + digests, then b"TKEND\\0\\0\\0"

The frame features, from which near-duplicates are found, are computed from each image as
decoded for `toolkit.data.duplicates.FEATURE_DECODE`, not from the row's pixels: every store of
one image holds the same features, whatever its size and rule, so a split does not depend on
the recipe's ``data.image_size``. Version 2 added them; a store of another version is never
opened (it is rebuilt, and the older file removed).

* **Shared, larger than memory.** Processes open it with `numpy.memmap` read-only; the
  operating system's page cache holds one copy for all of them and pages rows in and out as
  they are read, so opening costs nothing and resident memory grows with the rows touched.
* **Built once, atomically, in parallel.** Rows are decoded by a thread pool (PIL releases the
  GIL) straight into a memory-mapped temporary file beside the store, which is flushed and
  renamed into place only when complete: a killed build leaves a ``.tmp`` file (cleared by the
  next build) and never a store that opens.
* **Reused, extended, never trusted blindly.** A store whose row keys cover the images asked for
  is reused. Otherwise the best-matching store of the same size and rule lends its rows (copied,
  not decoded) and only new or edited images are decoded into a new store, which replaces it.
  The trailer digest is checked on open (a truncated or damaged header/index makes the store
  be rebuilt, with one note); each row's digest is checked the first time this process reads
  the row (`ImageStore.gather`), and a row that fails is decoded again from its file and the
  store marked for rebuilding — its pixels are never trained on.

This module opens, reuses and checks stores; `toolkit.data.store_file` holds the format's
constants and writes a new store file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolkit.core.errors import DataError
from toolkit.core.geometry import DEFAULT_RESIZE, InputSpec
from toolkit.data.duplicates import FEATURE_BYTES, FEATURE_VERSION
from toolkit.data.images import ImageError
from toolkit.data.store_file import (DIGEST_BYTES, END, HASH_BYTES, KEY_BYTES, MAGIC, STORE_VERSION, _decode_row,
                                     _digest, clear_stale_builds, row_key, write_store)

__all__ = ["STORE_VERSION", "ImageStore", "StoreResult", "open_store", "row_key"]

class StoreDamaged(Exception):
    """A store file that does not read back as complete and consistent."""


class ImageStore:
    """An open store: ``images`` (uint8 N×3×H×W torch tensor over the memory map), ``hashes``,
    ``keys``, `gather` for batches whose rows are checked on first read, and `features` (frame
    features of rows, checked the same way)."""

    def __init__(self, path: Path):
        import numpy as np
        import torch

        self.path = Path(path)
        try:
            size = self.path.stat().st_size
            with open(self.path, "rb") as fh:
                if fh.read(8) != MAGIC:
                    raise StoreDamaged("not a tk image store")
                header_len = int.from_bytes(fh.read(8), "little")
                if not 0 < header_len < min(size, 1 << 34):  # the header lists every path: ~100 B an image
                    raise StoreDamaged("damaged header")
                header_bytes = fh.read(header_len)
                header = json.loads(header_bytes)
                n, h, w = int(header["n"]), int(header["height"]), int(header["width"])
                row_bytes, data_offset = 3 * h * w, int(header["data_offset"])
                if header.get("version") != STORE_VERSION or header.get("feature_bytes") != FEATURE_BYTES \
                        or header.get("feature_version") != FEATURE_VERSION:
                    raise StoreDamaged(f"store version {header.get('version')} (features "
                                       f"{header.get('feature_version')}), this tk writes {STORE_VERSION} "
                                       f"(features {FEATURE_VERSION})")
                features_offset = data_offset + n * row_bytes
                index_offset = features_offset + n * FEATURE_BYTES
                index_len = n * (KEY_BYTES + HASH_BYTES + 2 * DIGEST_BYTES)
                if size != index_offset + index_len + DIGEST_BYTES + len(END):
                    raise StoreDamaged(f"{size} bytes where {index_offset + index_len + DIGEST_BYTES + len(END)} "
                                       f"were written (truncated or appended to)")
                fh.seek(index_offset)
                index = fh.read(index_len)
                trailer = fh.read(DIGEST_BYTES + len(END))
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise StoreDamaged(str(exc)) from None
        if trailer[DIGEST_BYTES:] != END or trailer[:DIGEST_BYTES] != _digest(header_bytes, index):
            raise StoreDamaged("its index does not match its checksum")
        self.header = header
        self.n, self.hw, self.rule = n, (h, w), str(header["rule"])
        keys_end, hashes_end = n * KEY_BYTES, n * (KEY_BYTES + HASH_BYTES)
        self.keys = [index[i * KEY_BYTES:(i + 1) * KEY_BYTES] for i in range(n)]
        self.hashes = np.frombuffer(index[keys_end:hashes_end], dtype="<u8").astype(np.uint64)
        self.digests = [index[hashes_end + i * DIGEST_BYTES:hashes_end + (i + 1) * DIGEST_BYTES] for i in range(n)]
        fd_start = hashes_end + n * DIGEST_BYTES
        self.feature_digests = [index[fd_start + i * DIGEST_BYTES:fd_start + (i + 1) * DIGEST_BYTES] for i in range(n)]
        self.failed = {int(k): str(v) for k, v in header.get("failed", {}).items()}
        self.paths = list(header.get("paths", []))
        if n:
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r", offset=data_offset, shape=(n, 3, h, w))
            self._features = np.memmap(self.path, dtype=np.uint8, mode="r", offset=features_offset,
                                       shape=(n, FEATURE_BYTES))
            with _no_writable_warning():
                self.images = torch.from_numpy(self._map)
        else:
            self._map = np.zeros((0, 3, h, w), dtype=np.uint8)
            self._features = np.zeros((0, FEATURE_BYTES), dtype=np.uint8)
            self.images = torch.from_numpy(self._map)
        self._data_offset, self._row_bytes = data_offset, row_bytes
        self._checked = bytearray(n)  # rows whose digest this process has verified
        self._features_checked = bytearray(n)
        self.repaired_features: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.repaired: dict[int, Any] = {}  # row -> re-decoded pixels (its stored row was damaged)
        self.notes: list[str] = []

    def index_of(self) -> dict[bytes, int]:
        return {k: i for i, k in enumerate(self.keys)}

    def check_rows(self, rows: Sequence[int]) -> None:
        """Verify the digest of every row not verified yet; a damaged row is decoded again."""
        todo = [int(r) for r in rows if not self._checked[int(r)]]
        for r in todo:
            if r in self.failed:
                self._checked[r] = 1
                continue
            if hashlib.blake2b(memoryview(self._map[r]).cast("B"), digest_size=DIGEST_BYTES).digest() != self.digests[r]:
                self._repair(r)
            self._checked[r] = 1

    def features(self, rows: Sequence[int]) -> Any:
        """The frame features of ``rows`` (uint8 len(rows)×`FEATURE_BYTES`, a copy): each row's
        digest is checked the first time this process reads it, and a row that fails is computed
        again from its file (the store is then rebuilt on the next run). Failed rows are zero."""
        import numpy as np

        rows = [int(r) for r in rows]
        for r in rows:
            if self._features_checked[r]:
                continue
            if r not in self.failed and hashlib.blake2b(memoryview(self._features[r]).cast("B"),
                                                        digest_size=DIGEST_BYTES).digest() != self.feature_digests[r]:
                self._repair_features(r)
            self._features_checked[r] = 1
        out = np.array(self._features[rows]) if rows else np.zeros((0, FEATURE_BYTES), np.uint8)
        for j, r in enumerate(rows):
            if r in self.repaired_features:
                out[j] = self.repaired_features[r]
        return out

    def _repair_features(self, r: int) -> None:
        import numpy as np

        from toolkit.data.duplicates import decode_features

        with self._lock:
            if r in self.repaired_features:
                return
            path = self.paths[r] if r < len(self.paths) else None
            try:
                feats = decode_features(path) if path else None
            except ImageError:
                feats = None
            self.repaired_features[r] = feats if feats is not None else np.zeros(FEATURE_BYTES, np.uint8)
            self.notes.append(f"the features of row {r} of the image store {self.path.name} did not match their "
                              f"checksum: computed again from {path or 'the file'}; the store is rebuilt on the next run")
            self.mark_damaged()

    def _repair(self, r: int) -> None:
        import numpy as np

        with self._lock:
            if r in self.repaired:
                return
            path = self.paths[r] if r < len(self.paths) else None
            try:
                img = _decode_row(path, self.hw, self.rule) if path else None
            except ImageError:
                img = None
            self.repaired[r] = img if img is not None else np.zeros((3, *self.hw), np.uint8)
            self.notes.append(f"row {r} of the image store {self.path.name} did not match its checksum: decoded "
                              f"{path or 'it'} again; the store is rebuilt on the next run")
            self.mark_damaged()

    def mark_damaged(self) -> None:
        """Make the next `open_store` rebuild this store (it is renamed aside)."""
        with contextlib.suppress(OSError):
            os.replace(self.path, self.path.with_suffix(".damaged"))

    def will_need(self, rows: Sequence[int]) -> None:
        """Ask the kernel to read ``rows`` into the page cache in the background
        (``madvise(MADV_WILLNEED)``): the next batch's disk reads overlap this one's compute
        without a thread of ours. Rows already cached cost a system call each; does nothing
        where ``madvise`` is missing."""
        import mmap

        advise = getattr(self._map, "_mmap", None)
        if advise is None or not hasattr(advise, "madvise") or not hasattr(mmap, "MADV_WILLNEED"):
            return
        base = self._data_offset % mmap.ALLOCATIONGRANULARITY  # where the rows start inside the mapping
        page = mmap.PAGESIZE
        with contextlib.suppress(OSError, ValueError):
            for r in rows:
                start = base + int(r) * self._row_bytes
                aligned = start - start % page
                advise.madvise(mmap.MADV_WILLNEED, aligned, self._row_bytes + start - aligned)

    def gather(self, rows: Any) -> Any:
        """uint8 tensor of ``rows`` (checked on first read in this process, repaired rows swapped in)."""
        import torch

        index = rows if isinstance(rows, torch.Tensor) else torch.as_tensor(rows, dtype=torch.long)
        self.check_rows(index.tolist())
        out = self.images.index_select(0, index)
        if self.repaired:
            for j, r in enumerate(index.tolist()):
                if r in self.repaired:
                    out[j] = torch.from_numpy(self.repaired[r])
        return out


@contextlib.contextmanager
def _no_writable_warning():
    import warnings

    with warnings.catch_warnings():  # the map is read-only on purpose: nothing writes through it
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        yield


class StoreResult:
    """What `open_store` made: the store, the row of each path asked for, what failed, and facts."""

    def __init__(self, store: ImageStore, rows: list[int], failed: list[tuple[int, str]], decoded: int, reused: int,
                 seconds: float, notes: list[str]):
        self.store, self.rows, self.failed = store, rows, failed
        self.decoded, self.reused, self.seconds, self.notes = decoded, reused, seconds, notes


def _candidates(folder: Path, hw: tuple[int, int], rule: str) -> list[Path]:
    tag = f"{hw[0]}x{hw[1]}-{rule}-v{STORE_VERSION}"
    return sorted(folder.glob(f"{tag}-*.tkstore"), key=lambda p: p.stat().st_mtime, reverse=True)


def _older_versions(folder: Path, hw: tuple[int, int], rule: str) -> list[Path]:
    """Stores of this size and rule written by another store version: never read, removed when
    a new store replaces them."""
    prefix = f"{hw[0]}x{hw[1]}-{rule}-v"
    return sorted(p for p in folder.glob(f"{prefix}*.tkstore")
                  if not p.name.startswith(f"{prefix}{STORE_VERSION}-"))


def _row_keys(paths: Sequence[str], hw: tuple[int, int], rule: str) -> tuple[list[bytes | None], dict[int, str]]:
    """(the row key of each path, None where it cannot be read; {index: why} of those)."""
    wanted: list[bytes | None] = []
    stat_failed: dict[int, str] = {}
    for i, p in enumerate(paths):
        try:
            wanted.append(row_key(p, os.stat(p), hw, rule))
        except OSError as exc:
            wanted.append(None)
            stat_failed[i] = f"unreadable: {(exc.strerror or str(exc)).lower()}"
    return wanted, stat_failed


def open_store(paths: Sequence[str], size: tuple[int, int] | InputSpec, *, cache_dir: Path, rule: str = DEFAULT_RESIZE,
               workers: int = 2, on_progress: Callable[[int, int], None] | None = None) -> StoreResult:
    """The store holding ``paths`` at ``size`` by ``rule`` under ``cache_dir/stores``: reused,
    extended or built (module docstring). ``rows[i]`` is the row of ``paths[i]``. ``size`` is the
    model's `InputSpec` (whose rule wins), or ``(height, width)`` with ``rule``."""
    started = time.perf_counter()
    spec = InputSpec.of(size, rule)
    hw, rule = spec.hw, spec.resize
    folder = Path(cache_dir) / "stores"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the image store folder {folder} ({exc.strerror or exc}): "
                        f"choose another data.cache_dir") from None
    clear_stale_builds(folder)  # what a killed build left: no process holds it any more
    notes: list[str] = []
    wanted, stat_failed = _row_keys(paths, hw, rule)
    best: ImageStore | None = None
    best_cover = -1
    for candidate in _candidates(folder, hw, rule):
        try:
            store = ImageStore(candidate)
        except StoreDamaged as exc:
            notes.append(f"the image store {candidate.name} is damaged ({exc}): it is rebuilt")
            with contextlib.suppress(OSError):
                candidate.unlink()
            continue
        index = store.index_of()
        cover = sum(1 for k in wanted if k is not None and k in index)
        if cover == sum(k is not None for k in wanted):
            rows = [index[k] if k is not None else -1 for k in wanted]
            failed = [(i, stat_failed.get(i) or store.failed.get(rows[i], "cannot decode")) for i in range(len(paths))
                      if rows[i] < 0 or rows[i] in store.failed]
            if on_progress is not None:
                on_progress(len(paths), len(paths))
            return StoreResult(store, [max(r, 0) for r in rows], failed, 0, len(paths) - len(failed),
                               time.perf_counter() - started, notes)
        if cover > best_cover:
            best, best_cover = store, cover
    # build a new store: rows of `best` are copied, the rest decoded
    keys = sorted({k for k in wanted if k is not None})
    position = {k: j for j, k in enumerate(keys)}
    path_of = {k: str(p) for k, p in zip(wanted, paths) if k is not None}
    final, header, failed, reused = write_store(folder, spec, keys, path_of, best, workers, on_progress)
    n = len(keys)
    if best is not None and best.path != final and set(best.paths) <= set(header["paths"]):
        with contextlib.suppress(OSError):  # the new store covers every image of the old one (edited ones anew)
            best.path.unlink()
    for old in _older_versions(folder, hw, rule):
        with contextlib.suppress(OSError):
            old.unlink()
    try:
        store = ImageStore(final)
    except StoreDamaged as exc:  # just written and renamed: only a failing disk gets here
        raise DataError(f"the image store {final} just written does not read back ({exc}): check the disk, "
                        f"or choose another data.cache_dir") from None
    rows = [position[k] if k is not None else 0 for k in wanted]
    failed_list = [(i, stat_failed[i]) for i in sorted(stat_failed)]
    failed_list += [(i, failed[rows[i]]) for i in range(len(paths)) if i not in stat_failed and rows[i] in failed]
    failed_list.sort()
    return StoreResult(store, rows, failed_list, n - reused - len(failed), reused, time.perf_counter() - started, notes)
