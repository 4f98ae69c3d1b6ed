"""`tk tune --summary`: the best trials, the best recipe as TOML, and Optuna's plots as PNG.

The best recipe is rebuilt from the recipe file and the ``--set`` overrides the study was
started with (kept in the study's user attributes) plus the best trial's values, resolved
(every default spelt out) without the ``[tune]`` table, and with the paths in it made
absolute, so ``tk run <that file>`` trains the winner from anywhere.

Each listed trial carries the 95% interval of its value where one can be had (`trial_interval`):
a Wilson interval for an accuracy measured on the trial's validation images (their number from
its ``split.json``), the run's bootstrap interval for a macro-F1 that is the one ``metrics.json``
holds; ``Summary.overlapping`` names the listed trials whose interval overlaps the best's, whose
order may be chance.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.errors import TkError
from .space import TuneSpec
from .study import describe_storage, import_optuna, open_storage, open_study, refuse_stored_modules, tune_folder

__all__ = ["Summary", "summarize", "trial_interval"]


@dataclass
class Summary:
    """What `summarize` found and wrote."""

    study: str
    metric: str
    direction: str
    counts: dict[str, int]
    best: list[dict[str, Any]]  # number, value, state, params, run_dir — best first
    recipe_file: Path | None = None
    plots: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    overlapping: list[int] = field(default_factory=list)  # listed trials whose interval overlaps the best's


def _val_images(run_dir: Path) -> int | None:
    """How many validation images the trial's run scored (its split.json, else metrics.json)."""
    import json

    try:
        split = json.loads((run_dir / "split.json").read_text(encoding="utf-8"))
        if isinstance(split.get("val"), list) and split["val"]:
            return len(split["val"])
    except (OSError, ValueError, AttributeError):
        pass
    try:
        n = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8")).get("num_samples")
        return int(n) if isinstance(n, int) and n > 0 else None
    except (OSError, ValueError, AttributeError):
        return None


def trial_interval(metric: str, value: float, run_dir: str | Path) -> tuple[list[float] | None, int | None]:
    """``([low, high], images)``: the 95% interval of a trial's ``value`` of ``metric``, or None.

    An accuracy on validation images is a proportion: Wilson's interval over the trial's number
    of validation images (when the value is a whole count of them). A macro-F1 gets the run's
    own bootstrap interval (``metrics.json``) when that is the value. Losses and training
    figures get none.
    """
    import json

    from ...engine.metrics import wilson

    if not run_dir or "val" not in metric:
        return None, None
    run = Path(run_dir)
    n = _val_images(run)
    if metric.endswith("val_accuracy") and n:
        correct = round(value * n)
        if abs(value * n - correct) < 1e-6:
            return [round(v, 6) for v in wilson(correct, n)], n
        return None, n
    if metric.endswith("val_macro_f1"):
        try:
            metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
            if abs(float(metrics["macro_f1"]) - value) < 1e-9 and len(metrics["macro_f1_ci"]) == 2:
                return [float(v) for v in metrics["macro_f1_ci"]], n
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return None, n


def _absolute_paths(sections: dict[str, dict[str, Any]], base: Path) -> None:
    """Make recipe-relative paths absolute so the written recipe works from its new folder."""
    data = sections.get("data", {})
    for key in ("root", "cache_dir"):
        if isinstance(data.get(key), str):
            path = Path(data[key]).expanduser()
            data[key] = str(path if path.is_absolute() else (base / path).resolve())
    plugins = sections.get("plugins", {})
    plugins["modules"] = [str((base / m).resolve()) if (m.endswith(".py") and not Path(m).is_absolute()) else m
                          for m in plugins.get("modules", [])]


def summarize(recipe_path: Path, overrides: list[str], *, storage: str | None = None, study_name: str | None = None,
              top: int = 5) -> Summary:
    """Read the study, write ``<recipe>_tuned.toml`` and the plots into the study's folder."""
    from ...core.atomic import atomic_write
    from ...plugin.manager import load_plugins
    from ...recipe.load import dumps_toml, load_recipe

    optuna = import_optuna()
    recipe = load_recipe(recipe_path, overrides)
    name = study_name or recipe.name
    study = open_study(open_storage(storage, recipe, must_exist=True), name, TuneSpec([], "", ""), create=False)
    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    counts = {state.name.lower(): sum(t.state == state for t in trials)
              for state in (states.COMPLETE, states.PRUNED, states.FAIL, states.RUNNING)}
    direction = study.direction.name.lower()
    metric = study.user_attrs.get("tk_metric", "value")
    complete = [t for t in trials if t.state == states.COMPLETE and t.value is not None]
    if not complete:
        raise TkError(f"Study '{name}' has no finished trial yet ({counts['pruned']} pruned, {counts['fail']} failed, "
                      f"{counts['running']} running); run more with tk tune {recipe_path} --trials N.")
    complete.sort(key=lambda t: t.value, reverse=(direction == "maximize"))
    best_rows = [{"number": t.number, "value": t.value, "state": "finished", "params": dict(t.params),
                  "run_dir": t.user_attrs.get("run_dir", "")} for t in complete[:top]]
    for row in best_rows:
        row["interval"], row["images"] = trial_interval(metric, float(row["value"]), str(row["run_dir"] or ""))
    summary = Summary(name, metric, direction, counts, best_rows)
    first = best_rows[0]["interval"]
    if first:
        summary.overlapping = [r["number"] for r in best_rows[1:]
                               if r["interval"] and r["interval"][0] <= first[1] and first[0] <= r["interval"][1]]

    folder = tune_folder(recipe, name)
    folder.mkdir(parents=True, exist_ok=True)
    best = complete[0]
    # The study's --set overrides and the best trial's values are stored values, written by whoever can
    # write to the storage: checked like a checkpoint's stored recipe before anything is imported.
    origin = f"Study '{name}' in {describe_storage(storage, recipe)}"
    started_with = study.user_attrs.get("tk_overrides", [])
    if not isinstance(started_with, list) or not all(isinstance(s, str) for s in started_with):
        raise TkError(f"{origin}: its tk_overrides attribute is not a list of --set strings "
                      f"({str(started_with)[:80]!r}); it was not written by tk tune.")
    odd = [key for key in best.params if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_.]+", key)]
    if odd:
        raise TkError(f"{origin}: trial {best.number} has a parameter named {odd[0][:80]!r}, which is not a "
                      f"recipe key (section.key); it was not written by tk tune.")
    best_sets = TuneSpec([], "", "").overrides(dict(best.params))
    best_recipe = load_recipe(recipe_path, [*started_with, *overrides, *best_sets])
    refuse_stored_modules(recipe, best_recipe, origin=origin)
    plugins = load_plugins(best_recipe["plugins"]["modules"], base_dir=best_recipe.base_dir,
                           disable=best_recipe["plugins"]["disable"])
    best_recipe.validate(plugins)
    sections = best_recipe.resolved(plugins)
    sections.pop("tune", None)
    _absolute_paths(sections, best_recipe.base_dir)
    header = (f"# Best trial {best.number} of study '{name}': {metric} = {best.value:.6g} ({direction}).\n"
              f"# Written by `tk tune {recipe_path} --summary`; train it with `tk run` on this file.\n\n")
    summary.recipe_file = folder / f"{recipe.name}_tuned.toml"
    text = header + dumps_toml(sections)
    atomic_write(summary.recipe_file, lambda fh: fh.write(text.encode("utf-8")))
    _write_plots(study, folder, summary, len(complete))
    return summary


def _write_plots(study: Any, folder: Path, summary: Summary, n_complete: int) -> None:
    """Optimisation history always; parameter importance when it can be computed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    def save(kind: str, draw) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            ax = draw(study)
        figure = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        path = folder / f"{kind}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        summary.plots[kind] = path

    save("history", optuna_plots.plot_optimization_history)
    finished = [t for t in study.get_trials(deepcopy=False) if t.value is not None and t.state.name == "COMPLETE"]
    names = {k for t in finished for k in t.params}
    varied = [k for k in names if len({repr(t.params.get(k)) for t in finished}) > 1]
    if n_complete < 2 or not varied:
        summary.notes.append("parameter importance needs at least 2 finished trials with different values; skipped.")
        return
    if len(varied) < 2:  # the one parameter that varied has importance 1.0 by definition: nothing to plot
        summary.notes.append(f"parameter importance: only {varied[0]} took different values in the finished "
                             f"trials; skipped (no importance.png).")
        return
    try:
        save("importance", lambda s: optuna_plots.plot_param_importances(s, params=sorted(varied)))
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        summary.notes.append(f"parameter importance could not be computed ({exc}); skipped.")
