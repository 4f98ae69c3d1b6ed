"""Non-finite training: a NaN or infinite loss stops the run at once, names epoch and batch, keeps the last
good checkpoint (loadable, finite), and says what to change.

The NaN comes from a recipe-local loss plugin (plugins/nan_loss.py) that poisons one chosen
training batch, so the epoch and batch in the message can be checked exactly; a learning rate
far too high (SGD at 10) makes the same happen the way it does in real life.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from toolkit.core.checkpoint import load_checkpoint
from toolkit.testing import run_cli

from .conftest import one_error_line, record_figure, write_recipe

PLUGIN = Path(__file__).parent / "plugins" / "nan_loss.py"


def _all_finite(state: dict) -> bool:
    import torch

    return all(torch.isfinite(t).all() for t in state.values() if torch.is_floating_point(t))


def _poisoned_recipe(tmp_path: Path, images: Path, value: str) -> Path:
    shutil.copy(PLUGIN, tmp_path / PLUGIN.name)
    return write_recipe(tmp_path / f"{value}.toml", images, epochs=3,
                        extra=f'[loss]\nname = "nan_at"\nepoch = 2\nbatch = 3\nvalue = "{value}"\n\n'
                              f'[plugins]\nmodules = ["{PLUGIN.name}"]\n')


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_loss_that_turns_non_finite_stops_with_epoch_and_batch_and_keeps_the_last_good_checkpoint(
        value, tmp_path, images, in_tmp):
    recipe = _poisoned_recipe(tmp_path, images, value)
    run_dir = tmp_path / "run"
    result = run_cli("run", recipe, "--out", run_dir, "--quiet")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert f"the loss became {value} at epoch 2, batch 3" in line, line
    assert f"{run_dir / 'last.pt'} (epoch 1)" in line
    assert "--set optim.lr=0.001" in line and "train.grad_clip" in line, line  # what to change, with values
    assert "epoch 2/" not in result.stdout  # the bad epoch never finished
    last = load_checkpoint(run_dir / "last.pt")
    assert (last["epoch"], last["status"]) == (1, "failed") and _all_finite(last["model"])
    best = load_checkpoint(run_dir / "best.pt")
    assert best["epoch"] == 1 and _all_finite(best["model"])
    assert len((run_dir / "history.jsonl").read_text().splitlines()) == 1
    record_figure("non-finite training", f"loss turned {value} at epoch 2, batch 3 (plugin): stopped there, "
                  "last.pt of epoch 1 finite and loadable", 1, 1)


def test_a_learning_rate_far_too_high_stops_the_run_cleanly(tmp_path, images, in_tmp):
    """A ViT (no batch norm to tame it) under SGD at 10 with momentum blows up within the first epoch."""
    recipe = write_recipe(tmp_path / "hot.toml", images, epochs=3, lr=10.0, backbone="test_vit")
    recipe.write_text(recipe.read_text().replace("[optim]\nlr = 10.0\n",
                                                 '[optim]\nname = "sgd"\nlr = 10.0\nmomentum = 0.9\n'))
    run_dir = tmp_path / "run"
    result = run_cli("run", recipe, "--out", run_dir, "--quiet")
    assert result.exit_code == 1, result.output
    line = one_error_line(result.stderr)
    found = re.search(r"the loss became (nan|inf|-inf) at epoch (\d+), batch (\d+)", line)
    assert found, line
    last = load_checkpoint(run_dir / "last.pt")
    assert last["status"] == "failed" and last["epoch"] == int(found.group(2)) - 1 and _all_finite(last["model"])
    assert "--set optim.lr=1" in line  # a tenth of 10
    record_figure("non-finite training", f"SGD at lr 10: loss became {found.group(1)} at epoch {found.group(2)}, "
                  f"batch {found.group(3)}; stopped, last.pt finite", 1, 1)
