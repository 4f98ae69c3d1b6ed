"""`run_recipe`: the public entry point of the engine (`tk run`, `tk tune`, benchmarks, tests).

Order matters and is part of the contract: everything that can be checked without data is
checked first (plugins load and none is broken, the recipe validates against the
registries, the device and precision exist, the run folder is free or resumable), so a typo
fails in a second. Then the data is scanned, checked, split and decoded; only then is a run
folder created and filled (``recipe.toml``, ``split.json``, ``bad_images.txt``), the
`Trainer` runs the epochs, and rank 0 evaluates ``best.pt`` and writes the report.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..core.errors import TkError
from ..core.text import first_line

__all__ = ["RunResult", "run_recipe", "load_run_plugins"]


@dataclass
class RunResult:
    """What a run left: its folder, final status and the metrics of best.pt."""

    run_dir: Path
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)


def load_run_plugins(recipe: Any, extra_plugins: Iterable[tuple[str, Any]] = (), *,
                     origin: str | None = None, reads_data: bool = True, parts: Any = None) -> Any:
    """Plugins for a run: load, refuse broken ones, validate the recipe against them.

    ``origin``: the checkpoint ``recipe`` was read from when it is not the user's (a resumed run);
    its modules are then imported only where trusted (`toolkit.plugin.manager.check_trusted`).
    ``parts``: the resumed checkpoint's record of which plugin provided each part, so that one
    missing here is named with its package (`Plugins.expect`).
    ``reads_data``: a run about to read data also checks, after the recipe's own checks, that the
    data folder is there (before the backbone's check, which loads torch) and what the machine
    must provide (`preflight`: pretrained weights cached or the hub reachable), so neither fails
    after the data was read; `tk recipes check` checks the recipe alone."""
    from ..core.errors import RecipeError
    from ..plugin.manager import load_plugins
    from .components import check_metric_keys, preflight
    from .data_pipeline import check_data_root

    plugins = load_plugins(recipe["plugins"]["modules"], base_dir=recipe.base_for("plugins", "modules"),
                           disable=recipe["plugins"]["disable"], extra=list(extra_plugins), origin=origin)
    plugins.expect(parts)
    plugins.raise_if_broken()

    def before_model() -> None:
        check_metric_keys(recipe, plugins)
        if reads_data:
            check_data_root(recipe, plugins)

    try:
        recipe.validate(plugins, before_model=before_model)
    except RecipeError as exc:  # a resumed run's plugin changed since: that is likely why
        changed = plugins.changed_since(parts)
        if not changed:
            raise
        raise RecipeError(f"{exc} ({'; '.join(changed)}.)") from exc
    if reads_data:
        preflight(recipe, plugins)
    return plugins


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a scheduler, `kill`) is handled like Ctrl-C: mark last.pt, exit resumable."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _recipe_arg(recipe: Any) -> str:
    """How to name the recipe in a suggested command: a bundled name, else its path, followed by
    the ``--set`` overrides it was loaded with, so that the suggested ``tk run … --resume`` loads
    the same recipe the run has (shell-quoted; `_launch_args` adds ``--nproc``)."""
    import shlex

    from ..recipe.load import RECIPE_DIRS

    path = recipe.path
    name = "RECIPE" if path is None else str(path)
    for folder in RECIPE_DIRS if path is not None else ():
        with contextlib.suppress(OSError):
            if path.resolve() == (folder / path.name).resolve() and path.suffix == ".toml":
                name = path.stem
    words = [name, *recipe.override_args()]
    return " ".join(shlex.quote(w) for w in words)


def _launch_args() -> str:
    """`` --nproc N`` for a suggested command when this run has N processes on one machine."""
    from .distributed import DistEnv

    env = DistEnv.from_environ()
    if env.distributed and int(os.environ.get("LOCAL_WORLD_SIZE", env.world_size)) == env.world_size:
        return f" --nproc {env.world_size}"
    return ""


def run_recipe(recipe: Any, *, out: Path | None = None, resume: Path | None = None, fresh: bool = False,
               quiet: bool = False, extra_plugins: Iterable[tuple[str, Any]] = (), resume_hint: bool = True) -> RunResult:
    """Train ``recipe`` into a run folder; see the module docstring for the order of things.

    ``out`` is the run folder itself (default ``<train.out>/<recipe name>/<n>``); ``resume`` a
    run folder or checkpoint to continue; ``fresh`` starts a new run even when the latest one
    is unfinished; ``extra_plugins`` are ``(name, object)`` pairs whose event hooks join this
    run. Raises `TkError` subclasses for everything a user can fix. Returns with status
    ``interrupted`` after Ctrl-C/SIGTERM (``last.pt`` then says so and can be resumed; the
    message says how unless ``resume_hint`` is false, for callers with their own way on, `tk tune`).
    """
    from ..plugin.manager import trusting

    # The recipe the user gave is theirs: its plugin modules may also be imported where a stored
    # recipe (a resumed checkpoint, a distillation teacher) names the same ones.
    with trusting(modules=recipe["plugins"]["modules"], base_dir=recipe.base_for("plugins", "modules")):
        return _run_recipe(recipe, out, resume, fresh, quiet, extra_plugins, resume_hint)


def _run_recipe(recipe: Any, out: Path | None, resume: Path | None, fresh: bool, quiet: bool,
                extra_plugins: Iterable[tuple[str, Any]], resume_hint: bool = True) -> RunResult:
    from .console import RunConsole
    from .device import describe_device, pick_device, pick_precision, setup_threads
    from .distributed import DistEnv
    from .lock import FolderLock
    from .resume import resolved_sections, resumed_recipe
    from .run import resolve_resume

    env = DistEnv.from_environ()
    console = RunConsole(quiet=quiet, enabled=env.is_main)
    extra_plugins = list(extra_plugins)
    recipe_arg = _recipe_arg(recipe)
    stored, ckpt_path = None, None
    if resume is not None:  # a part whose plugin is not installed here is named with its package
        from ..core.checkpoint import stored_parts

        ckpt_path = resolve_resume(resume)
        stored = stored_parts(ckpt_path)
    plugins = load_run_plugins(recipe, extra_plugins, reads_data=resume is None, parts=stored)  # resumed: the run's own data
    held = contextlib.ExitStack()  # the run folder's lock (rank 0), released on any exit

    with held:
        start = None
        notes: list[str] = []
        if resume is not None:
            from ..core.checkpoint import load_checkpoint

            if env.is_main:
                held.enter_context(FolderLock(ckpt_path.parent))
            start = load_checkpoint(ckpt_path)
            recipe, notes = resumed_recipe(start, recipe, plugins)
            plugins = load_run_plugins(recipe, extra_plugins, origin=str(ckpt_path), parts=start.get("parts"))
            notes += [f"{line}: the resumed run may not repeat what it would have done."
                      for line in plugins.changed_since(start.get("parts"))]
            _check_resumable(start, recipe, ckpt_path)
            run_dir = ckpt_path.parent
        device = pick_device(recipe["train"]["device"], env.local_rank)
        precision = pick_precision(recipe["train"]["amp"], device)
        threads = setup_threads(device, recipe["train"]["threads"])
        if start is not None and not threads[2]:
            threads = (threads[0], "the count the run started with: the resumed run stays bit-identical", False)
        notes += _thread_notes(recipe, threads, resuming=start is not None)
        if not threads[2]:  # the count is part of the result: recorded in recipe.toml and last.pt, kept on resume
            recipe["train"]["threads"] = threads[0]
        env.init(device)
        try:
            numbered = False
            if resume is None:
                run_dir, numbered = _choose_run_dir(recipe, out, fresh, recipe_arg, env, held)
            with _sigterm_as_interrupt():
                return _run(recipe, plugins, env, console, device, precision, (run_dir, numbered, held), start,
                            notes, resolved_sections(recipe, plugins), recipe_arg, (describe_device(device), threads),
                            resume_hint)
        except RuntimeError as exc:
            if env.distributed and not env.is_main:  # usually a collective broken by another process's failure
                first = first_line(exc, 200)
                raise TkError(f"Process rank {env.rank} stopped: {type(exc).__name__}: {first} (usually because "
                              f"another process of the run failed; see its message).") from exc
            raise
        finally:
            env.shutdown()


def _check_resumable(ckpt: dict[str, Any], recipe: Any, path: Path) -> None:
    done, epochs, status = int(ckpt["epoch"]), int(recipe["train"]["epochs"]), ckpt.get("status")
    planned = int(ckpt["recipe"]["train"]["epochs"])
    if epochs <= planned and _trained_but_unreported(ckpt, path):
        return  # resuming writes only the final last.pt and the report
    if status in ("finished", "stopped") and epochs <= planned:
        raise TkError(f"--resume {path}: that run is already {status} ({done} of {planned} epochs); to train it "
                      f"longer, raise the epochs, e.g. --set train.epochs={max(done, planned) + 10}.")
    if done >= epochs:
        raise TkError(f"--resume {path}: the run has already trained {done} epochs and train.epochs is {epochs}; "
                      f"raise it, e.g. --set train.epochs={done + 10}.")


def _trained_but_unreported(ckpt: dict[str, Any], path: Path) -> bool:
    """Every epoch ran (or early stopping ended the run) but report.html, written last, is missing.

    Such a run was killed during its final save or its report; refusing to resume it would
    leave it without metrics, plots and report for good, so resuming finishes those instead.
    """
    planned = int(ckpt["recipe"]["train"]["epochs"])
    from .setup import callback_states

    stopped = bool((callback_states(ckpt).get("early_stopping") or {}).get("stopped"))
    trained = ckpt.get("status") in ("finished", "stopped") or int(ckpt["epoch"]) >= planned or stopped
    return trained and not (path.parent / "report.html").is_file()


def _thread_notes(recipe: Any, threads: tuple[int, str, bool], *, resuming: bool) -> list[str]:
    """What a user must know about the thread count: a resumed adaptive run does not repeat, and a
    recorded count above the cores there are now is kept (slower, but the same sums)."""
    from ..core.threads import available_cores

    if threads[2]:
        return ["train.threads = \"adaptive\": the thread count follows the load, so this run's result depends on "
                "what else the machine does and a resumed run will not match an uninterrupted one"] if resuming else []
    cores, _ = available_cores()
    if resuming and threads[0] > cores:
        return [f"the run trained with {threads[0]} threads and this machine gives {cores} core"
                f"{'s' if cores != 1 else ''}: keeping {threads[0]} so that the resumed run stays bit-identical "
                f"(slower)"]
    return []


def _refuse_out_inside_data(recipe: Any, folder: Path, what: str) -> None:
    """A run folder inside ``data.root`` would make its plots and reports training images of a class."""
    from .data_pipeline import data_root

    root = data_root(recipe)
    if root is None:
        return
    try:
        inside = folder.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):
        return
    if inside:
        raise TkError(f"{what} {folder} is inside the data folder {root}: the run's plots and reports would "
                      f"become training images. Choose a folder outside it.")


def _choose_run_dir(recipe: Any, out: Path | None, fresh: bool, recipe_arg: str, env: Any,
                    held: contextlib.ExitStack) -> tuple[Path, bool]:
    """Rank 0 checks the folder is free (before any data is read) and names it; others follow.

    Returns ``(folder, numbered)``: with ``numbered`` the run goes into a new ``<folder>/<n>``,
    created only once the data is ready, so a failed scan leaves no empty run folder behind.
    """
    from .lock import FolderLock
    from .run import check_latest, check_out_dir

    chosen: str | None = None
    if env.is_main:
        _refuse_out_inside_data(recipe, Path(out) if out is not None else Path(recipe["train"]["out"]),
                                "--out" if out is not None else f"{recipe.where('train', 'out')}train.out")
        if out is not None:
            if Path(out).exists() and not Path(out).is_dir():
                raise TkError(f"--out {out}: that is a file; give a folder for the run (it is created if missing).")
            held.enter_context(FolderLock(Path(out)))  # before --fresh clears it, and until the run ends
            check_out_dir(Path(out), recipe_arg, fresh)
            chosen = str(Path(out))
        else:
            base = Path(recipe["train"]["out"]) / recipe.name
            if not fresh:
                check_latest(base, recipe_arg)
            chosen = str(base)
    return Path(env.broadcast_object(chosen)), out is None


def _run(recipe: Any, plugins: Any, env: Any, console: Any, device: Any, precision: Any, where: tuple[Any, ...],
         start: dict[str, Any] | None, notes: list[str], resolved: dict[str, Any], recipe_arg: str,
         device_facts: tuple[str, tuple[int, str, bool]], resume_hint: bool = True) -> RunResult:
    from .calibrate import unknown_images
    from .data_pipeline import prepare_data
    from .finalize import final_metrics
    from .lock import FolderLock
    from .run import RunInfo, discard_unstarted_run, missing_folders, new_run_dir
    from .run_text import declared_text, print_header, print_result
    from .trainer import Trainer

    resuming = start is not None
    run_dir, numbered, held = where
    device_text, threads = device_facts
    for note in notes:
        console.info(f"Note: {note}")
    saved_split = json.loads((run_dir / "split.json").read_text()) if resuming else None
    if env.distributed and not env.is_main:
        # Rank 0 scans, fills the image store and splits first; the others take its split as
        # a resumed run takes its split.json: one split for all, whatever changed in the folder
        # meanwhile, and no scikit-learn in their memory.
        saved_split = env.broadcast_object(None)
    data = prepare_data(recipe, plugins, saved_split=saved_split, progress=console.stage("decoding images"))
    unknown_images(recipe)  # a wrong data.unknown_root is refused now, not after the last epoch
    if env.distributed and env.is_main:
        env.broadcast_object(data.split_json())
    created = missing_folders(run_dir) if env.is_main and not resuming else []
    if env.is_main and numbered:
        run_dir = new_run_dir(run_dir)
        created.append(run_dir)
        held.enter_context(FolderLock(run_dir))
    run_dir = Path(env.broadcast_object(str(run_dir)))
    if env.is_main:
        _prepare_run_dir(run_dir, resolved, data, resuming)
    print_header(console, recipe, data, run_dir, device_text, precision, start)
    from ..core.threads import wait_policy_text

    console.info(f"Threads: {threads[0]} ({threads[1]}); {wait_policy_text()}")
    run = RunInfo(dir=run_dir, recipe=recipe, class_names=list(data.class_names), rank=env.rank,
                  world_size=env.world_size, epoch=int(start["epoch"]) if start else 0, device=device_text)
    try:  # building the parts runs every plugin factory: a refusal here must leave no run folder
        loggers = _build_loggers(recipe, plugins, run_dir) if env.is_main else ()
        from .components import declared_metrics

        console.declared = tuple(declared_metrics(recipe, plugins))  # the epoch line shows them
        trainer = Trainer(recipe=recipe, resolved=resolved,
                          plugins=plugins, data=data, run=run, env=env, device=device, precision=precision,
                          console=console, recipe_path=str(recipe.path.resolve() if recipe.path else ""), start=start,
                          adapt_threads=threads[0] if threads[2] else 0, loggers=loggers)
    except BaseException:
        if env.is_main and not resuming:
            discard_unstarted_run(run_dir, created)
        raise
    try:
        status = trainer.fit()
    except BaseException:  # a TkError, a plugin's bug, out of memory: teardown always comes, so loggers
        trainer.teardown("failed")  # close their files and trackers mark their runs failed
        raise
    if status == "interrupted":
        trainer.teardown(status)
        how = f"; resume with: tk run {recipe_arg} --resume {run_dir}{_launch_args()}" if resume_hint else "."
        console.summary(f"Interrupted. {run_dir / 'last.pt'} holds epoch {trainer.last_saved_epoch}{how}")
        return RunResult(run_dir, status, {})
    try:
        metrics = final_metrics(trainer.finished(), status) if env.is_main else {}
    except KeyboardInterrupt:  # every epoch is saved; only the report is missing, and --resume writes it
        trainer.teardown("interrupted")
        console.summary(f"Interrupted while writing the report; {run_dir / 'last.pt'} holds all {trainer.epoch} "
                        f"epochs. Finish it with: tk run {recipe_arg} --resume {run_dir}{_launch_args()}")
        return RunResult(run_dir, "interrupted", {})
    trainer.teardown(status, metrics)
    if env.is_main:
        declared = declared_text(trainer.history, recipe, plugins, metrics["best_epoch"]) if metrics else ""
        print_result(console, run, status, metrics, epochs_done=trainer.epoch, declared=declared)
    # The other processes wait for rank 0's report, so that all tear the process group down
    # together: a rank leaving early could abort in gloo's teardown ("terminate called without
    # an active exception"), and torchrun then stopped rank 0 mid-report.
    env.barrier()
    return RunResult(run_dir, status, metrics)


def _prepare_run_dir(run_dir: Path, resolved: dict[str, Any], data: Any, resuming: bool) -> None:
    """The run folder (rank 0): stale temp files of a killed write removed; a new run's resolved
    recipe, split and bad-image list written atomically (a resumed run keeps its own)."""
    from ..core.atomic import atomic_write, remove_stale_temp_files
    from ..recipe.load import dumps_toml
    from .finalize import write_bad_images

    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(run_dir)  # a kill inside a write leaves one; resumed or started again, it goes
    header = f"# Resolved recipe of this run (every value used). Repeat it: tk run {run_dir}/recipe.toml\n"
    body = dumps_toml(resolved)
    path = run_dir / "recipe.toml"
    if resuming:  # the run's own recipe, but a resume may have changed what it may (train.epochs …)
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if path.read_text(encoding="utf-8").endswith(body):
                return
        header = (f"# Resolved recipe of this run (every value used, as last resumed: a straight run of it can differ\n"
                  f"# from the resumed one where a resume changed train.epochs or the schedule's length).\n"
                  f"# Repeat it: tk run {run_dir}/recipe.toml\n")
    text = header + body
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
    if resuming:  # a resumed run keeps its split and bad-image list
        return
    split_text = json.dumps(data.split_json(), indent=1)
    atomic_write(run_dir / "split.json", lambda fh: fh.write(split_text.encode("utf-8")))
    write_bad_images(run_dir, data.bad_images)


def _build_loggers(recipe: Any, plugins: Any, run_dir: Path) -> tuple[tuple[str, Any, str], ...]:
    """``train.loggers``, built: those that are callbacks as ``(name, callback, origin)`` for the
    trainer to place; tk 0.1/0.2-style objects with event-hook methods are registered for the run."""
    from ..plugin.callbacks import CALLBACK_METHODS

    out = []
    for name in recipe["train"]["loggers"]:
        logger = plugins.build("loggers", name, {}, where="train.loggers",
                               context={"run_dir": run_dir, "recipe": recipe})
        if any(callable(getattr(logger, m, None)) for m in CALLBACK_METHODS):
            out.append((name, logger, plugins.entry("loggers", name, "train.loggers").origin))
        else:
            plugins.add_run_plugin(logger, f"logger:{name}")
    return tuple(out)


