"""Run an Optuna study over a recipe: storage, study, one tk run per trial, pruning.

Each trial is an ordinary run folder, ``<train.out>/<recipe>/tune-<study>/trial-<n>/``, made by
`toolkit.engine.train.run_recipe` with the trial's values applied as ``--set`` overrides, so
everything `tk` does with a run (resume, eval, export, report) works on a trial. A small
plugin, `PruningCallback`, is registered for that run only: at every epoch end it reports the
study's metric to Optuna and, when the pruner says so, asks the run to stop ("pruned").

Several `tk tune` processes share one study when given the same storage and study name: an
Optuna journal file (the default, ``<train.out>/<recipe>/tune.journal``; file locking makes it
safe for processes on one machine) or a database URL (``postgresql://…``, ``mysql://…``,
``sqlite:///…``) for processes on many machines. ``--trials N`` is the number of trials *this*
process runs, as in Optuna's ``optimize(n_trials=N)``.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ...core.errors import PluginError, RecipeError, TkError
from ...plugin.hookspecs import hookimpl
from .space import TuneSpec, parse_tune

__all__ = ["PruningCallback", "TrialOutcome", "open_storage", "open_study", "tune_folder", "default_storage",
           "describe_storage", "refuse_stored_modules", "import_optuna", "load_tune_recipe", "run_trials"]


def import_optuna():
    """Optuna, or one line saying how to install it (it is the ``tune`` extra)."""
    try:
        import optuna
    except ImportError:
        raise TkError("tk tune needs Optuna, which is not installed; install it with: pip install 'tk-train[tune]'.") from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # tk prints its own lines per trial and its errors
    return optuna


def tune_folder(recipe: Any, study_name: str) -> Path:
    """Where the trials of a study and its summary live."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", study_name):
        raise TkError(f"--study {study_name!r}: use letters, digits, '_', '-' and '.' only (it names a folder).")
    return Path(recipe["train"]["out"]) / recipe.name / f"tune-{study_name}"


def default_storage(recipe: Any) -> Path:
    """The journal file used when ``--storage`` is not given."""
    return Path(recipe["train"]["out"]) / recipe.name / "tune.journal"


def describe_storage(storage: str | None, recipe: Any) -> str:
    """The storage as an error message names it: the journal file, or the database URL without its password."""
    if storage and "://" in storage:
        return re.sub(r"(://[^/@:]*:)[^/@]*@", r"\1***@", storage)
    return str(Path(storage) if storage else default_storage(recipe))


def _journal_fault(path: Path) -> str | None:
    """Why Optuna could not replay the journal file ``path`` (one clause), or None when every line is
    a whole journal entry. A last line without its newline may be another worker's append in
    progress: it is read again a few times before the file is called cut short."""
    for attempt in range(3):
        fault = None
        with open(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.endswith(b"\n"):
                    fault = f"line {number}, the last, is cut short"
                    break
                try:
                    entry = json.loads(line)
                except ValueError:  # JSONDecodeError, UnicodeDecodeError
                    return f"line {number} is not JSON"
                if not isinstance(entry, dict) or not isinstance(entry.get("op_code"), int):
                    return f"line {number} is not a journal entry"
        if fault is None:
            return None
        if attempt < 2:
            time.sleep(0.2 * (attempt + 1))
    return fault


def _damaged(path: Path, why: str) -> TkError:
    return TkError(f"Tune journal {path} is damaged or not an Optuna journal ({why}); restore a good copy, or move "
                   f"it aside to start the study afresh. Nothing was written to it.")


def open_storage(storage: str | None, recipe: Any, *, must_exist: bool = False):
    """An Optuna storage: a database URL as given, else a journal file (path or default).

    ``must_exist`` (for reading a study) refuses to create a journal file that is not there. A
    journal file is read through first: one that is cut short (a full disk, a copy that did not
    finish) or is not a journal is refused in one line before anything is appended to it (Optuna
    would append after a cut-short line, damaging the file for good).
    """
    optuna = import_optuna()
    if storage and "://" in storage:
        try:
            return optuna.storages.RDBStorage(storage)
        except Exception as exc:  # sqlalchemy raises many types for a bad URL or an unreachable server
            raise TkError(f"--storage {describe_storage(storage, recipe)}: cannot open the database "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}).") from None
    from optuna.storages.journal import JournalFileBackend

    path = Path(storage) if storage else default_storage(recipe)
    if path.is_dir():
        raise TkError(f"--storage {path}: is a folder; give a journal file path or a database URL.")
    if path.exists() and not path.is_file():  # a FIFO or a device would block or never end
        raise TkError(f"--storage {path}: not a regular file; give a journal file path or a database URL.")
    if must_exist and not path.is_file():
        raise TkError(f"No tune journal at {path}; start a study with tk tune RECIPE --trials N "
                      f"(or pass the --storage it used).")
    try:
        if path.is_file():
            fault = _journal_fault(path)
            if fault is not None:
                raise _damaged(path, fault)
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise TkError(f"--storage {path}: cannot open the journal file ({exc.strerror or exc}).") from None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:  # entries Optuna cannot replay
        raise _damaged(path, f"an entry Optuna cannot replay: {type(exc).__name__}: {str(exc)[:100]}") from None


