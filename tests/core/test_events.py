"""Event hooks seen from a real `tk run`: a recipe-local plugin records every call.

This also drives `[plugins] modules = ["recorder.py"]` end to end: a plugin file next to
the recipe, loaded for that run only.
"""

import json

from toolkit.testing import make_image_folder, make_recipe

RECORDER = '''
import json, os
from toolkit import hookimpl

LOG = os.path.join(os.path.dirname(__file__), "events.jsonl")
STOP_AFTER = int(os.environ.get("RECORDER_STOP_AFTER", "-1"))


def _write(**item):
    with open(LOG, "a") as fh:
        fh.write(json.dumps(item) + "\\n")


@hookimpl
def tk_run_start(run):
    _write(hook="tk_run_start", epoch=run.epoch, classes=list(run.class_names), dir=str(run.dir))


@hookimpl
def tk_epoch_end(run, epoch, metrics):
    _write(hook="tk_epoch_end", epoch=epoch, keys=sorted(metrics))
    if epoch == STOP_AFTER:
        run.request_stop("recorder asked to stop")


@hookimpl
def tk_checkpoint_saved(run, path, kind):
    _write(hook="tk_checkpoint_saved", kind=kind, exists=os.path.isfile(path), name=os.path.basename(str(path)))


@hookimpl
def tk_run_end(run, status, metrics):
    _write(hook="tk_run_end", status=status, has_accuracy="accuracy" in metrics)
'''


def _recipe(tmp_path, epochs):
    root = make_image_folder(tmp_path / "images", {"a": 8, "b": 8}, size=32)
    (tmp_path / "recorder.py").write_text(RECORDER)
    return make_recipe(tmp_path / "events.toml", root, epochs=epochs, batch_size=8,
                       extra='[plugins]\nmodules = ["recorder.py"]')


def _events(tmp_path):
    return [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]


def test_event_hooks_fire_in_order_with_real_values(tmp_path, tk_cli):
    recipe = _recipe(tmp_path, epochs=2)
    result = tk_cli("run", str(recipe), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    events = _events(tmp_path)
    hooks = [e["hook"] for e in events]
    assert hooks[0] == "tk_run_start" and hooks[-1] == "tk_run_end"
    assert events[0] == {"hook": "tk_run_start", "epoch": 0, "classes": ["a", "b"], "dir": str(tmp_path / "run")}
    assert [e["epoch"] for e in events if e["hook"] == "tk_epoch_end"] == [0, 1]
    epoch_end = next(e for e in events if e["hook"] == "tk_epoch_end")
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "epoch_time"} <= set(epoch_end["keys"])
    saved = [e for e in events if e["hook"] == "tk_checkpoint_saved"]
    assert {e["kind"] for e in saved} >= {"last", "best"} and all(e["exists"] for e in saved)
    assert {e["name"] for e in saved} >= {"last.pt", "best.pt"}
    assert events[-1] == {"hook": "tk_run_end", "status": "finished", "has_accuracy": True}


def test_request_stop_from_epoch_end_stops_the_run(tmp_path, tk_cli, monkeypatch):
    monkeypatch.setenv("RECORDER_STOP_AFTER", "0")
    recipe = _recipe(tmp_path, epochs=5)
    result = tk_cli("run", str(recipe), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    events = _events(tmp_path)
    assert [e["epoch"] for e in events if e["hook"] == "tk_epoch_end"] == [0]
    assert events[-1]["hook"] == "tk_run_end" and events[-1]["status"] == "stopped"
    assert "recorder asked to stop" in result.output
