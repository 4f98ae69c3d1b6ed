"""Loggers are callbacks (#27): a logger plugin written here as a `toolkit.Callback`, named in
``train.loggers``, run by the `tk` CLI the way a user runs it.

What always holds, however training goes: the logger opens before the first epoch, sees every
epoch after ``last.pt`` holds it, and its ``teardown`` comes once, last, with the run's status
(finished, interrupted, failed) and, for a finished run, metrics.json's numbers; a logger that
raises is one line naming it, the others still close; ``tk --debug`` shows the plugin's own
traceback behind that line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.testing import make_image_folder, make_recipe, run_cli

LOGGERS = '''\
import json, os
import torch
from toolkit import Callback, hookimpl


class JsonLog(Callback):
    """Writes what it sees to <run>/<file>: the moments in order, with what a tracker needs."""

    def __init__(self, run_dir, file, fail_at=None, interrupt=False):
        self.path = os.path.join(run_dir, file)
        self.fail_at, self.interrupt = fail_at, interrupt

    def _write(self, **row):
        with open(self.path, "a") as fh:
            fh.write(json.dumps(row) + "\\n")

    def on_train_start(self, state):
        self._write(moment="start", epoch=state.epoch, main=state.is_main)

    def on_train_epoch_end(self, state):
        last = torch.load(os.path.join(state.run_dir, "last.pt"), map_location="cpu", weights_only=False)
        self._write(moment="epoch", epoch=state.epoch, last_pt_epoch=last["epoch"],
                    val_accuracy=state.metrics["val_accuracy"])
        if self.interrupt:
            raise KeyboardInterrupt
        if self.fail_at == state.epoch:
            raise RuntimeError("tracker unreachable")

    def teardown(self, state):
        self._write(moment="teardown", status=state.status, final=state.final_metrics.get("accuracy"))


@hookimpl
def tk_register_loggers(register):
    register("jsonl", lambda run_dir: JsonLog(run_dir, "log.jsonl"))
    register("second", lambda run_dir: JsonLog(run_dir, "second.jsonl"))
    register("flaky", lambda run_dir: JsonLog(run_dir, "flaky.jsonl", fail_at=0))
    register("ctrl_c", lambda run_dir: JsonLog(run_dir, "ctrl_c.jsonl", interrupt=True))
'''


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("loggers")
    make_image_folder(root / "images", {"a": 8, "b": 8}, size=32)
    (root / "my_loggers.py").write_text(LOGGERS)
    return root


def _recipe(folder: Path, name: str, loggers: list[str]) -> Path:
    return make_recipe(folder / f"{name}.toml", folder / "images", epochs=2, batch_size=4,
                       train_extra=f"loggers = {json.dumps(loggers)}",
                       extra='[plugins]\nmodules = ["my_loggers.py"]\n')


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_logger_callback_sees_each_epoch_after_last_pt_and_closes_with_the_final_metrics(folder, tmp_path,
                                                                                         monkeypatch):
    monkeypatch.chdir(folder)
    result = run_cli("run", _recipe(folder, "ok", ["jsonl", "second"]), "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "run" / "log.jsonl")
    assert [r["moment"] for r in rows] == ["start", "epoch", "epoch", "teardown"]
    assert rows[0] == {"moment": "start", "epoch": 0, "main": True}
    assert [r["last_pt_epoch"] for r in rows[1:3]] == [1, 2]  # it runs after last.pt holds the epoch
    history = _rows(tmp_path / "run" / "history.jsonl")
    assert [r["val_accuracy"] for r in rows[1:3]] == [h["val_accuracy"] for h in history]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert rows[-1] == {"moment": "teardown", "status": "finished", "final": metrics["accuracy"]}
    assert _rows(tmp_path / "run" / "second.jsonl") == rows  # both loggers, each its own file


def test_a_raising_logger_is_one_line_naming_it_and_every_logger_still_closes(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)
    result = run_cli("run", _recipe(folder, "flaky", ["jsonl", "flaky"]), "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert "Callback 'flaky' (" in errors[0] and "my_loggers" in errors[0]  # the logger and its plugin
    assert "failed in on_train_epoch_end: RuntimeError: tracker unreachable" in errors[0]
    assert "Traceback" not in result.output
    for name in ("log.jsonl", "flaky.jsonl"):  # the one that failed and the one before it both closed
        assert _rows(tmp_path / "run" / name)[-1] == {"moment": "teardown", "status": "failed", "final": None}


def test_debug_shows_the_plugins_traceback_behind_the_one_line(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)
    monkeypatch.setenv("TK_DEBUG", "0")  # restored after the test: --debug sets it for child processes
    result = run_cli("--debug", "run", _recipe(folder, "debug", ["flaky"]), "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "Traceback (most recent call last):" in lines
    assert any("my_loggers.py" in line and "on_train_epoch_end" in line for line in lines)  # the plugin's frame
    assert 'raise RuntimeError("tracker unreachable")' in result.output
    assert lines[-1].startswith("Error: ") and "Callback 'flaky'" in lines[-1]  # the one line still ends it


def test_ctrl_c_in_a_logger_interrupts_the_run_and_teardown_says_interrupted(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)
    result = run_cli("run", _recipe(folder, "ctrl_c", ["ctrl_c"]), "--out", tmp_path / "run", "--quiet")
    assert result.exit_code != 0
    assert "Interrupted." in result.output and "--resume" in result.output
    rows = _rows(tmp_path / "run" / "ctrl_c.jsonl")
    assert [r["moment"] for r in rows] == ["start", "epoch", "teardown"]
    assert rows[-1] == {"moment": "teardown", "status": "interrupted", "final": None}


def test_a_logger_that_is_neither_a_callback_nor_has_event_hooks_is_blamed(folder, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)
    (folder / "bad_logger.py").write_text(
        "from toolkit import hookimpl\n\n@hookimpl\ndef tk_register_loggers(register):\n"
        "    register('nothing', lambda: object())\n")
    recipe = make_recipe(folder / "bad.toml", folder / "images", epochs=1, batch_size=4,
                         train_extra='loggers = ["nothing"]', extra='[plugins]\nmodules = ["bad_logger.py"]\n')
    result = run_cli("run", recipe, "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "returned object for logger 'nothing'" in errors[0], result.output
    assert "not a callback (see toolkit.Callback) or an object with event-hook methods" in errors[0]
    assert not (tmp_path / "run").exists()  # refused before the run folder was kept
