"""Callbacks as a plugin kind: listed in a recipe, called at each moment of the loop, able to add
metrics, stop the run and offer weights; their errors are one line like every other kind's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.core.checkpoint import load_checkpoint
from toolkit.plugin.callbacks import CALLBACK_METHODS
from toolkit.testing import make_image_folder, make_recipe, run_cli

RECORDER = '''
from toolkit import Callback, hookimpl


class Recorder(Callback):
    """Writes every call to calls.jsonl and the learning rate after each optimiser step to lr.csv;
    stops the run once ``stop_at_step`` steps are done."""

    def __init__(self, stop_at_step: int = 0):
        self.stop_at_step = stop_at_step

    def _log(self, state, what):
        if state.is_main:
            with open(state.run_dir / "calls.jsonl", "a") as fh:
                fh.write(json.dumps({"call": what, "epoch": state.epoch, "step": state.step}) + "\\n")

    def on_train_start(self, state):
        self._log(state, "on_train_start")

    def on_train_epoch_start(self, state):
        self._log(state, "on_train_epoch_start")

    def on_train_batch_end(self, state):
        if state.is_main:
            with open(state.run_dir / "lr.csv", "a") as fh:
                fh.write(f"{state.step},{state.optimizer.param_groups[0]['lr']}\\n")
        if self.stop_at_step and state.step >= self.stop_at_step:
            state.request_stop(f"recorder: {state.step} steps done")

    def on_validation_end(self, state):
        self._log(state, "on_validation_end")
        state.metrics["val_score"] = -state.metrics["val_loss"]

    def on_train_epoch_end(self, state):
        self._log(state, "on_train_epoch_end")

    def on_train_end(self, state):
        self._log(state, "on_train_end")

    def on_final_evaluation(self, state):
        self._log(state, "on_final_evaluation")
        final = state.final  # tk's calibration ran first: the model that ships is calibrated
        state.final.metrics["recorder"] = {"images": len(final.labels), "classes": final.logits.shape[1],
                                           "temperature": float(state.model.temperature),
                                           "best_epoch": final.checkpoint["epoch"]}
        state.final.report_html.append("<h2>Recorder</h2><p>seen by the recorder</p>")


@hookimpl
def tk_register_callbacks(register):
    register("recorder", Recorder, metrics=["val_score"])
'''


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recorder.py").write_text("import json\n" + RECORDER)
    images = make_image_folder(tmp_path / "images", {"a": 8, "b": 8}, size=32)
    return tmp_path, images


def _recipe(tmp_path: Path, images: Path, callbacks: str, epochs: int = 3, train_extra: str = "") -> Path:
    return make_recipe(tmp_path / "r.toml", images, epochs=epochs, batch_size=4, train_extra=train_extra,
                       extra=callbacks + '\n[plugins]\nmodules = ["recorder.py"]\n')


def test_every_moment_is_called_in_order_and_a_callback_can_stop_the_run(setup):
    tmp_path, images = setup
    recipe = _recipe(tmp_path, images, '[[train.callbacks]]\nname = "recorder"\nstop_at_step = 5\n', epochs=5,
                     train_extra="early_stopping = false")
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    calls = [json.loads(line) for line in (run / "calls.jsonl").read_text().splitlines()]
    names = [c["call"] for c in calls]
    assert names[0] == "on_train_start" and names[-2:] == ["on_train_end", "on_final_evaluation"]
    assert names[1:4] == ["on_train_epoch_start", "on_validation_end", "on_train_epoch_end"]
    lr = (run / "lr.csv").read_text().splitlines()
    last = load_checkpoint(run / "last.pt")
    assert [int(line.split(",")[0]) for line in lr] == list(range(1, last["global_step"] + 1))
    assert last["status"] == "stopped" and last["global_step"] >= 5
    assert last["epoch"] < 5  # stopped after the epoch in which step 5 came
    assert "recorder: " in result.output and "steps done" in result.output
    assert all("val_score" in h for h in last["history"])

    # after training: best.pt's validation predictions, calibrated first, sections added to the outputs
    metrics = json.loads((run / "metrics.json").read_text())
    best = load_checkpoint(run / "best.pt")
    seen = metrics["recorder"]
    assert seen["temperature"] == pytest.approx(metrics["calibration"]["temperature"])  # the model's float32 buffer
    assert {k: seen[k] for k in ("images", "classes", "best_epoch")} == {
        "images": metrics["data"]["val"], "classes": 2, "best_epoch": best["epoch"]}
    assert float(best["model"]["temperature"]) == pytest.approx(metrics["calibration"]["temperature"])
    assert "<h2>Recorder</h2>" in (run / "report.html").read_text()


def test_a_metric_a_callback_adds_can_pick_best_pt(setup):
    tmp_path, images = setup
    recipe = _recipe(tmp_path, images, '[[train.callbacks]]\nname = "recorder"\n', epochs=2,
                     train_extra='best_metric = "val_score"')
    assert run_cli("recipes", "check", recipe).exit_code == 0
    result = run_cli("run", recipe, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    history = load_checkpoint(tmp_path / "run" / "last.pt")["history"]
    assert best["metrics"]["val_score"] == max(h["val_score"] for h in history)


@pytest.mark.parametrize(("table", "says"), [
    ('[[train.callbacks]]\nname = "recordr"\n', "unknown callback 'recordr'. Did you mean 'recorder'?"),
    ('[[train.callbacks]]\nname = "recorder"\nstop_at = 3\n', "has no parameter 'stop_at'. Did you mean 'stop_at_step'?"),
    ('[[train.callbacks]]\nname = "swa"\nstart_epoch = 0\n', "start_epoch must be an epoch number >= 1"),
    ('[train]\ncallbacks = ["swa"]\n', "item 0 must be a table with a 'name'"),
])
def test_callback_mistakes_are_one_line_in_recipes_check(setup, table, says):
    tmp_path, images = setup
    recipe = make_recipe(tmp_path / "bad.toml", images, extra='[plugins]\nmodules = ["recorder.py"]\n')
    text = recipe.read_text()
    if table.startswith("[train]"):
        text = text.replace('device = "cpu"', 'device = "cpu"\ncallbacks = ["swa"]')
    else:
        text += table
    recipe.write_text(text)
    result = run_cli("recipes", "check", recipe)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0] and "train.callbacks" in lines[0], lines


def test_unknown_metric_of_no_callback_is_refused(setup):
    tmp_path, images = setup
    recipe = make_recipe(tmp_path / "m.toml", images, train_extra='best_metric = "swa_val_accuracy"')
    result = run_cli("recipes", "check", recipe)
    assert result.exit_code == 1 and "unknown metric 'swa_val_accuracy'" in result.stderr
    recipe.write_text(recipe.read_text() + '\n[[train.callbacks]]\nname = "swa"\n')
    assert run_cli("recipes", "check", recipe).exit_code == 0


def test_swa_trains_scores_and_offers_its_weights(setup):
    tmp_path, images = setup
    recipe = make_recipe(tmp_path / "swa.toml", images, epochs=3, batch_size=4,
                         train_extra='best_metric = "swa_val_accuracy"',
                         extra='[schedule]\nname = "constant"\n\n[[train.callbacks]]\nname = "swa"\nstart_epoch = 2\n')
    result = run_cli("run", recipe, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert "swa_val_accuracy" not in last["history"][0]
    assert all(k in last["history"][1] for k in ("swa_val_loss", "swa_val_accuracy", "swa_val_macro_f1"))
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["epoch"] >= 2 and best["metrics"]["weights"] == "swa"
    assert int(last["callbacks"]["0:swa"]["averaged"]["n_averaged"]) == 2
    # the averaged weights in best.pt score what the history says they scored
    evaluated = run_cli("eval", tmp_path / "run" / "best.pt", "--run", tmp_path / "run", "--split", "val",
                        "--json", tmp_path / "e.json")
    assert evaluated.exit_code == 0, evaluated.output
    epoch = best["epoch"]
    acc = json.loads((tmp_path / "e.json").read_text())["accuracy"]
    assert acc == pytest.approx(last["history"][epoch - 1]["swa_val_accuracy"], abs=1e-6)


def test_the_moments_are_documented():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    for method in CALLBACK_METHODS:
        assert method in doc
