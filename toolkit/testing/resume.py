"""Kill a real `tk run` at a chosen moment, look at what it left, resume it, compare with a clean run.

`assert_resume_identical` is the one-call form a plugin author needs: it trains a recipe once
straight through, trains it again and SIGKILLs that run at a moment, resumes it with
``--resume``, and compares every tensor of the two ``best.pt``/``last.pt`` (model, optimiser,
EMA, schedule, every callback's state), the histories and ``metrics.json``. A plugin whose
state is not checkpointed (a callback without ``state_dict``, a sampler that counts calls) makes
it fail with the first difference named.

The pieces are public for finer tests (tk's own fault suite, ``tests/faults``, is built on them):
a `Moment` is a condition polled while the run goes — a line it printed (``epoch 2/6``), a file
that appeared (``recipe.toml``), or a checkpoint write in progress (`atomic_write` writes to
``.<name>.<random>.tmp`` beside the target and renames it, so a visible temp file *is* a write
in progress, and one still there after the kill proves the kill landed inside the write). Nothing
in tk is instrumented for this: the moments are found from outside, the way a power cut or the
OOM killer finds them.

Comparing the two finished runs (`differences`, `same` …) is `toolkit.testing.compare`'s, whose
names are importable from here too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .compare import (CHECKPOINTS, WALL_CLOCK_KEYS, differences, first_difference, history_without_clock,
                      leftover_temp_files, lost_files, same)

__all__ = ["Aftermath", "Moment", "MOMENTS", "ResumeCheck", "WALL_CLOCK_KEYS", "Watched", "after_line", "after_start",
           "assert_resume_identical", "differences", "file_appears", "first_difference", "history_without_clock",
           "inspect_checkpoints",
           "just_written", "kill_at", "leftover_temp_files", "lost_files", "resume_to_end", "same", "subprocess_env",
           "temp_target", "tk_command", "writing"]


def tk_command() -> list[str]:
    """How to start `tk` in a subprocess: the console script beside this Python, else ``python -m toolkit.cli``."""
    script = Path(sys.executable).with_name("tk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "toolkit.cli"]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a `tk` subprocess: this one's, unbuffered, one thread (numerics as
    in-process with one thread), offline (no hub), wide lines."""
    env = dict(os.environ)
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1", COLUMNS="200")
    env.update(extra)
    return env