def refuse_stored_modules(own: Any, stored: Any, *, origin: str) -> None:
    """Refuse, in one line, a plugin module that ``stored`` (a recipe built from values a study holds:
    its ``--set`` overrides, a trial's parameters) names and the user's own recipe ``own`` does not,
    unless the user trusts stored modules for this command (``--trust-plugins``, `toolkit.plugin.manager`).

    A study's storage is written by whoever can write to it (a journal file handed over, a database
    shared by machines): what it holds is data, like a checkpoint's stored recipe, never code to run.
    """
    from ...plugin.manager import TRUST_ENV, _module_key, check_trusted

    mine = {_module_key(str(m), own.base_dir) for m in own["plugins"]["modules"]}
    for spec in stored["plugins"]["modules"]:
        key = _module_key(str(spec), stored.base_dir)
        if key in mine:
            continue
        try:
            check_trusted([key], origin=origin)
        except PluginError:
            raise PluginError(
                f"{origin} asks to import the plugin module {str(spec)!r} (through the --set overrides or trial "
                f"values it stores); tk never runs code named inside a tune study on its own say-so. If you trust "
                f"whoever writes to that storage, add --trust-plugins (or set {TRUST_ENV}=1), or name the module in "
                f"your own recipe's [plugins] modules.") from None


