"""The callback moments with the step's data (#27), driven the way a third-party author meets them:
a plugin module written here, named in the recipe's ``[plugins] modules``, run by the `tk` CLI.

Each assertion is a property that holds however training goes: gradients exist when the moment
says so, every batch is seen once, the placement puts a callback after best.pt is chosen, a
raising callback is named in one line and the end events still come.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from toolkit.core.checkpoint import load_checkpoint
from toolkit.testing import make_image_folder, make_recipe, run_cli

PROBE = '''\
import json, math, os
from toolkit import hookimpl


class StepLog:
    """Logs every training batch's loss and gradient norm; changes nothing."""

    def __init__(self):
        self.batches, self.norm = 0, None

    def on_train_batch_start(self, state):
        assert state.batch is not None and state.outputs is None

    def on_after_backward(self, state):
        self.grads_after_backward = sum(p.grad is not None for p in state.model.parameters())

    def on_before_optimizer_step(self, state):
        self.norm = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in state.model.parameters()
                                  if p.grad is not None))

    def on_train_batch_end(self, state):
        self.batches += 1
        present = sum(p.grad is not None for p in state.model.parameters())
        now = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in state.model.parameters() if p.grad is not None))
        line = {"epoch": state.epoch, "batch": state.batch_idx, "loss": float(state.loss), "norm": now,
                "step_norm": self.norm if state.stepped else None,
                "grads": present, "after_backward": self.grads_after_backward, "stepped": state.stepped,
                "n": len(state.batch.indices), "outputs": list(state.outputs.shape), "count": self.batches}
        if state.is_main:
            with open(os.path.join(state.run_dir, "steps.jsonl"), "a") as fh:
                fh.write(json.dumps(line) + "\\n")

    def on_save_checkpoint(self, state, checkpoint):
        checkpoint["step_log"] = {"batches": self.batches}

    def on_load_checkpoint(self, state, checkpoint):
        self.loaded = checkpoint.get("step_log")

    def state_dict(self):
        return {"batches": self.batches}

    def load_state_dict(self, saved):
        self.batches = int(saved["batches"])


class WorstExamples:
    """After each batch, the two samples with the highest loss (from the logits and targets)."""

    def on_train_batch_end(self, state):
        import torch

        losses = torch.nn.functional.cross_entropy(state.outputs.float(), state.batch.targets, reduction="none")
        worst = [state.batch.indices[i] for i in losses.topk(min(2, len(losses))).indices.tolist()]
        with open(os.path.join(state.run_dir, "worst.jsonl"), "a") as fh:
            fh.write(json.dumps(worst) + "\\n")

    def on_validation_batch_end(self, state):
        with open(os.path.join(state.run_dir, "val_batches.jsonl"), "a") as fh:
            fh.write(json.dumps({"n": len(state.batch.indices), "outputs": list(state.outputs.shape)}) + "\\n")


class Improved:
    """Records state.improved at the end of every epoch."""

    def on_train_epoch_end(self, state):
        with open(os.path.join(state.run_dir, f"improved-{self.tag}.jsonl"), "a") as fh:
            fh.write(json.dumps(state.improved) + "\\n")

    def __init__(self, tag: str = "x"):
        self.tag = tag


class StopAfter:
    """A user's own early stopping: stop after a fixed number of epochs."""

    def __init__(self, epochs: int = 2):
        self.epochs = epochs

    def on_train_epoch_end(self, state):
        if state.epoch + 1 >= self.epochs:
            state.request_stop(f"my stopping after {self.epochs} epochs")


class Boom:
    def on_train_batch_end(self, state):
        if state.batch_idx == 1:
            raise ValueError("my bug")

    def on_exception(self, state, exc):
        with open(os.path.join(state.run_dir, "on_exception.txt"), "w") as fh:
            fh.write(type(exc).__name__)


@hookimpl
def tk_register_callbacks(register):
    register("step_log", StepLog)
    register("worst_examples", WorstExamples)
    register("improved", Improved, repeatable=True)
    register("stop_after", StopAfter)
    register("boom", Boom)


@hookimpl
def tk_run_end(run, status, metrics):
    with open(os.path.join(run.dir, "run_end.txt"), "w") as fh:
        fh.write(status)
