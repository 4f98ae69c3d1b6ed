"""Real failing filesystems for the fault suite: a full disk and a read-only folder.

A full disk is a small tmpfs mounted for the test and filled to the last byte; a read-only
folder is that tmpfs remounted read-only. Both need root (or CAP_SYS_ADMIN) and `mount`;
where they are not allowed the tests that need them skip, and the suite still covers the
same code paths by injecting the `OSError` at the write boundary (`os.replace`/`os.fsync`
of `atomic_write`). docs/reliability.md says which ran.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

FILLER = "filler.bin"


def can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "24m") -> Iterator[Path]:
    """Mount a fresh tmpfs of ``size`` on ``path`` for the block; skip the test where that is not allowed."""
    if not can_mount():
        pytest.skip("mounting a tmpfs needs root; the injected-error tests cover this path instead")
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the injected-error tests cover this path")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)


def fill(folder: Path) -> Path:
    """Write ``folder/filler.bin`` until the filesystem has not one byte left (ENOSPC)."""
    filler = folder / FILLER
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (1 << 20, 1 << 12, 1):
            block = b"\0" * chunk
            try:
                while True:
                    fh.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler


def is_small_tmpfs(folder: Path) -> bool:
    """The guard of the disk-filling plugin: only a test tmpfs (under 100 MB) is ever filled."""
    st = os.statvfs(folder)
    return st.f_blocks * st.f_frsize < 100 * 2**20