def open_study(storage: Any, name: str, spec: TuneSpec, *, create: bool = True):
    """Create the study or join the existing one (another worker may have just created it)."""
    optuna = import_optuna()
    if not create:
        try:
            return optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            raise TkError(f"No study '{name}' in this storage yet; start it with tk tune RECIPE --trials N.") from None
    if spec.sampler == "random":
        sampler = optuna.samplers.RandomSampler(seed=spec.seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=max(spec.startup_trials, 1))
    if spec.pruner == "median":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=spec.startup_trials, n_warmup_steps=spec.warmup_epochs)
    elif spec.pruner == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=max(spec.warmup_epochs, 1))
    else:
        pruner = optuna.pruners.NopPruner()
    study = optuna.create_study(storage=storage, study_name=name, direction=spec.direction, sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    wanted = optuna.study.StudyDirection.MAXIMIZE if spec.direction == "maximize" else optuna.study.StudyDirection.MINIMIZE
    if study.direction != wanted:
        raise TkError(f"Study '{name}' already exists and is set to {study.direction.name.lower()}, but the recipe "
                      f"says {spec.direction}; use another --study name.")
    return study


def load_tune_recipe(path: Path, overrides: list[str]):
    """The recipe, its plugins and its validated `TuneSpec` (every searched value checked)."""
    from ...plugin.manager import load_plugins
    from ...recipe.load import load_recipe

    recipe = load_recipe(path, overrides)
    plugins = load_plugins(recipe["plugins"]["modules"], base_dir=recipe.base_dir, disable=recipe["plugins"]["disable"])
    plugins.raise_if_broken()
    recipe.validate(plugins)

    def check(key: str, value: Any) -> None:
        probe = load_recipe(path, [*overrides, *TuneSpec([], "", "").overrides({key: value})])
        probe.validate(plugins)

    return recipe, plugins, parse_tune(recipe, check, plugins)


class PruningCallback:
    """A run plugin: reports the study metric each epoch and stops the run when Optuna prunes it."""

    def __init__(self, trial: Any, metric: str):
        self.trial = trial
        self.metric = metric
        self.values: list[float] = []
        self.pruned_at: int | None = None

    @hookimpl
    def tk_epoch_end(self, run, epoch, metrics):
        if self.metric not in metrics:
            numeric = sorted(k for k, v in metrics.items() if isinstance(v, (int, float)))
            raise RecipeError(f"tune.metric: '{self.metric}' is not reported by the run; "
                              f"choose one of {', '.join(numeric)}.")
        value = float(metrics[self.metric])
        self.values.append(value)
        if math.isfinite(value):
            self.trial.report(value, int(epoch))
        planned = int(run.recipe["train"]["epochs"]) if run.recipe is not None else None
        # Pruning after the last epoch saves nothing: the trial then simply finishes.
        if (planned is None or int(epoch) + 1 < planned) and self.trial.should_prune():
            self.pruned_at = int(epoch)  # 0-based, as Optuna counts steps
            run.request_stop("pruned")


@dataclass
class TrialOutcome:
    """What one trial did, for the line `tk tune` prints."""

    number: int
    state: str  # "finished", "pruned"
    value: float | None
    params: dict[str, Any]
    run_dir: Path | None


def run_trials(recipe_path: Path, overrides: list[str], *, trials: int, storage: str | None = None,
               study_name: str | None = None, quiet: bool = True,
               echo: Callable[[str], None] = print) -> tuple[Any, list[TrialOutcome]]:
    """Run ``trials`` trials of the study (creating or joining it); returns the study and outcomes."""
    from ...recipe.load import load_recipe

    optuna = import_optuna()
    recipe, _, spec = load_tune_recipe(recipe_path, overrides)
    from ...engine.train import run_recipe
    name = study_name or recipe.name
    folder = tune_folder(recipe, name)
    study = open_study(open_storage(storage, recipe), name, spec)
    origin = f"Study '{name}' in {describe_storage(storage, recipe)}"
    study.set_user_attr("tk_recipe", str(Path(recipe_path).resolve()))
    study.set_user_attr("tk_overrides", list(overrides))
    study.set_user_attr("tk_metric", spec.metric)
    outcomes: list[TrialOutcome] = []

    def objective(trial: Any) -> float:
        values = {p.key: p.suggest(trial) for p in spec.params}
        trial_recipe = load_recipe(recipe_path, [*overrides, *spec.overrides(values)])
        refuse_stored_modules(recipe, trial_recipe, origin=origin)  # values come from the study (enqueued trials)
        run_dir = folder / f"trial-{trial.number}"
        trial.set_user_attr("run_dir", str(run_dir.resolve()))
        shown = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
        echo(f"trial {trial.number}: {shown}")
        callback = PruningCallback(trial, spec.metric)
        result = run_recipe(trial_recipe, out=run_dir, quiet=quiet, extra_plugins=[("tk_tune_pruning", callback)],
                            resume_hint=False)  # a trial goes on through tk tune, not tk run --resume
        trial.set_user_attr("status", result.status)
        if result.status == "interrupted":  # Ctrl-C: Optuna records the trial as failed and stops
            raise KeyboardInterrupt
        final = result.metrics.get(spec.metric) if isinstance(result.metrics, dict) else None
        candidates = [v for v in callback.values if math.isfinite(v)]
        if callback.pruned_at is not None:
            outcomes.append(TrialOutcome(trial.number, "pruned", candidates[-1] if candidates else None, values, run_dir))
            done = callback.pruned_at + 1  # 1-based, as the run's epoch lines print it
            echo(f"trial {trial.number}: pruned after epoch {done} ({run_dir})")
            raise optuna.TrialPruned(f"pruned after epoch {done}")
        if candidates:
            value = max(candidates) if spec.direction == "maximize" else min(candidates)
        elif isinstance(final, (int, float)):
            value = float(final)
        else:
            raise TkError(f"Trial {trial.number} reported no '{spec.metric}' (run status {result.status}); see {run_dir}.")
        outcomes.append(TrialOutcome(trial.number, "finished", value, values, run_dir))
        echo(f"trial {trial.number}: {spec.metric}={value:.4g} ({result.status}) {run_dir}")
        return value

    try:
        study.optimize(objective, n_trials=trials, catch=())
    except ValueError as exc:  # Optuna: a parameter the study already has, with another distribution
        if "same parameter name" not in str(exc) and "dynamic value space" not in str(exc):
            raise
        raise TkError(f"{origin} already searched a key of this recipe's [tune] table with another range or other "
                      f"choices ({exc}); keep the [tune] table the study started with, or use another "
                      f"--study name.") from None
    return study, outcomes


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
