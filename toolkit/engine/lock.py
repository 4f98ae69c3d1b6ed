"""One run per folder: a lock held by the process that writes a run folder, for as long as it runs.

Two `tk run` into one ``--out`` (or a ``--resume`` of a run that is still training) would mix
one run's ``recipe.toml`` with the other's ``best.pt``. The lock is an ``flock`` on
``<run folder>/.tk-run.lock``, inside the folder it protects: every process that writes the
folder meets the same file whatever its ``TK_CACHE_DIR`` or working directory, and on a network
folder (NFS turns ``flock`` into a byte-range lock the server knows) so does a process on another
machine. Taking the lock creates the folder (and its missing parents) when needed; releasing it
removes the lock file and every folder the lock created that is still empty, so a run refused or
failed before training leaves nothing behind. The kernel drops an ``flock`` when its process ends
in any way, so a killed run leaves a stale file but no lock; the file holds the owner's pid for
the message.

Why not the ``filelock`` package: it opens the lock file with ``O_TRUNC`` (a waiter wipes the
owner's pid) and leaves the file behind on release, or, when it is removed, does not re-check
that the name still points at the file it locked; both matter here (a message that names the
holder, a run folder with no litter).
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from ..core.errors import TkError

__all__ = ["FolderLock", "FolderBusy"]


class FolderBusy(TkError):
    """Another process holds the folder's lock."""


class FolderLock:
    """``with FolderLock(folder):`` — refuse (`FolderBusy`, one line) while another process holds it."""

    NAME = ".tk-run.lock"

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / self.NAME
        self._fd: int | None = None
        self._created: list[Path] = []

    def acquire(self) -> "FolderLock":
        try:
            self._created = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
            self.folder.mkdir(parents=True, exist_ok=True)
            while True:
                owner = self._owner()  # before opening: a waiter never writes the holder's file
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    os.close(fd)
                    if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        self._remove_created()
                        raise FolderBusy(f"{self.folder} is in use by another tk run{owner or self._owner()}; wait for "
                                         f"it to finish, or choose another --out folder.") from None
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
            self._remove_created()
            raise TkError(f"{self.path}: cannot create the lock of run folder {self.folder} "
                          f"({exc.strerror or exc}); choose a writable --out folder.") from None
        self._fd = fd
        return self

    @classmethod
    def busy(cls, folder: Path) -> str:
        """`` (process N)`` when a process holds ``folder``'s lock now (a run training there), else
        "" — a shared lock tried and let go at once, creating nothing."""
        path = Path(folder) / cls.NAME
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return ""
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return cls(Path(folder))._owner() or " (another process)"
        finally:
            os.close(fd)  # closing lets go of the shared lock, when it was taken
        return ""

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
        self._remove_created()

    def _remove_created(self) -> None:
        """Remove the folders `acquire` created, deepest first, where nothing else was put in them."""
        for folder in self._created:
            try:
                folder.rmdir()
            except OSError:
                break
        self._created = []

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
