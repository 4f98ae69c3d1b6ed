"""The image store's file (`toolkit.data.store` describes the layout): its format constants, row
keys and digests, and writing a new store — rows decoded by a thread pool straight into a
memory-mapped temporary file beside the store (or copied from an older store that has them),
then the header, index and trailer, flushed and renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from toolkit.core.errors import DataError
from toolkit.core.geometry import InputSpec
from toolkit.data.duplicates import FEATURE_BYTES, FEATURE_VERSION
from toolkit.data.images import ImageError

__all__ = ["STORE_VERSION", "row_key", "write_store"]

STORE_VERSION = 2
MAGIC = b"TKSTORE\0"
END = b"TKEND\0\0\0"
KEY_BYTES, HASH_BYTES, DIGEST_BYTES = 20, 8, 16
PAGE = 4096


def row_key(path: str, st: os.stat_result, hw: tuple[int, int], rule: str) -> bytes:
    """What identifies a decoded row: the file (path, size, mtime, ctime, inode) and the target."""
    ident = "\0".join([f"s{STORE_VERSION}", rule, f"{hw[0]}x{hw[1]}", str(st.st_size), str(st.st_mtime_ns),
                       str(st.st_ctime_ns), str(st.st_ino)])
    return hashlib.sha1(ident.encode() + b"\0" + os.fsencode(os.path.abspath(path))).digest()


def _blake(row: Any) -> bytes:
    return hashlib.blake2b(memoryview(row).cast("B"), digest_size=DIGEST_BYTES).digest()


def _digest(header: bytes, index: bytes) -> bytes:
    h = hashlib.blake2b(header, digest_size=DIGEST_BYTES)
    h.update(index)
    return h.digest()


def _decode_row(path: str, hw: tuple[int, int], rule: str):
    return _decode_row_and_features(path, hw, rule, features=False)[0]


def _decode_row_and_features(path: str, hw: tuple[int, int], rule: str, features: bool = True):
    """(3×H×W uint8 row, frame features or None): one decode (`toolkit.data.pixels.decode`)
    serves both where it can (`toolkit.data.duplicates.decode_features`)."""
    from toolkit.data.duplicates import decode_features
    from toolkit.data.pixels import decode

    row, img = decode(path, InputSpec.of(hw, rule), keep_original=True)
    return row, (decode_features(path, img, hw) if features else None)


def clear_stale_builds(folder: Path, keep: Path | None = None) -> None:
    """Remove the ``.build-*.tmp`` files of builds whose process is gone (killed: a store of a
    whole data set can be tens of GB). A build holds an exclusive ``flock`` on its file while it
    runs, which the kernel drops when the process ends in any way: a file whose lock can be taken
    is no one's. Called whenever stores are opened, not only when one is built."""
    import fcntl

    for p in folder.glob(".build-*.tmp"):
        if p == keep:
            continue
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a build still running holds it
            os.close(fd)
            continue
        with contextlib.suppress(OSError):
            p.unlink()
        os.close(fd)


def write_store(folder: Path, spec: InputSpec, keys: list[bytes], path_of: dict[bytes, str], best: Any,
                workers: int, on_progress: Callable[[int, int], None] | None) -> tuple[Path, dict, dict[int, str], int]:
    """Write the store of ``keys`` (sorted row keys; ``path_of`` names each key's file) into
    ``folder``: rows that ``best`` (an open `toolkit.data.store.ImageStore`, or None) holds intact
    are copied, the rest decoded. Returns (the store's path, its header, {row: why it failed},
    rows reused). Nothing but a complete store ever carries the final name."""
    hw, rule = spec.hw, spec.resize
    n = len(keys)
    header = {"version": STORE_VERSION, "n": n, "height": hw[0], "width": hw[1], "rule": rule,
              "feature_bytes": FEATURE_BYTES, "feature_version": FEATURE_VERSION,
              "paths": [os.path.abspath(path_of[k]) for k in keys], "created": time.time()}
    header_probe = json.dumps({**header, "data_offset": 0, "failed": {}}).encode()
    data_offset = -(-(16 + len(header_probe) + 64 + 16 * 8) // PAGE) * PAGE  # room for the failed list below
    tag = hashlib.sha1(b"".join(keys)).hexdigest()[:16]
    final = folder / f"{hw[0]}x{hw[1]}-{rule}-v{STORE_VERSION}-{tag}.tkstore"
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".build-", suffix=".tmp")
    tmp = Path(tmp_name)
    import fcntl

    held = os.open(tmp, os.O_RDONLY)  # this build's: held until it ends (`clear_stale_builds`)
    fcntl.flock(held, fcntl.LOCK_EX)
    clear_stale_builds(folder, keep=tmp)
    try:
        os.ftruncate(fd, data_offset + n * (3 * hw[0] * hw[1] + FEATURE_BYTES))
        os.close(fd)
        fd = -1
        failed, reused, index = _fill_rows(tmp, data_offset, hw, rule, keys, path_of, best, workers, on_progress)
        header.update(data_offset=data_offset, failed={str(j): r for j, r in failed.items()})
        _seal(tmp, header, index, data_offset + n * (3 * hw[0] * hw[1] + FEATURE_BYTES))
        os.replace(tmp, final)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    finally:
        os.close(held)
    return final, header, failed, reused


