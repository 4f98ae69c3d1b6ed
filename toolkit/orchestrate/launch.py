"""`tk run --nproc N`: start N training processes through PyTorch's elastic launcher (torchrun).

tk does not re-implement process launching. It builds the very command line a user would give
``torchrun`` and hands it to torchrun's own parser and runner (`torch.distributed.run`'s
``parse_args`` and ``run``), in this process, to train ``python -m toolkit.cli run ...`` in
each worker:

* one machine: ``--standalone`` (a private rendezvous on a free local port, so several jobs
  on one machine never collide);
* several machines: ``--nnodes N --rdzv-backend c10d --rdzv-endpoint HOST:PORT --rdzv-id ID``,
  the same on every machine.

Why torchrun's runner in-process rather than ``subprocess.run(["torchrun", ...])``: the flags
and their meaning are torchrun's (so the printed equivalent command is exactly what one would
type for a cluster scheduler), while a failed worker reaches tk as torchrun's
``ChildFailedError``, which tk turns into one ``Error:`` line instead of the launcher's
multi-page report. Each worker then reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` and the engine
takes it from there (`toolkit.engine.distributed`); `tk run` started by ``torchrun`` directly
is the same code path.

On Linux the workers are not new interpreters but forks of this process (torchrun's own
``start_method="fork"`` for a Python entry point, `_worker`): torch, timm and tk are already
imported here, and a fork shares those pages copy-on-write instead of building them again in
each worker, which is most of what a worker holds apart from the data (`worker_start` says
when tk falls back to new interpreters). Rendezvous, environment, monitoring, failures and
signals are torchrun's either way.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import sys
from typing import Any

from ..core.errors import TkError

__all__ = ["LAUNCH_OPTIONS", "WORKER_START_ENV", "under_launcher", "worker_start", "torchrun_args", "forward_args",
           "launch", "equivalent_command", "precheck"]

LAUNCH_OPTIONS = ("nproc", "nnodes", "rdzv_endpoint", "rdzv_id")
"""`tk run` options that configure the launch; they are not passed on to the workers."""


def under_launcher() -> bool:
    """True inside a worker started by torchrun (or any launcher that sets ``WORLD_SIZE``)."""
    return "TORCHELASTIC_RUN_ID" in os.environ or "LOCAL_RANK" in os.environ or "WORLD_SIZE" in os.environ


def _check_nnodes(nnodes: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)(?::(\d+))?", nnodes.strip())
    if not match:
        raise TkError(f"--nnodes {nnodes}: expected a number of machines such as 2, or a range MIN:MAX such as 1:4.")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if not 1 <= low <= high:
        raise TkError(f"--nnodes {nnodes}: needs 1 <= MIN <= MAX.")
    return low, high


def torchrun_args(tk_args: list[str], *, nproc: int, nnodes: str = "1", rdzv_endpoint: str | None = None,
                  rdzv_id: str | None = None) -> list[str]:
    """torchrun's command-line arguments that run ``tk run <tk_args>`` in every worker."""
    if nproc < 1:
        raise TkError(f"--nproc {nproc}: needs at least 1 process.")
    _, max_nodes = _check_nnodes(nnodes)
    args = [f"--nproc-per-node={nproc}"]
    if rdzv_endpoint:
        args += [f"--nnodes={nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}",
                 f"--rdzv-id={rdzv_id or 'tk'}"]
    elif max_nodes > 1:
        raise TkError(f"--nnodes {nnodes}: several machines need --rdzv-endpoint HOST:PORT (a machine all of them "
                      f"reach; the same value on each).")
    else:
        args.append("--standalone")
    return [*args, "--max-restarts=0", "-m", "toolkit.cli", "run", *tk_args]


def equivalent_command(args: list[str]) -> str:
    """The shell command a user would type for the same launch."""
    return "torchrun " + " ".join(shlex.quote(a) for a in args)


