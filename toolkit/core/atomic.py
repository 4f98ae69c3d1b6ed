"""Writes that matter are atomic: a temp file beside the target, flushed to disk, then renamed over it.

A run killed mid-write (SIGKILL, power loss, a full disk) leaves the previous file as it was
and, at worst, a ``.<name>.<random>.tmp`` that `remove_stale_temp_files` clears. Every layer of
tk and every plugin writes through `atomic_write` (`toolkit.atomic_write`).
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

from .errors import TkError

__all__ = ["WriteError", "atomic_write", "remove_stale_temp_files"]


class WriteError(TkError, OSError):
    """A write that failed (disk full, read-only folder, permission); the previous file is unchanged.

    Both an `OSError` (``errno``, ``strerror`` and ``filename`` are the original's, so callers
    may still word it their way) and a `TkError` (so, left alone, it reaches the user as one
    line naming the file instead of a traceback).
    """

    def __init__(self, path: Path, exc: OSError):
        reason = exc.strerror or str(exc)
        super().__init__(exc.errno, reason, str(path))
        self.message = f"Could not write {path}: {reason}. The previous file is unchanged."

    def __str__(self) -> str:
        return self.message


@functools.cache
def _umask() -> int:
    """The process umask (read once: reading it means setting it, which is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write) -> None:
    """Call ``write(file_object)`` on a temp file next to ``path``, fsync, then rename over ``path``.

    If anything fails (disk full, permission, a kill) the previous ``path`` is left as it was
    and the temp file is removed; a failing write raises `WriteError` (an `OSError` naming
    ``path`` that the CLI prints as one line).
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteError(path, exc) from exc
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a run's files should read like any other
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, TkError):
            raise WriteError(path, exc) from exc
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files `atomic_write` left in ``folder`` when a process was killed mid-write.

    A kill (SIGKILL, power loss) inside a write leaves ``.<name>.<random>.tmp`` beside the
    untouched target; the next run in that folder (resumed or started again) removes them, so
    repeated kills do not pile up checkpoint-sized litter. Only call this for a folder no other
    process writes to.
    """
    removed = []
    for tmp in Path(folder).glob(".*.tmp"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed
