"""`tk tune`: an Optuna study over a recipe's ``[tune]`` table, and its summary."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._trust import trust_plugins_option


@click.command()
@click.argument("recipe")
@click.option("--trials", type=click.IntRange(min=1), help="Trials this process runs (several processes may share a study).")
@click.option("--storage", metavar="URL|FILE",
              help="Optuna storage: a journal file (default <train.out>/<recipe>/tune.journal) or a database URL "
                   "such as postgresql://user@host/db shared by machines.")
@click.option("--study", "study_name", metavar="NAME", help="Study name (default: the recipe's name).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE", help="Override a recipe key in every trial.")
@click.option("--summary", is_flag=True, help="Print the best trials; write the best recipe and plots; run no trial.")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="With --summary: trials to list.")
@click.option("--progress", is_flag=True, help="Show each trial's own training progress.")
@trust_plugins_option
def tune(recipe: str, trials: int | None, storage: str | None, study_name: str | None, overrides: tuple[str, ...],
         summary: bool, top: int, progress: bool) -> None:
    """Search the hyperparameters in RECIPE's [tune] table with Optuna.

    \b
    Each trial is a normal run folder: <train.out>/<recipe>/tune-<study>/trial-<n>/.
    Start more workers on the same study by giving them the same --storage and --study.
    Then:  tk tune RECIPE --summary   (best trials, <recipe>_tuned.toml, history/importance PNGs)
    """
    from ..recipe.load import find_recipe

    path = find_recipe(recipe)
    if summary:
        _print_summary(path, list(overrides), storage, study_name, top)
        return
    if trials is None:
        raise click.UsageError("give --trials N (trials this process runs), or --summary.")
    from ..orchestrate.tune import run_trials

    try:
        study, outcomes = run_trials(path, list(overrides), trials=trials, storage=storage, study_name=study_name,
                                     quiet=not progress, echo=click.echo)
    except KeyboardInterrupt:
        click.echo("Interrupted: the running trial is recorded as failed in the study; run the same tk tune "
                   "command again to add trials (a study goes on by adding trials, not by resuming one).", err=True)
        sys.exit(130)
    finished = [o for o in outcomes if o.state == "finished"]
    pruned = len(outcomes) - len(finished)
    total = len(study.get_trials(deepcopy=False))
    click.echo(f"study '{study.study_name}': this process ran {len(outcomes)} trials ({len(finished)} finished, "
               f"{pruned} pruned); the study holds {total}. Summary: tk tune {recipe} --summary"
               + (f" --study {study_name}" if study_name else "") + (f" --storage {storage}" if storage else ""))


def _print_summary(path: Path, overrides: list[str], storage: str | None, study_name: str | None, top: int) -> None:
    from ..orchestrate.tune import summarize

    result = summarize(path, overrides, storage=storage, study_name=study_name, top=top)
    counts = result.counts
    click.echo(f"study '{result.study}' ({result.direction} {result.metric}): {counts['complete']} finished, "
               f"{counts['pruned']} pruned, {counts['fail']} failed, {counts['running']} running")
    for rank, row in enumerate(result.best, start=1):
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row["params"].items())
        ci = row.get("interval")
        interval = f" [{ci[0]:.3f}–{ci[1]:.3f}]" if ci else ""
        click.echo(f"{rank:>2}. trial {row['number']}: {result.metric}={row['value']:.4g}{interval}  {params}  "
                   f"{row['run_dir']}")
    if any(row.get("interval") for row in result.best):
        sizes = sorted({row["images"] for row in result.best if row.get("images")})
        on = f" on {sizes[0]} validation images" if len(sizes) == 1 else ""
        click.echo(f"In brackets: 95% intervals{on} (Wilson for accuracy; the run's bootstrap for macro-F1).")
    if result.overlapping:
        best = result.best[0]
        others = result.overlapping
        named = ", ".join(str(n) for n in others[:-1]) + (" and " if len(others) > 1 else "") + str(others[-1])
        runner = next(r for r in result.best if r["number"] == others[0])
        click.echo(f"The 95% interval of trial {best['number']} overlaps that of trial{'s' if len(others) > 1 else ''} "
                   f"{named}: their order may be chance. tk compare {best['run_dir']} {runner['run_dir']} tests "
                   f"two of them on the same images (McNemar).")
    click.echo(f"best recipe: {result.recipe_file}  (train it: tk run {result.recipe_file})")
    for kind, plot in result.plots.items():
        click.echo(f"{kind} plot: {plot}")
    for note in result.notes:
        click.echo(f"note: {note}")


for _param in tune.params:  # the shared option speaks of checkpoints; here the stored values are a study's
    if _param.name == "trust_plugins":
        _param.help = ("Import plugin modules that the study's stored --set overrides or trial values name (code "
                       "from whoever writes to the storage: only for storage you trust).")