def _fill_rows(tmp: Path, data_offset: int, hw: tuple[int, int], rule: str, keys: list[bytes],
               path_of: dict[bytes, str], best: Any, workers: int,
               on_progress: Callable[[int, int], None] | None) -> tuple[dict[int, str], int, bytes]:
    """Decode (or copy from ``best``) every row and its frame features into the mapped file ``tmp``
    by a thread pool (PIL releases the GIL); returns ({row: why it failed}, rows reused, the index:
    keys, hashes, row digests, feature digests)."""
    import numpy as np

    from toolkit.data.duplicates import features_hash

    n = len(keys)
    row_bytes = 3 * hw[0] * hw[1]
    data = np.memmap(tmp, dtype=np.uint8, mode="r+", offset=data_offset, shape=(n, 3, *hw)) if n else None
    feats = (np.memmap(tmp, dtype=np.uint8, mode="r+", offset=data_offset + n * row_bytes,
                       shape=(n, FEATURE_BYTES)) if n else None)
    hashes = np.zeros(n, dtype="<u8")
    digests = [b""] * n
    feature_digests = [b""] * n
    failed: dict[int, str] = {}
    lend = best.index_of() if best is not None else {}
    reused = 0

    def work(j: int) -> tuple[str, str | None]:
        k = keys[j]
        if k in lend and lend[k] not in best.failed:
            r = lend[k]
            best.check_rows([r])
            row = best.repaired.get(r)
            data[j] = row if row is not None else best._map[r]  # type: ignore[index]
            feats[j] = best.features([r])[0]  # type: ignore[index]
            hashes[j] = best.hashes[r]
            digests[j] = _blake(data[j])  # type: ignore[index]
            feature_digests[j] = _blake(feats[j])  # type: ignore[index]
            return "reused", None
        try:
            data[j], feats[j] = _decode_row_and_features(path_of[k], hw, rule)  # type: ignore[index]
        except ImageError as exc:
            return "failed", exc.reason
        except Exception as exc:  # a decoder bug on one odd file must not end the run
            return "failed", f"cannot decode: {exc}".lower()
        hashes[j] = features_hash(feats[j])  # type: ignore[index]
        digests[j] = _blake(data[j])  # type: ignore[index]
        feature_digests[j] = _blake(feats[j])  # type: ignore[index]
        return "decoded", None

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="tk-store") if workers > 0 else None
    outcomes = pool.map(work, range(n)) if pool is not None else map(work, range(n))
    try:
        for j, (status, reason) in enumerate(outcomes):
            if status == "failed":
                failed[j] = reason or "cannot decode"
                data[j] = 0  # type: ignore[index]
                feats[j] = 0  # type: ignore[index]
                hashes[j] = 0
                digests[j] = _blake(data[j])  # type: ignore[index]
                feature_digests[j] = _blake(feats[j])  # type: ignore[index]
            elif status == "reused":
                reused += 1
            if on_progress is not None:
                on_progress(j + 1, n)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if data is not None:
        data.flush()
        feats.flush()  # type: ignore[union-attr]
        del data, feats
    return failed, reused, b"".join(keys) + hashes.tobytes() + b"".join(digests) + b"".join(feature_digests)


def _seal(tmp: Path, header: dict[str, Any], index: bytes, index_offset: int) -> None:
    """Write the header at the start of ``tmp`` and the index and trailer after its rows, then fsync."""
    header_bytes = json.dumps(header).encode()
    if 16 + len(header_bytes) > header["data_offset"]:
        raise DataError("internal error: the image store header outgrew its room")
    with open(tmp, "r+b") as fh:
        fh.write(MAGIC + len(header_bytes).to_bytes(8, "little") + header_bytes)
        fh.seek(index_offset)
        fh.write(index + _digest(header_bytes, index) + END)
        fh.flush()
        os.fsync(fh.fileno())
