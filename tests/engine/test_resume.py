"""Exact resume, the unfinished-run guard, and resuming rules (CPU)."""

from __future__ import annotations

from pathlib import Path

import torch

from toolkit import hookimpl
from toolkit.core.checkpoint import load_checkpoint
from toolkit.engine.train import run_recipe
from toolkit.recipe.load import load_recipe
from toolkit.testing import make_recipe, run_cli


class InterruptAfter:
    """Raises KeyboardInterrupt (what Ctrl-C raises) once epoch ``n`` (1-based) has ended."""

    def __init__(self, n: int):
        self.n = n

    @hookimpl
    def tk_epoch_end(self, run, epoch, metrics):
        if epoch + 1 == self.n:
            raise KeyboardInterrupt


RESUME_EXTRA = 'ema = true\nema_decay = 0.9\n[[augment.ops]]\nname = "color_jitter"\n[schedule]\nname = "cosine"\n'


def _models_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_interrupted_and_resumed_run_ends_with_identical_weights(tmp_path, tiny_recipe):
    """4 epochs straight vs 2 epochs, Ctrl-C, resume to 4: bit-identical model, optimiser and EMA."""
    path = tiny_recipe(epochs=4, extra=RESUME_EXTRA)
    straight = run_recipe(load_recipe(path), out=tmp_path / "straight", quiet=True)
    assert straight.status == "finished"

    first = run_recipe(load_recipe(path), out=tmp_path / "split", quiet=True,
                       extra_plugins=[("interrupt", InterruptAfter(2))])
    assert first.status == "interrupted"
    halfway = load_checkpoint(tmp_path / "split" / "last.pt")
    assert (halfway["status"], halfway["epoch"]) == ("interrupted", 2)

    resumed = run_recipe(load_recipe(path), resume=tmp_path / "split", quiet=True)
    assert resumed.status == "finished" and resumed.run_dir == tmp_path / "split"

    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "split" / "last.pt")
    assert a["epoch"] == b["epoch"] == 4
    assert _models_equal(a["model"], b["model"])
    assert _models_equal(a["callbacks"]["ema"]["model"], b["callbacks"]["ema"]["model"])
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in sa if torch.is_tensor(sa[k]))
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
    history_lines = (tmp_path / "split" / "history.jsonl").read_text().splitlines()
    assert len(history_lines) == 4


def test_resume_can_extend_epochs_but_not_change_training(tmp_path, tiny_recipe):
    path = tiny_recipe(epochs=1)
    out = tmp_path / "run"
    assert run_recipe(load_recipe(path), out=out, quiet=True).status == "finished"

    again = run_cli("run", path, "--resume", out, "--quiet")
    assert again.exit_code == 1
    assert "already finished" in again.output and "--set train.epochs=" in again.output

    changed = run_cli("run", path, "--resume", out, "--set", "optim.lr=0.5", "--set", "train.epochs=2")
    assert changed.exit_code == 1
    assert "optim.lr" in changed.output and "resumed run keeps its recipe" in changed.output

    # the recipe file now says more epochs, but only --set changes a resumed run: the run keeps its 1
    path.write_text(path.read_text().replace("epochs = 1", "epochs = 5"))
    file_only = run_cli("run", path, "--resume", out, "--quiet")
    assert file_only.exit_code == 1 and "already finished (1 of 1 epochs)" in file_only.output, file_only.output
    assert load_checkpoint(out / "last.pt")["epoch"] == 1

    longer = run_cli("run", path, "--resume", out, "--set", "train.epochs=2", "--quiet")
    assert longer.exit_code == 0, longer.output
    assert "epoch 2/2" in longer.output
    ckpt = load_checkpoint(out / "last.pt")
    assert (ckpt["epoch"], ckpt["status"], ckpt["recipe"]["train"]["epochs"]) == (2, "finished", 2)
    # recipe.toml holds every value the run used: the epochs it was trained to, and says it was resumed
    recorded = load_recipe(out / "recipe.toml")
    assert recorded["train"]["epochs"] == 2
    assert "as last resumed" in (out / "recipe.toml").read_text()


def test_second_run_of_an_unfinished_recipe_offers_resume(in_tmp, tiny_recipe):
    path = tiny_recipe(name="guarded", epochs=3)
    first = run_recipe(load_recipe(path), quiet=True, extra_plugins=[("interrupt", InterruptAfter(1))])
    assert first.status == "interrupted"
    assert first.run_dir == Path("runs/guarded/1")

    second = run_cli("run", path)
    assert second.exit_code == 1
    message = second.output.strip()
    assert message.startswith("Error:") and len(message.splitlines()) == 1
    assert "runs/guarded/1" in message and "interrupted after epoch 1 of 3" in message
    assert f"--resume runs/guarded/1" in message and "--fresh" in message
    assert not Path("runs/guarded/2").exists()

    fresh = run_cli("run", path, "--fresh", "--quiet", "--set", "train.epochs=1")
    assert fresh.exit_code == 0, fresh.output
    assert "Run folder: runs/guarded/2" in fresh.output
    assert load_checkpoint("runs/guarded/1/last.pt")["status"] == "interrupted"  # untouched


def test_resume_path_errors_are_one_line(tmp_path, tiny_recipe):
    path = tiny_recipe()
    missing = run_cli("run", path, "--resume", tmp_path / "nowhere")
    assert missing.exit_code == 1 and "no such run folder or checkpoint" in missing.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("run", path, "--resume", empty)
    assert result.exit_code == 1 and "has no last.pt" in result.output
    both = run_cli("run", path, "--resume", empty, "--fresh")
    assert both.exit_code == 2 and "contradict" in both.output


CTRL_C_BEFORE_SAVE = '''
from toolkit import hookimpl


class CtrlCBeforeSave:
    """Ctrl-C at the end of epoch 2, after its metrics and before its checkpoints are written."""

    def on_train_epoch_end(self, state):
        if state.epoch == 1:
            raise KeyboardInterrupt


@hookimpl
def tk_register_callbacks(register):
    register("ctrl_c_before_save", CtrlCBeforeSave)
'''


def test_an_interrupt_before_the_epochs_save_names_the_epoch_last_pt_holds(tmp_path, tiny_folder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ctrl_c.py").write_text(CTRL_C_BEFORE_SAVE)
    recipe = make_recipe(tmp_path / "r.toml", tiny_folder, epochs=3, batch_size=8,
                         extra='[[train.callbacks]]\nname = "ctrl_c_before_save"\n[plugins]\nmodules = ["ctrl_c.py"]\n')
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.exit_code == 130, result.output
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert (last["epoch"], last["status"]) == (1, "interrupted")
    assert f"Interrupted. {tmp_path / 'run' / 'last.pt'} holds epoch 1;" in result.output
