"""`tk run RECIPE`: train a recipe into a run folder (or check it with --dry-run)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._options import threads_value
from ._trust import trust_plugins_option

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C or SIGTERM (128 + SIGINT, the shell's convention)."""


@click.command(short_help="Train a recipe into a run folder (or check it: --dry-run).")
@click.argument("recipe")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override a recipe key (value read as TOML), e.g. --set train.epochs=3.")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder to write (default runs/<recipe>/<n>/).")
@click.option("--resume", type=click.Path(path_type=Path), metavar="PATH",
              help="Continue a run: its folder or a checkpoint (.pt). May raise train.epochs.")
@click.option("--fresh", is_flag=True, help="Start a new run even if the latest run of this recipe is unfinished.")
@click.option("--quiet", "-q", is_flag=True,
              help="Print only the per-epoch summary lines and the result. (Without it, output to a file or "
                   "pipe keeps the header but draws no progress bars.)")
@click.option("--dry-run", is_flag=True,
              help="Build everything, run one batch forward and backward, print shapes, loss, memory and time "
                   "estimates; write no run folder.")
@click.option("--folds", type=click.IntRange(min=2, max=100), default=None, metavar="K",
              help="Cross-validate: train K runs, each validating on one fold (stratified, near-duplicates kept "
                   "together); write fold-1..K, summary.json, oof_predictions.csv and label_issues.csv.")
@click.option("--threads", metavar="N", callback=threads_value, default=None,
              help="CPU threads for torch (shorthand for --set train.threads=N), fixed for the run so that it "
                   "repeats. Default: every core this process may use (CPU affinity, cgroup quota); "
                   "train.threads = \"adaptive\" follows the load instead.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Data-parallel: training processes on this machine (one per GPU; gloo on CPU), "
                   "started through torchrun.")
@click.option("--nnodes", default="1", show_default=True, metavar="N|MIN:MAX",
              help="Machines taking part (give the same command on each, with --rdzv-endpoint).")
