"""Killed runs: SIGKILL at many moments, then resume: same weights and history, no unreadable checkpoint.

The run trains a real timm model with EMA, random augmentation and a cosine schedule (every
piece of state a resume must restore) for 6 epochs. The uninterrupted run is the reference;
each killed run is resumed the way a user would (``tk run RECIPE --resume RUN``, or started
again when it died before its first checkpoint) and must end bit-identical: every tensor of
best.pt and last.pt (model, optimiser, EMA, schedule), the history (wall-clock fields aside),
split.json and metrics.json, and every run file present.

The normal suite kills one run twice and then presses Ctrl-C (SIGINT) on it; the full sweep
(`pytest -m slow tests/faults`, or `make test-faults`) kills at each of the `SWEEP` moments.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from pathlib import Path

import pytest

from toolkit.core.checkpoint import load_checkpoint
from toolkit.engine.train import run_recipe
from toolkit.recipe.load import load_recipe
from toolkit.testing import make_image_folder

from .conftest import record_figure, subprocess_env, write_recipe
from .killing import (Moment, after_line, after_start, differences, file_appears, just_written, kill_at,
                      leftover_temp_files, lost_files, resume_to_end)

HOLD_SITE = '''"""Test-only (tests/faults/test_killed_runs.py): TK_TEST_HOLD=TARGET:NTH:MARKER stops the process
inside the NTH atomic write of TARGET, its temp file written, before the rename: it touches MARKER
and sleeps until it is killed."""
import os
import time

_spec = os.environ.get("TK_TEST_HOLD")
if _spec:
    _target, _nth, _marker = _spec.split(":", 2)
    _replace, _seen = os.replace, [0]

    def _held_replace(src, dst, *args, **kwargs):
        if os.path.basename(os.fspath(dst)) == _target:
            _seen[0] += 1
            if _seen[0] == int(_nth):
                open(_marker, "w").close()
                while True:
                    time.sleep(1)
        return _replace(src, dst, *args, **kwargs)

    os.replace = _held_replace
'''


def held(target: str, nth: int):
    """The run is stopped inside the ``nth`` write of ``target``: its temp file written, not yet renamed.

    Polling for the temp file (`toolkit.testing.resume.writing`) races a quick write, so whether the kill landed inside
    it was luck; here the process itself waits there (a ``sitecustomize`` wrapping ``os.replace``,
    see `HOLD_SITE`; nothing in tk is instrumented), and every such kill lands inside the write.
    """

    def ready(w, names: set[str]) -> bool:
        return _marker(w.run_dir).exists()

    ready.held = (target, nth)
    return ready


def _marker(out: Path) -> Path:
    return out.parent / f".{out.name}.held"


def _env_for(moment: Moment, env: dict[str, str], out: Path) -> dict[str, str]:
    """``env``, plus the hold of `held` when ``moment`` is one."""
    hold = getattr(moment.ready, "held", None)
    if hold is None:
        return env
    site = out.parent / "hold-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(HOLD_SITE, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    return {**env, "PYTHONPATH": path, "TK_TEST_HOLD": f"{hold[0]}:{hold[1]}:{_marker(out)}"}


EPOCHS = 6
STATEFUL = """\
ema = true
ema_decay = 0.9
seed = 3
"""
AUGMENT_AND_SCHEDULE = """\
[[augment.ops]]
name = "hflip"

[[augment.ops]]
name = "color_jitter"