def forward_args(ctx: Any) -> list[str]:
    """The arguments of the current `tk run` invocation, minus the launch options, for the workers.

    Rebuilt from click's parsed parameters (not ``sys.argv``), so it works the same when tk is
    driven from Python; only values the user gave are passed on, defaults stay defaults.
    """
    import click
    from click.core import ParameterSource

    arguments: list[str] = []
    options: list[str] = []
    for param in ctx.command.params:
        if param.name in LAUNCH_OPTIONS or param.name is None:
            continue
        value = ctx.params.get(param.name)
        if isinstance(param, click.Argument):
            if value is None:
                continue
            arguments += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
            continue
        if not isinstance(param, click.Option) or ctx.get_parameter_source(param.name) in (
                ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None):
            continue
        flag = max(param.opts, key=len)
        if param.is_flag:
            if value == param.flag_value or (param.is_bool_flag and value):
                options.append(flag)
            elif param.is_bool_flag and param.secondary_opts:
                options.append(max(param.secondary_opts, key=len))
        elif param.multiple:
            for item in value or ():
                options += [flag, str(item)]
        elif value is not None:
            options += [flag, str(value)]
    return [*arguments, *options]


def precheck(recipe: Any, *, out: Any = None, resume: Any = None, fresh: bool = False, recipe_arg: str = "") -> None:
    """The checks every worker would make first, made once here so a mistake is one line, not N.

    Plugins load and validate the recipe; ``--resume`` names something resumable; the run folder
    is free (read-only checks: nothing is created or replaced before the workers start).
    """
    from pathlib import Path

    from ..engine.run import check_latest, check_out_dir, resolve_resume
    from ..engine.train import load_run_plugins

    load_run_plugins(recipe)
    if resume is not None:
        resolve_resume(resume)
    elif out is not None and not fresh:
        check_out_dir(Path(out), recipe_arg, fresh=False)
    elif out is None and not fresh:
        check_latest(Path(recipe["train"]["out"]) / recipe.name, recipe_arg)


