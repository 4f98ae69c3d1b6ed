"""The checkpoint format: only tensors and plain data, written atomically, loaded with weights_only.

A checkpoint is a dict (`FORMAT` and `VERSION` mark it as ours) holding the model, optimiser,
scheduler, scaler and EMA state, the early-stopping state, epoch and step counters, every RNG
state, the history, the class names, model facts (backbone, image size, mean/std, resize
rule) and the resolved recipe. Loading uses ``torch.load(weights_only=True)``, so a file that
carries pickled code is refused instead of executed. Writes go to a temporary file in the same
folder, are flushed to disk, then renamed over the old file: a run killed mid-write leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

from .atomic import atomic_write
from .errors import TkError

__all__ = ["FORMAT", "VERSION", "CheckpointError", "save_checkpoint", "load_checkpoint"]

FORMAT = "tk-checkpoint"
VERSION = 1


class CheckpointError(TkError):
    """A file that is not a readable tk checkpoint."""


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus the format marker) atomically; a failed write is a `TkError`."""
    import io

    import torch

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


def load_checkpoint(path: str | Path, map_location: Any = "cpu", *, mmap: bool = False) -> dict[str, Any]:
    """Read a tk checkpoint safely (``weights_only=True``) or raise a one-line `CheckpointError`.
    ``mmap``: map its tensors instead of reading them (a look at its other entries costs little)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file.")
    try:
        with warnings.catch_warnings():  # the file loads or is refused below, in one line: torch's warnings are noise
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
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


def stored_parts(path: str | Path) -> dict[str, Any] | None:
    """The plugins a checkpoint's run was made with (its ``parts``: kind → name → plugin,
    distribution, version), read without loading its tensors (memory-mapped); None when the file
    has none or cannot be read (loading it properly says why)."""
    try:
        parts = load_checkpoint(path, mmap=True).get("parts")
    except CheckpointError:  # a peek: the real load reports what is wrong
        return None
    return parts if isinstance(parts, dict) else None