[schedule]
name = "cosine"
"""

# last.pt is written before epoch 1 (write 1), after every epoch (writes 2..7) and once more
# with the final status (write 8); best.pt after epoch 1 at least.
SWEEP = [
    Moment("starting", "1 s after start: still importing, nothing written", after_start(1.0)),
    Moment("folder-created", "the run folder was just created (recipe.toml, no checkpoint yet)",
           file_appears("recipe.toml")),
    Moment("first-last-write", "inside the first write of last.pt (before epoch 1)", held("last.pt", 1)),
    Moment("epoch-1-done", "just after epoch 1's summary line", after_line("epoch 1/")),
    Moment("mid-epoch-2", "in the middle of epoch 2 (0.1 s after epoch 1 ended)", after_line("epoch 1/", 0.1)),
    Moment("best-write", "inside the first write of best.pt", held("best.pt", 1)),
    Moment("best-then-last", "right after best.pt was renamed into place, before that epoch's last.pt",
           just_written("best.pt", 1)),
    Moment("last-write-epoch-3", "inside the write of last.pt after epoch 3", held("last.pt", 4)),
    Moment("history-write", "inside the third write of history.jsonl", held("history.jsonl", 3)),
    Moment("mid-epoch-5", "in the middle of epoch 5", after_line("epoch 4/", 0.1)),
    Moment("last-epoch-done", f"just after the last epoch's summary line (final save, report)",
           after_line(f"epoch {EPOCHS}/")),
    Moment("final-last-write", "inside the final write of last.pt (status finished)", held("last.pt", EPOCHS + 2)),
    Moment("report", "while the report is written (metrics.json there, plots not yet)", file_appears("metrics.json")),
]


@contextlib.contextmanager
def one_thread():
    """Train in this process with one thread, like the `tk` subprocesses (OMP_NUM_THREADS=1).

    The reference run is trained in-process to save a start-up; with the same thread count
    it is bit-identical to the same recipe run by the `tk` binary (the sweep relies on it).
    """
    import os

    import torch

    # tk run chooses the count from OMP_NUM_THREADS (else every core): the subprocesses get 1, so must
    # this run, whatever the environment pytest was started in (without it, 2 threads here: other sums)
    before, env_before = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        if env_before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_before


# Early stopping ends this run after epoch 2 (val_loss never improves by 10) and restores epoch
# 1's weights: the kills land between that decision and the final save, and in the report.
EARLY_STOPPING = STATEFUL + "patience = 1\nmin_delta = 10.0\n"
STOPPING_SWEEP = [
    Moment("stopped-before-final-save", "early stopping decided, before the final save",
           after_line("epoch 2/")),
    Moment("stopped-final-write", "inside the final write of last.pt of an early-stopped run", held("last.pt", 4)),
    Moment("stopped-report", "while an early-stopped run writes its report", file_appears("metrics.json")),
]


class Sweep:
    """One image folder, one recipe and its uninterrupted reference run, shared by a module's kills."""

    def __init__(self, root: Path, train_extra: str = STATEFUL):
        self.root = root
        images = make_image_folder(root / "images", {"circle": 12, "square": 12, "stripes": 12}, size=32)
        self.recipe = write_recipe(root / "killme.toml", images, epochs=EPOCHS, train_extra=train_extra,
                                   extra=AUGMENT_AND_SCHEDULE)
        self.env = subprocess_env(TK_CACHE_DIR=str(root / "cache"))
        self.reference = root / "reference"
        with one_thread(), pytest.MonkeyPatch.context() as patch:
            patch.setenv("TK_CACHE_DIR", self.env["TK_CACHE_DIR"])
            result = run_recipe(load_recipe(self.recipe), out=self.reference, quiet=True)
        self.status = result.status


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Sweep:
    made = Sweep(tmp_path_factory.mktemp("sweep"))
    assert made.status == "finished" and load_checkpoint(made.reference / "last.pt")["epoch"] == EPOCHS
    return made


@pytest.fixture(scope="module")
def stopping_sweep(tmp_path_factory) -> Sweep:
    made = Sweep(tmp_path_factory.mktemp("stopping"), EARLY_STOPPING)
    assert made.status == "stopped" and load_checkpoint(made.reference / "last.pt")["epoch"] == 2
    return made


def _check_kill(after, moment: Moment) -> None:
    assert after.exit_code == -signal.SIGKILL, (moment.name, after.exit_code)
    assert not after.unreadable, f"{moment.name}: {after.checkpoints}"


def _kill_resume_compare(moment: Moment, sweep: Sweep, family: str) -> None:
    out = sweep.root / f"killed-{moment.name}"
    after, _ = kill_at(moment, sweep.recipe, out, sweep.root, _env_for(moment, sweep.env, out))
    _check_kill(after, moment)
    if hasattr(moment.ready, "held"):  # the kill came inside the write: its temp file is still there
        assert after.landed_in_write == [moment.ready.held[0]], (moment.name, after.landed_in_write)
    resume_to_end(after, sweep.recipe, out, sweep.root, sweep.env)
    assert after.resumed_code == 0 and "Traceback" not in after.resumed_output, after.resumed_output
    problems = differences(sweep.reference, out) + leftover_temp_files(out)
    record_figure(family, moment.what, 1, int(not problems), unreadable=len(after.unreadable),
                  lost=len(lost_files(sweep.reference, out)), in_write=",".join(after.landed_in_write),
                  checkpoints_after_kill=str(after.checkpoints), resumed=after.how_resumed,
                  group="SIGKILL at one moment, then resumed to the end (every kill listed below)")
    assert not problems, f"{moment.name}: {problems}"