def launch(tk_args: list[str], *, nproc: int, nnodes: str = "1", rdzv_endpoint: str | None = None,
           rdzv_id: str | None = None, echo=print, check=None, run=None) -> None:
    """Run ``tk run <tk_args>`` in ``nproc`` processes (per machine); return when all have finished.

    A failed worker becomes a `TkError` naming its rank and exit status (its own messages were
    already printed); Ctrl-C stops every worker (the engine marks the run interrupted) and
    exits with status 130, as `tk run` does. ``check()`` (e.g. `precheck`) runs after the launch
    options are validated and before any worker starts. ``run(tk_args)`` is what a forked
    worker calls: the command line's ``tk run`` (the CLI passes it in, being the layer above);
    without it the workers are always new interpreters.
    """
    if under_launcher():
        raise TkError("--nproc/--nnodes are for starting a distributed run; this process is already a worker of one "
                      "(started by torchrun). Drop them, or start tk run without torchrun.")
    args = torchrun_args(tk_args, nproc=nproc, nnodes=nnodes, rdzv_endpoint=rdzv_endpoint, rdzv_id=rdzv_id)
    _wanted_start()
    if check is not None:
        check()
    import torch.distributed.run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    # Share the cores this process may use (affinity, cgroup quota) instead of letting each worker
    # claim all of them (torchrun would set 1).
    from ..core.threads import available_cores

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, available_cores()[0] // nproc)))
    os.environ["PYTHONUNBUFFERED"] = "1"  # progress from rank 0 appears as it happens
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # tk reports failures itself
    logging.getLogger("torch.multiprocessing").setLevel(logging.ERROR)  # "Terminating process …": tk says why
    echo(f"launching {nproc} process{'es' if nproc > 1 else ''} per machine: {equivalent_command(args)}")
    parsed = torchrun.parse_args(args)
    start = worker_start() if run is not None else "exec"
    try:
        if start == "fork":
            _fork_workers(torchrun, parsed, run, tk_args)
        else:
            torchrun.run(parsed)
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()  # the root cause, by time
        others = f" (and {len(exc.failures) - 1} more)" if len(exc.failures) > 1 else ""
        raise TkError(f"The distributed run failed: process rank {rank}{others} exited with status "
                      f"{failure.exitcode}; its messages are above.") from None
    except SignalException as exc:  # Ctrl-C or SIGTERM: the workers saved last.pt as interrupted
        print(f"The distributed run was stopped by {exc.sigval.name}.",
              file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        sys.stdout.flush()


WORKER_START_ENV = "TK_WORKER_START"
"""``fork`` (the default on Linux) or ``exec``: how `launch` starts the workers on this machine."""


def worker_start() -> str:
    """How `launch` starts this machine's workers: ``"fork"`` or ``"exec"``.

    ``fork`` (Linux): each worker is a fork of the launching process, which has already imported
    torch, timm and tk. Those pages (the libraries' relocated data, the imported modules) stay
    shared copy-on-write instead of being built again in every worker: about 0.3 GB less per
    worker here (`benchmarks/store_memory.py` measures it) and a few seconds less start-up. ``exec``
    (macOS, Windows, ``TK_WORKER_START=exec``, or when this process has already touched the CUDA
    driver or started other threads, which a fork must not copy): each worker is a new ``python -m
    toolkit.cli run ...``, exactly the printed torchrun command.
    """
    if _wanted_start() == "exec" or not sys.platform.startswith("linux"):
        return "exec"
    import threading

    if threading.active_count() > 1 or _cuda_poisons_fork():
        return "exec"  # another thread's locks would be copied held; a forked CUDA driver is unusable
    return "fork"


def _cuda_poisons_fork() -> bool:
    """Whether a fork of this process could not use CUDA: asked of a throw-away fork.

    Once this process has touched the CUDA driver (even ``torch.cuda.is_available()`` does),
    torch marks every later fork as unable to start CUDA; the mark is only visible in the child.
    """
    import torch

    in_bad_fork = getattr(torch._C, "_cuda_isInBadFork", None)
    if in_bad_fork is None:  # a build without CUDA
        return False
    pid = os.fork()
    if pid == 0:
        os._exit(1 if in_bad_fork() else 0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) != 0


def _wanted_start() -> str:
    wanted = os.environ.get(WORKER_START_ENV, "").strip().lower()
    if wanted not in ("", "fork", "exec"):
        raise TkError(f"{WORKER_START_ENV}={wanted}: expected fork or exec (how --nproc starts its workers).")
    return wanted


def _fork_workers(torchrun: Any, parsed: Any, run: Any, tk_args: list[str]) -> None:
    """torchrun's ``run(parsed)``, with `_worker` forked from this process instead of a new interpreter."""
    import gc
    import uuid

    from torch.distributed.launcher.api import elastic_launch

    if parsed.standalone:  # as torchrun's run() does
        parsed.rdzv_backend, parsed.rdzv_endpoint, parsed.rdzv_id = "c10d", "localhost:0", str(uuid.uuid4())
    if parsed.master_port is None:
        parsed.master_port = 29500
    config, _, _ = torchrun.config_from_args(parsed)
    config.start_method = "fork"
    # Objects that exist now are never collected in the workers: their collector would otherwise
    # write to every inherited object's header and so copy the pages the fork shares.
    gc.freeze()
    try:
        elastic_launch(config=config, entrypoint=_worker)(run, tk_args)
    finally:
        gc.unfreeze()


def _worker(run: Any, tk_args: list[str]) -> int:
    """One forked worker: ``run(tk_args)`` (``tk run <tk_args>``) in this process; 0 when it succeeds,
    else the process ends with its exit status (multiprocessing flushes the output first)."""
    import signal

    # The fork copied the launcher's handlers (torchrun's, which raise its SignalException);
    # a worker answers signals as a fresh `tk run` does: Ctrl-C is KeyboardInterrupt, so the
    # engine saves last.pt as interrupted.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("SIGTERM", "SIGHUP", "SIGQUIT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    try:
        run(tk_args)
    except SystemExit as exc:  # click ends every command with one, 0 included
        if exc.code not in (0, None):
            raise
    return 0
