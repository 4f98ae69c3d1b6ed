"""Kill-and-resume with callbacks that hold state: SWA (the averaged weights) and a step counter.

A run with ``[[train.callbacks]]`` is SIGKILLed right after epoch 2's ``last.pt`` is renamed into
place, resumed with ``--resume``, and compared with an uninterrupted run of the same recipe:
every tensor of best.pt and last.pt (the callbacks' saved state included), the history with
the callbacks' metrics, and metrics.json must be identical.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from toolkit.core.checkpoint import load_checkpoint
from toolkit.engine.train import run_recipe
from toolkit.recipe.load import load_recipe

from .conftest import record_figure, subprocess_env, write_recipe
from .killing import Moment, differences, just_written, kill_at, resume_to_end

PLUGIN = Path(__file__).parent / "plugins" / "step_counter.py"


def test_a_killed_swa_run_resumes_to_identical_weights(tmp_path, images):
    shutil.copy(PLUGIN, tmp_path / PLUGIN.name)
    recipe = write_recipe(tmp_path / "swa.toml", images, epochs=4, train_extra="early_stopping = false\nthreads = 1",
                          extra=f"""
[schedule]
name = "constant"

[[train.callbacks]]
name = "swa"
start_epoch = 2

[[train.callbacks]]
name = "step_counter"

[plugins]
modules = ["{PLUGIN.name}"]
""")
    env = subprocess_env()
    out = tmp_path / "killed"
    moment = Moment("after epoch 2", "last.pt of epoch 2 renamed into place", just_written("last.pt", 3))
    after, _ = kill_at(moment, recipe, out, tmp_path, env)
    assert after.checkpoints.get("last.pt", (0,))[0] >= 2, after
    resume_to_end(after, recipe, out, tmp_path, env)
    assert after.resumed_code == 0, after.resumed_output
    reference = run_recipe(load_recipe(recipe), out=tmp_path / "reference", quiet=True).run_dir
    problems = differences(reference, out)
    last = load_checkpoint(out / "last.pt")
    assert {k for k in last["callbacks"] if ":" in k} == {"0:swa", "1:step_counter"}  # tk's own are there by name
    assert int(last["callbacks"]["0:swa"]["averaged"]["n_averaged"]) == 3  # epochs 2, 3 and 4
    assert last["history"][-1]["counted_steps"] == last["global_step"]
    assert "swa_val_accuracy" in last["history"][-1] and "swa_val_accuracy" not in last["history"][0]
    record_figure("killed runs", "SIGKILL after epoch 2 of a run with stateful callbacks (SWA, a step counter), "
                  "resumed: identical", 1, int(not problems), lost=0)
    assert problems == []