@pytest.mark.slow
@pytest.mark.parametrize("moment", SWEEP, ids=lambda m: m.name)
def test_sigkill_at_each_moment_then_resume_matches_the_uninterrupted_run(moment: Moment, sweep: Sweep):
    _kill_resume_compare(moment, sweep, "killed runs")


@pytest.mark.slow
@pytest.mark.parametrize("moment", STOPPING_SWEEP, ids=lambda m: m.name)
def test_sigkill_after_early_stopping_then_resume_matches_the_uninterrupted_run(moment: Moment,
                                                                                  stopping_sweep: Sweep):
    _kill_resume_compare(moment, stopping_sweep, "killed runs")


def test_a_run_whose_report_was_cut_off_is_finished_by_resume(sweep: Sweep):
    """What a kill during the report leaves (every epoch saved, no metrics, plots or report) is
    finished by --resume instead of being refused as 'already finished' (the sweep kills for real)."""
    out = sweep.root / "unreported"
    shutil.copytree(sweep.reference, out)
    for name in ("metrics.json", "curves.png", "confusion_matrix.png", "report.html"):
        (out / name).unlink()
    with one_thread(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("TK_CACHE_DIR", sweep.env["TK_CACHE_DIR"])
        result = run_recipe(load_recipe(sweep.recipe), resume=out, quiet=True)
    assert result.status == "finished"
    assert differences(sweep.reference, out) == []


@pytest.mark.slow
def test_ctrl_c_while_the_report_is_written_then_resume_matches_the_uninterrupted_run(sweep: Sweep):
    """Ctrl-C after the last epoch (the report half drawn) exits 130 and says how to finish; --resume does."""
    out = sweep.root / "ctrl-c-report"
    moment = Moment("ctrl-c-report", "Ctrl-C while the report is written", file_appears("metrics.json"))
    after, watched = kill_at(moment, sweep.recipe, out, sweep.root, sweep.env, signum=signal.SIGINT)
    assert after.exit_code == 130, watched.output
    assert f"Finish it with: tk run {sweep.recipe} --resume {out}" in watched.output, watched.output
    assert "Traceback" not in watched.output and not after.unreadable
    resume_to_end(after, sweep.recipe, out, sweep.root, sweep.env)
    assert after.resumed_code == 0, after.resumed_output
    problems = differences(sweep.reference, out) + leftover_temp_files(out)
    record_figure("killed runs", "Ctrl-C (SIGINT) while the report is written, then resumed", 1, int(not problems),
                  lost=len(lost_files(sweep.reference, out)), unreadable=0)
    assert not problems, problems


def test_two_kills_and_a_ctrl_c_then_resume_give_the_uninterrupted_result(sweep: Sweep):
    """The normal-suite version: one run killed inside a checkpoint write, killed again mid-epoch,
    interrupted with Ctrl-C, then resumed to the end."""
    out = sweep.root / "chain"
    inside_write = Moment("last-write-epoch-2", "inside last.pt's write after epoch 2", held("last.pt", 3))
    first, _ = kill_at(inside_write, sweep.recipe, out, sweep.root, _env_for(inside_write, sweep.env, out))
    _check_kill(first, inside_write)
    assert first.landed_in_write == ["last.pt"]  # killed inside the write: its temp file is left behind ...
    assert first.checkpoints["last.pt"] == (1, "running")  # ... and last.pt is still epoch 1's, whole

    mid_epoch = Moment("mid-epoch-4", "mid epoch 4", after_line("epoch 3/", 0.05))
    second, _ = kill_at(mid_epoch, sweep.recipe, out, sweep.root, sweep.env, resume=True)
    _check_kill(second, mid_epoch)

    ctrl_c = Moment("ctrl-c", "Ctrl-C as epoch 5 starts", after_line("epoch 4/"))
    third, watched = kill_at(ctrl_c, sweep.recipe, out, sweep.root, sweep.env, signum=signal.SIGINT, resume=True)
    assert third.exit_code == 130, watched.output
    assert f"resume with: tk run {sweep.recipe} --resume {out}" in watched.output
    assert "Traceback" not in watched.output
    assert third.checkpoints["last.pt"][1] == "interrupted"

    resume_to_end(third, sweep.recipe, out, sweep.root, sweep.env)
    assert third.resumed_code == 0, third.resumed_output
    problems = differences(sweep.reference, out) + leftover_temp_files(out)
    record_figure("killed runs", "one run: SIGKILL inside a checkpoint write, SIGKILL mid-epoch, Ctrl-C, resumed", 3,
                  3 if not problems else 0, unreadable=0, lost=len(lost_files(sweep.reference, out)),
                  in_write=",".join(first.landed_in_write))
    assert not problems, problems
