"""Reproducible by default on a busy machine (issue #28): the user's conditions, not the suite's.

The rest of the suite fixes the thread count (``OMP_NUM_THREADS=1``) so that its runs repeat;
users do not. Here every `tk` subprocess runs with tk's defaults — no thread settings at all,
so torch gets every core this process may use — while another process spins on a core for the
whole time (a ``while True: pass`` started and stopped by pid, like a browser tab or another
job). A straight run, a run SIGKILLed in the middle of an epoch and resumed, and a run on the
idle machine must end bit-identical: every tensor of best.pt and last.pt, the history and the
metrics. tk 0.2's thread governor changed the count with the load, and these runs drifted
apart from the first epoch.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.core.checkpoint import load_checkpoint
from toolkit.core.threads import available_cores
from toolkit.testing import make_image_folder

from .conftest import record_figure, subprocess_env, write_recipe
from .killing import Moment, after_line, differences, kill_at, leftover_temp_files, resume_to_end

EPOCHS = 3
RECIPE_EXTRA = """\
[[augment.ops]]
name = "hflip"

[[augment.ops]]
name = "color_jitter"

[schedule]
name = "cosine"
"""


def default_env(cache: Path) -> dict[str, str]:
    """A `tk` subprocess as a user starts one: no OMP/MKL thread settings, no wait policy."""
    env = subprocess_env(TK_CACHE_DIR=str(cache))
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        env.pop(key, None)
    return env


class BusyCore:
    """Another process spinning on a core, started and stopped by pid."""

    def __enter__(self) -> "BusyCore":
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def _run(recipe: Path, out: Path, cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run([str(Path(sys.executable).with_name("tk")), "run", str(recipe), "--out", str(out), "--quiet"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_default_runs_repeat_busy_idle_and_killed(tmp_path):
    images = make_image_folder(tmp_path / "images", {"circle": 30, "square": 30, "stripes": 30}, size=32)
    recipe = write_recipe(tmp_path / "busy.toml", images, epochs=EPOCHS, batch_size=4, extra=RECIPE_EXTRA,
                          train_extra="ema = true\nema_decay = 0.9\nseed = 5\n")
    env = default_env(tmp_path / "cache")
    cores = available_cores()[0]
    with BusyCore():
        _run(recipe, tmp_path / "busy", tmp_path, env)
        moment = Moment("mid-epoch-2", "0.05 s into epoch 2", after_line("epoch 1/", 0.05))
        after, _ = kill_at(moment, recipe, tmp_path / "killed", tmp_path, env)
        assert after.exit_code == -signal.SIGKILL and "last.pt" in after.checkpoints, after.checkpoints
        resume_to_end(after, recipe, tmp_path / "killed", tmp_path, env)
        assert after.resumed_code == 0, after.resumed_output
    _run(recipe, tmp_path / "idle", tmp_path, env)

    # the count came from the machine and was recorded, not sampled from the load
    for run in ("busy", "killed", "idle"):
        assert load_checkpoint(tmp_path / run / "last.pt")["recipe"]["train"]["threads"] == cores
    killed = differences(tmp_path / "busy", tmp_path / "killed") + leftover_temp_files(tmp_path / "killed")
    idle = differences(tmp_path / "busy", tmp_path / "idle")
    record_figure("killed runs", f"tk's default threads ({cores}) with a core kept busy: SIGKILL mid-epoch and "
                  "resumed, and a run on the idle machine, against the straight busy run: identical", 2,
                  int(not killed) + int(not idle))
    assert not killed, killed
    assert not idle, idle


@pytest.mark.skipif(available_cores()[0] < 2, reason="needs 2 cores to change the thread count")
def test_resume_keeps_the_count_the_run_started_with(tmp_path):
    """A run started with 2 threads and resumed where OMP_NUM_THREADS says 1 still trains with 2,
    and says why in its header."""
    images = make_image_folder(tmp_path / "images", {"a": 12, "b": 12}, size=32)
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1)
    env = default_env(tmp_path / "cache")
    _run(recipe, tmp_path / "run", tmp_path, env)
    resumed = subprocess.run([str(Path(sys.executable).with_name("tk")), "run", str(recipe), "--resume",
                              str(tmp_path / "run"), "--set", "train.epochs=2"], cwd=tmp_path,
                             env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Threads: 2 (the count the run started with" in resumed.stdout, resumed.stdout
    assert load_checkpoint(tmp_path / "run" / "last.pt")["recipe"]["train"]["threads"] == 2


def _dry_run_threads_line(recipe: Path, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run([str(Path(sys.executable).with_name("tk")), "run", str(recipe), "--dry-run"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return next(line for line in done.stdout.splitlines() if line.startswith("Threads: "))


def test_a_run_started_on_a_busy_machine_lets_its_threads_sleep_and_the_user_setting_wins(tmp_path):
    """The wait policy is chosen when `tk run` starts (it changes speed, never the result — the
    test above compares a busy run with an idle one): another process spinning on a core makes
    the threads sleep while they wait; a policy in the environment is kept as it is."""
    images = make_image_folder(tmp_path / "images", {"a": 12, "b": 12}, size=32)
    recipe = write_recipe(tmp_path / "r.toml", images, epochs=1)
    env = default_env(tmp_path / "cache")
    with BusyCore():
        busy = _dry_run_threads_line(recipe, tmp_path, env)
        chosen = _dry_run_threads_line(recipe, tmp_path, {**env, "GOMP_SPINCOUNT": "1234"})
    assert "threads sleep while waiting: other processes used" in busy, busy
    assert chosen.endswith("; GOMP_SPINCOUNT=1234 from the environment"), chosen
