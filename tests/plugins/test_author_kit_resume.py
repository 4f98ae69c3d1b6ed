"""The author's kit, kill and resume: `toolkit.testing.assert_resume_identical` passes a callback
that keeps its state and fails one that forgets it (naming the key), and compares the plugin's own
run files when named — a file appended to before a kill must follow the checkpoint."""

from __future__ import annotations

import pytest

from toolkit.testing import assert_resume_identical, make_image_folder, make_recipe
from toolkit.testing.resume import Moment


# -- kill and resume -----------------------------------------------------------------------------
COUNTER = '''\
from toolkit import Callback, hookimpl


class Counter(Callback):
    """Counts training batches into the metric batches_seen; keeps the count only if asked to."""

    def __init__(self, remember):
        self.remember, self.count = remember, 0

    def on_train_batch_end(self, state):
        self.count += 1

    def on_validation_end(self, state):
        state.metrics["batches_seen"] = self.count

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        if self.remember:
            self.count = state["count"]


@hookimpl
def tk_register_callbacks(register):
    register("counter", lambda remember=True: Counter(remember), metrics=["batches_seen"])
'''


@pytest.mark.parametrize("remember", [True, False], ids=["keeps-its-state", "forgets-its-state"])
def test_assert_resume_identical(tmp_path, remember):
    images = make_image_folder(tmp_path / "images", {"a": 8, "b": 8}, size=32)
    (tmp_path / "counter.py").write_text(COUNTER)
    recipe = make_recipe(tmp_path / "count.toml", images, epochs=3, batch_size=4, train_extra="threads = 1",
                         extra=f'[plugins]\nmodules = ["counter.py"]\n\n[[train.callbacks]]\nname = "counter"\n'
                               f'remember = {str(remember).lower()}\n')
    if remember:
        done = assert_resume_identical(recipe, workdir=tmp_path / "runs")
        assert done.aftermath.how_resumed == "--resume" and (done.resumed / "report.html").exists()
        return
    with pytest.raises(AssertionError) as caught:
        assert_resume_identical(recipe, workdir=tmp_path / "runs")
    assert "differs from the uninterrupted one" in str(caught.value)
    assert "history differs" in str(caught.value)
    assert "last.pt callbacks differs (first 0:counter.count)" in str(caught.value)  # names the key


STEP_FILE = '''\
import time

from toolkit import Callback, hookimpl


class StepFile(Callback):
    """Appends each training step to steps.csv; with cut_back, a resumed run first drops the rows
    written after the checkpoint it resumes from (what docs/plugins.md tells authors to do)."""

    def __init__(self, cut_back):
        self.cut_back = cut_back

    def on_train_start(self, state):
        self.resumed = state.step > 0
        path = state.run_dir / "steps.csv"
        if self.cut_back and path.exists():
            rows = path.read_text().splitlines()
            path.write_text("".join(r + "\\n" for r in rows if int(r) <= state.step))

    def on_train_batch_end(self, state):
        if state.stepped and state.is_main:
            with open(state.run_dir / "steps.csv", "a") as fh:
                fh.write(f"{state.step}\\n")
            if state.step in (4, 5) and not self.resumed:  # hold the kill's window open: steps of epoch 2
                time.sleep(2)                               # logged, epoch 2 not yet in last.pt (no effect on numbers)


@hookimpl
def tk_register_callbacks(register):
    register("step_file", lambda cut_back=True: StepFile(cut_back))
'''


@pytest.mark.parametrize("cut_back", [True, False], ids=["cut-back", "appends-twice"])
def test_assert_resume_identical_compares_the_files_named(tmp_path, cut_back):
    images = make_image_folder(tmp_path / "images", {"a": 8, "b": 8}, size=32)
    (tmp_path / "step_file.py").write_text(STEP_FILE)
    recipe = make_recipe(tmp_path / "steps.toml", images, epochs=3, batch_size=4, train_extra="threads = 1",
                         extra=f'[plugins]\nmodules = ["step_file.py"]\n\n[[train.callbacks]]\nname = "step_file"\n'
                               f'cut_back = {str(cut_back).lower()}\n')
    # Killed once a step of epoch 2 is in steps.csv (3 steps an epoch) and before epoch 2's last.pt:
    # rows after the checkpoint exist when the run is killed, however loaded the machine.
    steps = tmp_path / "runs" / "killed" / "steps.csv"
    moment = Moment("epoch-2-logged", "after a step of epoch 2 was logged",
                    lambda watched, names: steps.is_file() and len(steps.read_text().split()) >= 4)
    if cut_back:
        done = assert_resume_identical(recipe, workdir=tmp_path / "runs", files=["steps.csv"], moment=moment)
        rows = (done.resumed / "steps.csv").read_text().splitlines()
        assert rows == [str(i) for i in range(1, len(rows) + 1)]  # every step once, in order
        return
    with pytest.raises(AssertionError) as caught:
        assert_resume_identical(recipe, workdir=tmp_path / "runs", files=["steps.csv"], moment=moment)
    assert "steps.csv differs (a file appended to before the kill must be cut back" in str(caught.value)


def test_assert_resume_identical_needs_epochs_to_kill(tmp_path):
    recipe = make_recipe(tmp_path / "one.toml", tmp_path, epochs=1)
    with pytest.raises(ValueError, match="needs 2 epochs or more"):
        assert_resume_identical(recipe)
