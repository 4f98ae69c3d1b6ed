"""Run folders: numbering, the unfinished-run guard, resume targets, and `RunInfo`.

A run lives in ``<train.out>/<recipe name>/<n>/`` (n = 1, 2, …, created atomically so two
runs started at once never share a folder) or in ``--out DIR``. Its ``last.pt`` records a
``status``; a folder whose latest run is still ``running`` (killed) or ``interrupted``
(Ctrl-C) is never silently abandoned: a new `tk run` of that recipe stops with a message
that names the run and the two ways on (``--resume`` or ``--fresh``).

`RunInfo` is the object event hooks receive (``tk_run_start``, ``tk_epoch_end`` …): where the
run is, what it trains, which process this is, and ``request_stop(reason)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import TkError

__all__ = ["RunInfo", "RUN_FILES", "run_numbers", "UnfinishedRunError", "UNFINISHED", "resolve_resume", "new_run_dir",
           "latest_run_dir", "read_status", "check_out_dir", "missing_folders", "discard_unstarted_run"]

RUN_FILES = ("recipe.toml", "split.json", "best.pt", "last.pt", "history.jsonl", "metrics.json", "curves.png",
             "confusion_matrix.png", "report.html", "bad_images.txt", "bench.json", "predictions.csv")
"""Files tk writes into a run folder (what ``--fresh`` on an ``--out`` folder replaces)."""

UNFINISHED = ("running", "interrupted")


class UnfinishedRunError(TkError):
    """The recipe's latest run did not finish; the user must choose to resume or start fresh."""


@dataclass
class RunInfo:
    """What event hooks see of a run (see `toolkit.plugin.hookspecs`)."""

    dir: Path
    recipe: Any
    class_names: list[str]
    rank: int = 0
    world_size: int = 1
    epoch: int = 0  # the epoch being trained (0-based); after the run, epochs completed
    device: str = "cpu"
    stop_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def request_stop(self, reason: str = "stopped by a plugin") -> None:
        """End training after the current epoch (the run's status becomes ``stopped``)."""
        if self.stop_reason is None:
            self.stop_reason = str(reason)


def read_status(run_dir: Path) -> tuple[str, int, int] | None:
    """``(status, epochs completed, epochs planned)`` from ``run_dir/last.pt``, or None without one."""
    from ..core.checkpoint import CheckpointError, load_checkpoint

    last = Path(run_dir) / "last.pt"
    if not last.is_file():
        return None
    try:
        ckpt = load_checkpoint(last)
    except CheckpointError:
        return ("unreadable", 0, 0)
    planned = int(((ckpt.get("recipe") or {}).get("train") or {}).get("epochs", 0))
    return str(ckpt.get("status", "running")), int(ckpt.get("epoch", 0)), planned


def run_numbers(base: Path) -> list[int]:
    """The numbers of the run folders under ``base`` (``runs/<recipe>/<n>``), ascending."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def latest_run_dir(base: Path) -> Path | None:
    """The highest-numbered run folder under ``base`` (``runs/<recipe>``), or None."""
    numbers = run_numbers(base)
    return base / str(numbers[-1]) if numbers else None


def new_run_dir(base: Path) -> Path:
    """Create and return ``base/<n>`` with n one above the highest existing number."""
    base.mkdir(parents=True, exist_ok=True)
    n = (run_numbers(base) or [0])[-1] + 1
    while True:
        path = base / str(n)
        try:
            path.mkdir()
            return path
        except FileExistsError:  # another run took this number a moment ago
            n += 1


def missing_folders(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet: what ``mkdir(parents=True)`` will create."""
    missing = []
    for folder in [Path(path), *Path(path).parents]:
        if folder.exists():
            break
        missing.append(folder)
    return missing


def discard_unstarted_run(run_dir: Path, created: list[Path]) -> None:
    """Undo a run that failed before its first checkpoint (a plugin refused its parameters, the
    model cannot take the image size): remove the files it wrote and the folders it created,
    so a refused recipe leaves nothing behind and the next run does not skip a number."""
    for name in ("recipe.toml", "split.json", "bad_images.txt", ".tk-run.lock"):  # the lock: see `FolderLock`
        try:
            (run_dir / name).unlink()
        except FileNotFoundError:
            pass
    for folder in sorted(created, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass


def _unfinished_message(run_dir: Path, status: tuple[str, int, int], recipe_arg: str, out_flag: str) -> str:
    state, done, planned = status
    how = "was interrupted" if state == "interrupted" else "did not finish (it was killed, or is still running elsewhere)"
    return (f"The latest run of this recipe, {run_dir}, {how} after epoch {done} of {planned}. "
            f"Resume it with `tk run {recipe_arg} --resume {run_dir}`, or start a new run with "
            f"`tk run {recipe_arg}{out_flag} --fresh`.")


def check_latest(base: Path, recipe_arg: str) -> None:
    """Raise `UnfinishedRunError` when the latest run under ``base`` is unfinished."""
    latest = latest_run_dir(base)
    if latest is None:
        return
    status = read_status(latest)
    if status is not None and status[0] in UNFINISHED:
        raise UnfinishedRunError(_unfinished_message(latest, status, recipe_arg, ""))


def check_out_dir(out: Path, recipe_arg: str, fresh: bool) -> None:
    """An ``--out`` folder that already holds a run is resumed or replaced, never mixed into."""
    status = read_status(out)
    if status is None:
        return
    if fresh:
        for name in RUN_FILES:
            try:
                (out / name).unlink()
            except FileNotFoundError:
                pass
        return
    if status[0] in UNFINISHED:
        raise UnfinishedRunError(_unfinished_message(out, status, recipe_arg, f" --out {out}"))
    raise TkError(f"{out} already holds a {status[0]} run; choose another --out folder, "
                  f"or pass --fresh to replace it.")


def resolve_resume(path: str | os.PathLike[str]) -> Path:
    """``--resume PATH``: a run folder (its ``last.pt``) or a checkpoint file."""
    p = Path(path)
    if p.is_dir():
        last = p / "last.pt"
        if not last.is_file():
            raise TkError(f"--resume {p}: this folder has no last.pt, so there is nothing to resume.")
        return last
    if p.is_file():
        return p
    raise TkError(f"--resume {p}: no such run folder or checkpoint file.")