class Watched:
    """A `tk` subprocess whose output lines and run-folder writes are followed as they happen."""

    def __init__(self, args: list[str], cwd: Path, run_dir: Path, env: dict[str, str]):
        self.run_dir = Path(run_dir)
        self.started = time.monotonic()
        self.proc = subprocess.Popen([*tk_command(), *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace",
                                     preexec_fn=_as_from_a_terminal)
        self.lines: list[tuple[float, str]] = []
        self.writes: dict[str, list[str]] = {}  # target file -> temp names seen, in order
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    @property
    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def files(self) -> set[str]:
        """The run folder's names now; temp files are remembered per target."""
        try:
            names = set(os.listdir(self.run_dir))
        except FileNotFoundError:
            return set()
        for name in names:
            target = temp_target(name)
            if target is not None:
                seen = self.writes.setdefault(target, [])
                if name not in seen:
                    seen.append(name)
        return names

    def line_time(self, prefix: str) -> float | None:
        for when, line in list(self.lines):
            if line.startswith(prefix):
                return when
        return None

    def wait_for(self, moment: Moment, timeout: float = 240) -> bool:
        """Poll until ``moment`` holds (True) or the process ends first (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            names = self.files()
            if moment.ready(self, names):
                return True
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                return False
            time.sleep(0.0002)
        raise TimeoutError(f"moment {moment.name!r} did not come within {timeout}s:\n{self.output}")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code


def _as_from_a_terminal() -> None:
    """The child gets SIGINT's default disposition, as a command typed at a terminal does: a test
    run started in the background (``make test-faults &``, some CI runners) ignores SIGINT and
    would pass that on, so Ctrl-C could never reach the run under test."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def temp_target(name: str) -> str | None:
    """``.last.pt.ab12cd.tmp`` → ``last.pt`` (the naming of `atomic_write`), else None."""
    if not (name.startswith(".") and name.endswith(".tmp")):
        return None
    stem = name[1:-4]
    target, _, _random = stem.rpartition(".")
    return target or None


@dataclass(frozen=True)
class Moment:
    """When to kill: ``ready(watched, names)`` is polled; ``what`` is the sentence for the docs."""

    name: str
    what: str
    ready: Callable[[Watched, set[str]], bool]


def after_start(seconds: float) -> Callable[[Watched, set[str]], bool]:
    return lambda w, names: time.monotonic() - w.started >= seconds


def file_appears(name: str) -> Callable[[Watched, set[str]], bool]:
    return lambda w, names: name in names


def after_line(prefix: str, delay: float = 0.0) -> Callable[[Watched, set[str]], bool]:
    def ready(w: Watched, names: set[str]) -> bool:
        when = w.line_time(prefix)
        return when is not None and time.monotonic() - when >= delay

    return ready


def writing(target: str, nth: int) -> Callable[[Watched, set[str]], bool]:
    """The ``nth`` (1-based) write of ``target`` — or a later one, if that one was too quick — is under way."""

    def ready(w: Watched, names: set[str]) -> bool:
        seen = w.writes.get(target, [])
        return len(seen) >= nth and any(temp_target(n) == target for n in names)

    return ready


def just_written(target: str, nth: int) -> Callable[[Watched, set[str]], bool]:
    """The ``nth`` write of ``target`` has just been renamed into place."""

    def ready(w: Watched, names: set[str]) -> bool:
        seen = w.writes.get(target, [])
        return len(seen) >= nth and not any(temp_target(n) == target for n in names)

    return ready


MOMENTS: dict[str, Moment] = {
    # a new run writes last.pt of the untrained model first (write 1), then after every epoch
    "mid-epoch": Moment("mid-epoch", "during the second epoch (its training batches)", after_line("epoch 1/", 0.05)),
    "after-epoch": Moment("after-epoch", "right after epoch 1's last.pt was renamed into place",
                          just_written("last.pt", 2)),
    "in-checkpoint-write": Moment("in-checkpoint-write", "while epoch 1's last.pt is being written",
                                  writing("last.pt", 2)),
}
"""The moments `assert_resume_identical` knows by name."""


@dataclass
class Aftermath:
    """What one kill left, and how the resumed run ended."""

    moment: str
    landed_in_write: list[str] = field(default_factory=list)  # targets whose temp file the kill left behind
    checkpoints: dict[str, Any] = field(default_factory=dict)  # name -> (epoch, status) or "unreadable: ..."
    exit_code: int | None = None
    how_resumed: str = ""
    resumed_code: int | None = None
    resumed_output: str = ""

    @property
    def unreadable(self) -> list[str]:
        return [name for name, state in self.checkpoints.items() if isinstance(state, str)]


def inspect_checkpoints(run_dir: Path) -> dict[str, Any]:
    """``{"last.pt": (epoch, status), ...}`` for the checkpoints present; a string when unreadable."""
    from ..core.checkpoint import CheckpointError, load_checkpoint

    found: dict[str, Any] = {}
    for name in CHECKPOINTS:
        path = run_dir / name
        if path.exists():
            try:
                ckpt = load_checkpoint(path)
                found[name] = (int(ckpt["epoch"]), str(ckpt["status"]))
            except CheckpointError as exc:
                found[name] = f"unreadable: {exc}"
    return found


def kill_at(moment: Moment, recipe: Path, out: Path, cwd: Path, env: dict[str, str], *,
            signum: int = signal.SIGKILL, resume: bool = False) -> tuple[Aftermath, Watched]:
    """Start (or resume) a run into ``out``, send ``signum`` at ``moment``, and inspect the folder."""
    args = ["run", str(recipe), "--resume", str(out)] if resume else ["run", str(recipe), "--out", str(out)]
    watched = Watched(args, cwd, out, env)
    hit = watched.wait_for(moment)
    if not hit:
        raise AssertionError(f"the run ended before the moment {moment.name!r}:\n{watched.output}")
    watched.signal(signum)
    code = watched.finish()
    after = Aftermath(moment.name, exit_code=code)
    after.landed_in_write = sorted({t for n in os.listdir(out) if (t := temp_target(n))}) if out.exists() else []
    after.checkpoints = inspect_checkpoints(out)
    return after, watched


def resume_to_end(after: Aftermath, recipe: Path, out: Path, cwd: Path, env: dict[str, str]) -> None:
    """Continue the killed run the way a user would: ``--resume`` when it has a last.pt, else start it again."""
    if (out / "last.pt").exists():
        args, after.how_resumed = ["run", str(recipe), "--resume", str(out)], "--resume"
    else:
        args, after.how_resumed = ["run", str(recipe), "--out", str(out)], "started again (no last.pt yet)"
    done = subprocess.run([*tk_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    after.resumed_code = done.returncode
    after.resumed_output = done.stdout + done.stderr


# -- the one-call check --------------------------------------------------------------------------
@dataclass
class ResumeCheck:
    """What `assert_resume_identical` ran: the uninterrupted run's folder, the killed-and-resumed one's,
    what the kill left (`Aftermath`) and the killed run's output up to the kill."""

    straight: Path
    resumed: Path
    aftermath: Aftermath
    killed_output: str


def assert_resume_identical(recipe: str | Path, *, workdir: str | Path | None = None,
                            moment: str | Moment = "mid-epoch", env: dict[str, str] | None = None,
                            timeout: float = 300, files: Iterable[str] = ()) -> ResumeCheck:
    """Train ``recipe`` straight through; train it again, SIGKILL it at ``moment``, resume it with
    ``--resume``; fail unless both end bit-identical.

    ``recipe`` is a recipe file (your parts named in it; your package installed, or its module in
    ``[plugins] modules``). Use a tiny one: `toolkit.testing.make_recipe` with ``epochs=3`` or more
    (the kill must land before the run ends). ``moment``: one of `MOMENTS` (``"mid-epoch"``,
    ``"after-epoch"``, ``"in-checkpoint-write"``) or your own `Moment`. ``workdir`` receives the
    run folders ``straight/`` and ``killed/`` (default: a new temporary folder); the runs are `tk`
    subprocesses started there with ``env`` (default `subprocess_env`: one thread, offline).
    ``files``: run files your plugin writes (``["steps.csv"]``), compared byte for byte too.

    Raises AssertionError naming what differs (``last.pt callbacks: 1 tensors differ (first
    0:my_cb.count)``), or how a run failed, with its output. Returns a `ResumeCheck`.
    """
    from ..recipe.load import load_recipe

    recipe = Path(recipe).resolve()
    epochs = int(load_recipe(recipe)["train"]["epochs"])
    if epochs < 2:
        raise ValueError(f"{recipe}: train.epochs is {epochs}; a kill-and-resume check needs 2 epochs or more "
                         f"(3 or more for the 'mid-epoch' moment).")
    chosen = MOMENTS[moment] if isinstance(moment, str) else moment
    work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="tk-resume-"))
    work.mkdir(parents=True, exist_ok=True)
    env = env or subprocess_env()
    straight, killed = work / "straight", work / "killed"
    done = subprocess.run([*tk_command(), "run", str(recipe), "--out", str(straight)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"the uninterrupted run of {recipe} failed (exit {done.returncode}):\n"
                             f"{done.stdout}{done.stderr}")
    after, watched = kill_at(chosen, recipe, killed, work, env)
    if after.exit_code != -signal.SIGKILL:
        raise AssertionError(f"the run to kill ended by itself (exit {after.exit_code}) before the kill:\n"
                             f"{watched.output}")
    resume_to_end(after, recipe, killed, work, env)
    if after.resumed_code != 0:
        raise AssertionError(f"the run killed {chosen.what} did not resume ({after.how_resumed}, exit "
                             f"{after.resumed_code}):\n{after.resumed_output}")
    problems = differences(straight, killed, files) + leftover_temp_files(killed)
    if problems:
        raise AssertionError(f"killed {chosen.what} and resumed, the run of {recipe.name} differs from the "
                             f"uninterrupted one: " + "; ".join(problems)
                             + f". Run folders: {straight} (straight) and {killed} (killed and resumed).")
    return ResumeCheck(straight, killed, after, watched.output)
