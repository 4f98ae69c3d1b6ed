"""One run per folder: a lock held by the process that writes a run folder, for as long as it runs.

Two `tk run` into one ``--out`` (or a ``--resume`` of a run that is still training) would mix
one run's ``recipe.toml`` with the other's ``best.pt``. The lock is an ``flock`` on a small file
named after the folder's resolved path, under ``$TK_CACHE_DIR/locks`` (default
``~/.cache/tk/locks``): not in or beside the run folder, which is only created once the data is
ready and is removed again when a run fails before training, and which the lock must not
litter. The kernel drops an ``flock`` when its process ends in any way, so a killed run leaves
no stale lock; the file holds the owner's pid for the message and is removed on release.
Processes on other machines sharing a network folder do not see each other's locks.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from pathlib import Path

from ..errors import TkError

__all__ = ["FolderLock", "FolderBusy"]


class FolderBusy(TkError):
    """Another process holds the folder's lock."""


class FolderLock:
    """``with FolderLock(folder):`` — refuse (`FolderBusy`, one line) while another process holds it."""

    def __init__(self, folder: Path, lock_dir: Path | None = None):
        self.folder = Path(folder)
        where = os.fsencode(str(self.folder.resolve()))
        from .data_pipeline import default_cache_dir

        base = lock_dir or default_cache_dir() / "locks"
        self.path = base / f"{hashlib.sha1(where).hexdigest()}.lock"
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    os.close(fd)
                    if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise FolderBusy(f"{self.folder} is in use by another tk run{self._owner()}; wait for it to "
                                         f"finish, or choose another --out folder.") from None
                    raise
                # The previous owner may have removed the file between our open and our lock:
                # then we hold a lock on a name nobody else sees; take the one that is there.
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(self.path))
                except FileNotFoundError:
                    same = False
                if same:
                    break
                os.close(fd)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n{self.folder.resolve()}\n".encode(errors="surrogateescape"))
        except OSError as exc:
            raise TkError(f"{self.path}: cannot create the lock of run folder {self.folder} "
                          f"({exc.strerror or exc}); set TK_CACHE_DIR to a writable folder.") from None
        self._fd = fd
        return self

    def _owner(self) -> str:
        try:
            pid = self.path.read_text(errors="replace").split("\n", 1)[0].strip()
        except OSError:
            return ""
        return f" (process {pid})" if pid.isdigit() else ""

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding the lock: a waiter then re-checks the name
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