@click.option("--rdzv-endpoint", metavar="HOST:PORT", help="Rendezvous of a multi-machine run (torchrun's).")
@click.option("--rdzv-id", metavar="ID", help="Job id shared by the machines of one run (default: tk).")
@trust_plugins_option
def run(recipe: str, overrides: tuple[str, ...], out: Path | None, resume: Path | None, fresh: bool, quiet: bool,
        dry_run: bool, folds: int | None, threads: int | None, nproc: int, nnodes: str, rdzv_endpoint: str | None, rdzv_id: str | None) -> None:
    """Train RECIPE (a .toml file or a bundled name such as `quickstart`).

    \b
    Writes runs/<recipe>/<n>/: recipe.toml, split.json, best.pt, last.pt, history.jsonl,
    metrics.json, curves.png, confusion_matrix.png, report.html (and bad_images.txt).
    A run whose latest try is unfinished is not restarted silently: pass --resume or --fresh.
    Ctrl-C saves last.pt and exits with status 130; resume with --resume RUN_FOLDER.
    --nproc N trains data-parallel in N processes (torchrun); `torchrun ... -m toolkit.cli run`
    works as well, on one machine or several.
    --folds K cross-validates (K runs under runs/<recipe>-cvK/<n>/); the same command with
    the same --out continues an interrupted cross-validation.
    """
    from ..core.errors import TkError
    from ..recipe.load import find_recipe, load_recipe

    if resume is not None and fresh:
        raise click.UsageError("--resume and --fresh contradict each other; pass one of them.")
    if dry_run and resume is not None:
        raise click.UsageError("--dry-run checks a new run; it cannot be combined with --resume.")
    if sys.stdout.isatty() and not quiet:  # importing torch and the plugins takes seconds: say so
        click.echo("Loading PyTorch, the plugins and the recipe…")
    if threads is not None:
        overrides = (*overrides, f"train.threads={threads}")
    if folds is not None:
        if resume is not None or dry_run or nproc > 1 or nnodes != "1":
            raise click.UsageError("--folds trains one process per fold; drop --resume/--dry-run/--nproc "
                                   "(continue a cross-validation with the same command and --out).")
        _cross_validate(find_recipe(recipe), overrides, folds, out, quiet)
        return
    loaded = load_recipe(find_recipe(recipe), overrides)
    if nproc > 1 or nnodes != "1" or rdzv_endpoint:
        if dry_run:
            raise click.UsageError("--dry-run checks one process; drop --nproc/--nnodes.")
        from ..orchestrate.launch import forward_args, launch, precheck

        before = _run_folders(loaded, out, resume)
        try:
            launch(forward_args(click.get_current_context()), nproc=nproc, nnodes=nnodes,
                   rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id, echo=click.echo, run=_run_in_worker,
                   check=lambda: precheck(loaded, out=out, resume=resume, fresh=fresh, recipe_arg=recipe))
        except TkError as exc:
            hint = _distributed_resume_hint(loaded, out, resume, before, nproc) if nnodes == "1" else ""
            raise TkError(f"{exc}{hint}") from None
        return
    try:
        if dry_run:
            _dry_run(loaded)
            return
        from ..orchestrate.workflow import run_and_ship

        result = run_and_ship(loaded, out=out, resume=resume, fresh=fresh, quiet=quiet, log=click.echo)
    except KeyboardInterrupt:
        from ..orchestrate.launch import under_launcher

        if not under_launcher():  # a worker's launcher says where the run stands (`_distributed_resume_hint`)
            click.echo("Interrupted before training started; no run to resume.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except TkError as exc:  # a plugin's or the data's complaint about a key: say which file it is in
        located = loaded.locate(str(exc))
        if located == str(exc):
            raise
        raise TkError(located) from exc  # the cause stays for `tk --debug`
    code = EXIT_INTERRUPTED if result.status == "interrupted" else 0
    import multiprocessing

    from ..orchestrate.launch import under_launcher

    # A worker forked by `launch` is a multiprocessing child: it must return (its launcher waits
    # for the return value), and multiprocessing then ends it without the interpreter's teardown.
    if under_launcher() and multiprocessing.parent_process() is None:
        _leave_worker(code)
    if code:
        sys.exit(code)


def _run_folders(recipe, out: Path | None, resume: Path | None) -> set[Path]:
    """The run folders a distributed run may write: the one named, else the recipe's numbered ones."""
    from ..engine.run import run_numbers

    if out is not None:
        return {Path(out)}
    if resume is not None:
        return {Path(resume) if Path(resume).is_dir() else Path(resume).parent}
    base = Path(recipe["train"]["out"]) / recipe.name
    return {base / str(n) for n in run_numbers(base)}


def _distributed_resume_hint(recipe, out: Path | None, resume: Path | None, before: set[Path], nproc: int) -> str:
    """After a failed distributed run: where its last.pt stands and the command that resumes it."""
    import shlex

    from ..engine.run import read_status

    candidates = _run_folders(recipe, out, resume)
    if out is None and resume is None:
        candidates -= before  # the numbered folder this run created
    for folder in sorted(candidates, key=lambda p: p.name):
        status = read_status(folder)
        if status is None or status[1] < 1 or status[0] == "unreadable":
            continue
        words = [str(recipe.path), *recipe.override_args(), "--resume", str(folder), "--nproc", str(nproc)]
        return (f" {folder / 'last.pt'} holds epoch {status[1]} of {status[2]}; resume with: tk run "
                f"{' '.join(shlex.quote(w) for w in words)}")
    return ""


def _cross_validate(recipe_path, overrides: tuple[str, ...], folds: int, out: Path | None, quiet: bool) -> None:
    from ..orchestrate.crossval import run_folds, summary_lines

    try:
        result = run_folds(recipe_path, overrides, folds, out=out, quiet=quiet, log=click.echo)
    except KeyboardInterrupt:
        click.echo("Interrupted; run the same command with --out to go on.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if result.status == "interrupted":
        sys.exit(EXIT_INTERRUPTED)
    for line in summary_lines(result.summary):
        click.echo(line)
    click.echo(f"Cross-validation folder: {result.out}")


def _run_in_worker(tk_args: list[str]) -> None:
    """``tk run <tk_args>`` in a worker forked by `toolkit.orchestrate.launch.launch`."""
    from . import main

    main(["run", *tk_args])


def _leave_worker(code: int) -> None:
    """End a torchrun worker whose run is complete without the interpreter's teardown.

    The process group is already destroyed, every file written and closed; what is left is the
    C++ static destructors of torch's distributed backends, which can abort a finished worker
    ("terminate called without an active exception", status -6), after which torchrun reports
    the whole run as failed. The run is done, so leave at once, output flushed.
    """
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _how_sure(facts: dict) -> str:
    """How far to trust the dry run's estimate, in words."""
    n = facts["timed_steps"]
    if facts["confidence"] >= 0.95:
        sure = f"95% interval on the median of {n} timed steps"
    else:
        sure = f"rough: the fastest and slowest of only {n} timed steps"
    low, high = facts["step_time_range"]
    if high > 2 * low:  # steps that vary this much: the machine is busy, or the data loading varies
        sure += "; steps varied over 2×, so a busy machine may stretch it"
    return sure


def _dry_run(recipe) -> None:
    from ..engine.console import RunConsole, format_seconds
    from ..engine.dry_run import dry_run

    console = RunConsole()
    facts = dry_run(recipe, progress=console.stage("decoding images"))
    echo = click.echo
    echo(f"Dry run of {recipe.path}: {facts['model']} ({facts['params']:,} parameters) on {facts['device']}, "
         f"precision {facts['precision']}")
    from ..core.threads import wait_policy_text
    from ..engine.model import FROM_SCRATCH_NOTE, trains_from_scratch

    if trains_from_scratch(recipe["model"]):  # what `tk run` would say in its header
        echo(FROM_SCRATCH_NOTE)
    echo(f"Threads: {facts['threads']} ({facts['threads_why']}); {wait_policy_text()}")
    echo("Classes (train / val images):")
    for name, n, v in zip(facts["class_names"], facts["train_counts"], facts["val_counts"]):
        echo(f"  {name:<40} {n:>6} {v:>6}")
    if facts["test_size"]:
        echo(f"Test split: {facts['test_size']} images")
    from ..engine.data_pipeline import grouping_text

    echo(f"Split: {grouping_text(facts['grouping'])}")
    from ..core.text import shown

    for path, reason in facts["bad_images"]:
        echo(f"Bad image (left out): {shown(path)}: {reason}")
    for note in facts["notes"]:
        echo(f"Note: {note}")
    echo(f"Input batch: {' x '.join(str(s) for s in facts['input_shape'])} (float 0-1)")
    echo(f"Loss of one batch: {facts['loss']:.4f}; gradient norm: {facts['grad_norm']:.4f}")
    echo(f"Peak memory: {facts['peak_memory'] / 2**20:.0f} MiB ({facts['peak_memory_what']})")
    low, high = facts["step_time_range"]
    echo(f"Step time: {facts['step_time'] * 1000:.0f} ms ({low * 1000:.0f}–{high * 1000:.0f} ms), the median of "
         f"{facts['timed_steps']} timed steps after {facts['warmup_steps']} warm-up steps; {facts['train_batches']} "
         f"batches and {facts['steps_per_epoch']} optimiser steps per epoch")
    echo(f"Estimated time: about {format_seconds(facts['epoch_time'])} per epoch "
         f"({'–'.join(format_seconds(v) for v in facts['epoch_time_range'])}), about "
         f"{format_seconds(facts['run_time'])} for {facts['epochs']} epochs "
         f"({'–'.join(format_seconds(v) for v in facts['run_time_range'])}); {_how_sure(facts)}")
    echo("Nothing was written (no run folder); the image store may have been filled.")