'''


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("moments")
    make_image_folder(root / "images", {"a": 10, "b": 10}, size=32)
    (root / "probe.py").write_text(PROBE)
    return root


def _recipe(folder: Path, name: str, callbacks: str, *, epochs: int = 2, train_extra: str = "") -> Path:
    return make_recipe(folder / f"{name}.toml", folder / "images", epochs=epochs, batch_size=4,
                       train_extra=train_extra,
                       extra=f'[plugins]\nmodules = ["probe.py"]\n\n{callbacks}')


def _lines(path: Path) -> list:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_batch_moments_carry_the_batch_outputs_loss_and_gradients(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)
    recipe = _recipe(folder, "steps", '[[train.callbacks]]\nname = "step_log"\n\n[[train.callbacks]]\n'
                                      'name = "worst_examples"\n', train_extra="accumulate = 2")
    result = run_cli("run", recipe, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    steps = _lines(tmp_path / "run" / "steps.jsonl")
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    trained = len(json.loads((tmp_path / "run" / "split.json").read_text())["train"])
    assert sum(s["n"] for s in steps) == 2 * trained  # every training image once per epoch
    assert all(s["grads"] > 0 and s["after_backward"] > 0 for s in steps)  # gradients present at batch end
    assert all(s["norm"] > 0 and s["loss"] >= 0 for s in steps)
    assert all(s["step_norm"] > 0 for s in steps if s["stepped"])  # on_before_optimizer_step saw them
    assert all(s["outputs"] == [s["n"], 2] for s in steps)
    assert sum(s["stepped"] for s in steps) == last["global_step"]  # accumulate = 2: not every batch steps
    assert last["step_log"] == {"batches": len(steps)}  # on_save_checkpoint added plain data
    worst = _lines(tmp_path / "run" / "worst.jsonl")
    assert len(worst) == len(steps) and all(0 <= i < trained for pair in worst for i in pair)
    val = _lines(tmp_path / "run" / "val_batches.jsonl")
    n_val = len(json.loads((tmp_path / "run" / "split.json").read_text())["val"])
    assert sum(v["n"] for v in val) == 2 * n_val and all(v["outputs"] == [v["n"], 2] for v in val)


def test_a_logging_callback_killed_and_resumed_is_bit_identical(folder, tmp_path):
    """Logging per-step loss and gradient norm changes nothing: SIGKILL mid-run, resume, compare."""
    from tests.faults.conftest import subprocess_env
    from tests.faults.killing import Moment, after_line, differences, kill_at, resume_to_end

    work = tmp_path / "w"
    shutil.copytree(folder, work)
    recipe = _recipe(work, "kill", '[[train.callbacks]]\nname = "step_log"\n', epochs=4)
    env = subprocess_env(TK_CACHE_DIR=str(work / "cache"))
    after, _ = kill_at(Moment("mid-epoch-2", "", after_line("epoch 1/", 0.05)), recipe, work / "killed", work, env)
    assert after.exit_code == -signal.SIGKILL
    resume_to_end(after, recipe, work / "killed", work, env)
    assert after.resumed_code == 0, after.resumed_output
    plain = _recipe(work, "plain", "", epochs=4)
    import subprocess
    import sys

    tk = str(Path(sys.executable).with_name("tk"))
    assert subprocess.run([tk, "run", str(plain), "--out", str(work / "plain"), "--quiet"], cwd=work, env=env,
                          capture_output=True).returncode == 0
    assert subprocess.run([tk, "run", str(recipe), "--out", str(work / "straight"), "--quiet"], cwd=work, env=env,
                          capture_output=True).returncode == 0
    assert differences(work / "straight", work / "killed") == []
    # and the callback changed nothing: the same weights as the run without it
    a, b = load_checkpoint(work / "straight" / "last.pt"), load_checkpoint(work / "plain" / "last.pt")
    assert all(a["model"][k].equal(b["model"][k]) for k in a["model"])
    assert load_checkpoint(work / "killed" / "last.pt")["step_log"]["batches"] == \
        load_checkpoint(work / "straight" / "last.pt")["step_log"]["batches"]


def test_a_callback_placed_after_best_checkpoint_sees_improved(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)
    recipe = _recipe(folder, "placed", '[[train.callbacks]]\nname = "improved"\ntag = "after"\n'
                                       'after = "best_checkpoint"\n\n[[train.callbacks]]\nname = "improved"\n'
                                       'tag = "before"\n', epochs=3)
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    after = _lines(tmp_path / "run" / "improved-after.jsonl")
    best_lines = [("* best" in line) for line in result.output.splitlines() if line.startswith("epoch ")]
    assert after == best_lines and after[0] is True  # epoch 1 always writes best.pt
    assert _lines(tmp_path / "run" / "improved-before.jsonl") == [False] * 3  # before best.pt is chosen
    bad = run_cli("recipes", "check", recipe, "--set",
                  'train.callbacks=[{name = "improved", after = "best_checkpont"}]')
    assert bad.exit_code == 1 and "best_checkpont" in bad.stderr and "best_checkpoint" in bad.stderr


def test_own_early_stopping_in_place_of_tks(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)
    recipe = _recipe(folder, "mystop", '[[train.callbacks]]\nname = "stop_after"\nepochs = 2\n', epochs=5,
                     train_extra="early_stopping = false")
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["epoch"] == 2 and last["status"] == "stopped"
    assert "my stopping after 2 epochs" in result.output


def test_a_raising_callback_is_one_line_and_the_end_events_come(folder, tmp_path, monkeypatch):
    from tests.faults.conftest import one_error_line

    monkeypatch.chdir(folder)
    recipe = _recipe(folder, "boom", '[[train.callbacks]]\nname = "boom"\n')
    result = run_cli("run", recipe, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "Callback 'boom'" in line and "probe" in line and "on_train_batch_end" in line and "my bug" in line
    assert (tmp_path / "run" / "on_exception.txt").read_text() == "PluginError"
    assert (tmp_path / "run" / "run_end.txt").read_text() == "failed"  # loggers and trackers are told
    assert load_checkpoint(tmp_path / "run" / "last.pt")["status"] == "failed"


def test_tks_own_callbacks_can_be_switched_off_and_placed(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)
    recipe = _recipe(folder, "own", '[[train.callbacks]]\nname = "epoch_line"\nenabled = false\n\n'
                                    '[[train.callbacks]]\nname = "history"\nafter = "best_checkpoint"\n')
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert not [line for line in result.output.splitlines() if line.startswith("epoch ")]  # its line is off
    assert len((tmp_path / "run" / "history.jsonl").read_text().splitlines()) == 2  # moved, still there
    refused = run_cli("recipes", "check", recipe, "--set",
                      'train.callbacks=[{name = "last_checkpoint", enabled = false}]')
    assert refused.exit_code == 1 and "cannot be switched off" in refused.stderr
