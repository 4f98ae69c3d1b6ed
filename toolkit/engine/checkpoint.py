"""Checkpoints: only tensors and plain data, written atomically, loaded with weights_only.

A checkpoint is a dict (`FORMAT` and `VERSION` mark it as ours) holding the model, optimiser,
scheduler, scaler and EMA state, the early-stopping state, epoch and step counters, every RNG
state, the history, the class names, model facts (backbone, image size, mean/std, resize
rule) and the resolved recipe. Loading uses ``torch.load(weights_only=True)``, so a file that
carries pickled code is refused instead of executed. Writes go to a temporary file in the same
folder, are flushed to disk, then renamed over the old file: a run killed mid-write leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import functools
import os
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ..errors import TkError

FORMAT = "tk-checkpoint"
VERSION = 1


class CheckpointError(TkError):
    """A file that is not a readable tk checkpoint."""


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


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus the format marker) atomically; a failed write is a `TkError`."""
    import torch

    import io

    path = Path(path)
    data = {"format": FORMAT, "version": VERSION, **payload}
    # Serialise in memory first: torch.save writing straight into a file that hits a full disk
    # fails deep in its zip writer with a RuntimeError ("unexpected pos") and a wall of chained
    # tracebacks; a plain write of the bytes fails with the OSError (ENOSPC) that names the file.
    buffer = io.BytesIO()
    torch.save(data, buffer)
    blob = buffer.getbuffer()
    try:
        atomic_write(path, lambda fh: fh.write(blob))
    except OSError as exc:
        raise TkError(f"Could not write checkpoint {path}: {exc.strerror or exc}. The previous file is unchanged.") from exc
    return path


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a tk checkpoint safely (``weights_only=True``) or raise a one-line `CheckpointError`."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file.")
    try:
        with warnings.catch_warnings():  # the file loads or is refused below, in one line: torch's warnings are noise
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused: the file holds Python objects other than tensors and plain data "
            f"(tk loads checkpoints with weights_only=True and never runs code from them)."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {str(exc)[:200]}).") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a tk checkpoint (no '{FORMAT}' marker).")
    if data.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: written by a newer tk (checkpoint version {data['version']}); upgrade tk.")
    return data


def load_model(path: str | Path, plugins: Any | None = None, map_location: Any = "cpu"):
    """Rebuild the trained `Classifier` from a checkpoint: ``(model in eval mode, checkpoint)``."""
    from ..plugins import load_stored_plugins
    from .model import build_model

    ckpt = load_checkpoint(path, map_location)
    recipe = ckpt["recipe"]
    if plugins is None:  # its [plugins] modules are imported only if the user trusts them
        plugins = load_stored_plugins(recipe, origin=str(path))
    model = build_model(recipe, plugins, len(ckpt["class_names"]), for_loading=True)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt
