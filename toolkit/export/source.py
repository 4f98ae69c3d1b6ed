"""Which trained model a command means: the latest run, a run folder, or a checkpoint file.

`tk export`, `tk eval` and `tk bench` all start from "a run or a model". A run folder
(``runs/<recipe>/<n>/``) brings its ``best.pt`` and its ``split.json`` (the validation and test
images parity and accuracy are measured on); a bare checkpoint brings only itself. With no
path the most recent run under ``runs/`` is taken, so ``tk run x.toml && tk export`` is the
whole workflow.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import TkError

__all__ = ["ModelSource", "RUNS_ROOT", "latest_run", "latest_finished_run", "resolve_source", "is_run_dir", "run_label", "plugins_for_checkpoint", "choice_note"]

RUNS_ROOT = Path("runs")
"""Where runs live by default (``train.out``), relative to the working directory."""

_RUN_MARKERS = ("best.pt", "last.pt", "recipe.toml", "history.jsonl", "split.json")


def is_run_dir(path: Path) -> bool:
    """A folder that a run wrote (any of its usual files is there)."""
    return path.is_dir() and any((path / name).exists() for name in _RUN_MARKERS)


def _run_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if is_run_dir(p)]
    for sub in root.iterdir():
        if sub.is_dir() and not is_run_dir(sub):
            found.extend(p for p in sub.iterdir() if is_run_dir(p))
    return found


def _last_activity(run: Path) -> float:
    times = [(run / name).stat().st_mtime for name in _RUN_MARKERS if (run / name).exists()]
    return max(times, default=run.stat().st_mtime)


def latest_run(root: Path = RUNS_ROOT) -> Path:
    """The run folder under ``root`` written to most recently, or a `TkError` saying there is none."""
    runs = _run_dirs(root)
    if not runs:
        raise TkError(f"No runs under {root}/: train one with `tk run RECIPE`, or give a run folder or checkpoint.")
    return max(runs, key=_last_activity)


def _status(run: Path) -> tuple[str, int, int]:
    from ..engine.run import read_status

    return read_status(run) or ("no last.pt", 0, 0)


def latest_finished_run(root: Path = RUNS_ROOT) -> tuple[Path, str]:
    """The run a command without a path means: the most recent *finished* (or early-stopped) run
    with a best.pt, else the most recent run with one; ``(folder, sentence saying which and why)``."""
    runs = [r for r in _run_dirs(root) if (r / "best.pt").is_file()] or _run_dirs(root)
    if not runs:
        raise TkError(f"No runs under {root}/: train one with `tk run RECIPE`, or give a run folder or checkpoint.")
    runs.sort(key=_last_activity, reverse=True)
    # Newest first, reading each last.pt only until a finished one turns up (they can be large).
    run, status = next(((r, st) for r in runs if (st := _status(r))[0] in ("finished", "stopped")), (None, None))
    why = "the most recent finished run"
    if run is None:
        run, status, why = runs[0], _status(runs[0]), "the most recent run (none has finished)"
    state, epochs, planned = status
    what = f"{state}, {epochs} of {planned} epochs" if planned else state
    return run, f"Using {run} ({what}): {why}; name a run folder to choose another."


def run_label(run_dir: Path) -> str:
    """``runs/quickstart/3`` → ``quickstart-3``: the folder name exports of a run go to."""
    name = run_dir.resolve().name
    if re.fullmatch(r"\d+", name):
        return f"{run_dir.resolve().parent.name}-{name}"
    return name


def plugins_for_checkpoint(ckpt: dict[str, Any], origin: str = "the checkpoint") -> Any:
    """The plugins a checkpoint's recipe asked for: entry points, plus its ``[plugins]`` modules only
    where the user trusts them (`toolkit.plugin.manager.load_stored_plugins`)."""
    from ..plugin.manager import load_stored_plugins

    return load_stored_plugins(ckpt.get("recipe"), origin=origin, parts=ckpt.get("parts"))


def _safe_stem(text: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-")
    return stem or "model"


@dataclass
class ModelSource:
    """A checkpoint and what travels with it (its run folder and split, when it has one)."""

    checkpoint: Path
    run_dir: Path | None = None
    note: str = ""  # how it was chosen, when the user named none (said by the command)
    _ckpt: dict[str, Any] | None = field(default=None, repr=False)
    _split: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """Name of the exports folder: ``<recipe>-<n>`` for a run, else the checkpoint's folder and stem."""
        if self.run_dir is not None:
            return run_label(self.run_dir)
        return _safe_stem(f"{self.checkpoint.resolve().parent.name}-{self.checkpoint.stem}")

    @property
    def stem(self) -> str:
        """File stem of exported models: the recipe name (Xcode names the Core ML class after it)."""
        if self.run_dir is not None and re.fullmatch(r"\d+", self.run_dir.resolve().name):
            return _safe_stem(self.run_dir.resolve().parent.name)
        return _safe_stem(self.checkpoint.stem)

    # -- the checkpoint --------------------------------------------------------------------
    @property
    def ckpt(self) -> dict[str, Any]:
        if self._ckpt is None:
            from ..core.checkpoint import load_checkpoint

            self._ckpt = load_checkpoint(self.checkpoint)
        return self._ckpt

    def load_model(self, plugins: Any | None = None):
        """The trained `Classifier` (eval mode, CPU) and the checkpoint dict, built with ``plugins``
        (default: the ones its recipe asked for)."""
        from ..engine.checkpoint import load_model

        model, ckpt = load_model(self.checkpoint, plugins or plugins_for_checkpoint(self.ckpt, str(self.checkpoint)))
        self._ckpt = ckpt
        return model, ckpt

    @property
    def class_names(self) -> list[str]:
        return list(self.ckpt["class_names"])

    @property
    def model_info(self) -> dict[str, Any]:
        return dict(self.ckpt.get("model_info") or {})

    # -- the split -------------------------------------------------------------------------
    @property
    def split(self) -> dict[str, Any] | None:
        """The run's ``split.json``, or None for a checkpoint outside a run folder."""
        if self._split is None and self.run_dir is not None:
            path = self.run_dir / "split.json"
            if path.is_file():
                try:
                    self._split = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError) as exc:
                    raise TkError(f"{path}: cannot be read ({exc}); the run folder is damaged.") from None
        return self._split

    def samples(self, name: str) -> list[tuple[str, int]]:
        """``(path, label)`` of one split (``train``, ``val``, ``test``); empty without a split."""
        split = self.split or {}
        return [(str(p), int(label)) for p, label in split.get(name, [])]


def resolve_source(target: str | Path | None, *, runs_root: Path = RUNS_ROOT) -> ModelSource:
    """A run folder, a checkpoint file, or (None) the most recent run → `ModelSource`.

    Errors are one line: no such path, a run without ``best.pt``, a file that is not a
    checkpoint (an exported model is not something to export again).
    """
    if target is None:
        run, note = latest_finished_run(runs_root)
        source = _from_run_dir(run)
        source.note = note
        return source
    path = Path(target)
    if not path.exists():
        raise TkError(f"{path}: no such run folder or checkpoint file.")
    if path.is_dir() and path.suffix == "":
        if is_run_dir(path):
            return _from_run_dir(path)
        if _run_dirs(path):  # runs/, runs/<recipe>/ or a cross-validation folder: take its latest run, and say so
            run = latest_run(path)
            source = _from_run_dir(run)
            folds = [p for p in path.iterdir() if p.name.startswith("fold-") and is_run_dir(p)]
            what = (f"one fold's model of the {len(folds)}-fold cross-validation {path}" if folds
                    else f"the most recent run in {path}")
            source.note = f"Using {run}: {what}; name a run folder to choose another."
            return source
        raise TkError(f"{path}: not a run folder (no best.pt, recipe.toml or split.json in it).")
    if path.suffix == ".pt":
        parent = path.parent
        return ModelSource(checkpoint=path, run_dir=parent if (parent / "split.json").is_file() else None)
    raise TkError(f"{path}: expected a run folder or a checkpoint (.pt); this is an exported model, "
                  f"which is what `tk export` writes, not what it reads.")


def _from_run_dir(run: Path) -> ModelSource:
    best = run / "best.pt"
    if not best.is_file():
        hint = (f" The run has last.pt: export it with `tk export {run / 'last.pt'}`." if (run / "last.pt").is_file()
                else " Train (or resume) it until it saves one.")
        raise TkError(f"{run}: no best.pt in this run.{hint}")
    return ModelSource(checkpoint=best, run_dir=run)


def choice_note(target: str | Path | None) -> str:
    """What `resolve_source` says when ``target`` is a folder of runs (which run it took), else ""."""
    path = Path(target) if target is not None else None
    if path is None or not path.is_dir() or is_run_dir(path) or not _run_dirs(path):
        return ""
    try:
        return resolve_source(path).note
    except TkError:
        return ""
