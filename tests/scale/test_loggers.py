"""Logger plugins driven through `tk run`: TensorBoard files tensorboard reads, MLflow runs,
and one clear line when a logger's library is not installed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from toolkit.cli import cli

from .conftest import tk_env


def test_tensorboard_events_load_with_tensorboards_reader_across_resume_and_fresh(tmp_path, make_recipe,
                                                                                   monkeypatch):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def scalars(tag: str) -> list[tuple[int, float]]:
        events = EventAccumulator(str(run_dir / "tensorboard"))
        events.Reload()
        return [(e.step, round(e.value, 5)) for e in events.Scalars(tag)]

    def history(key: str) -> list[tuple[int, float]]:
        rows = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines() if line]
        return [(row["epoch"] - 1, round(row[key], 5)) for row in rows]

    monkeypatch.chdir(tmp_path)
    recipe = make_recipe("tb", epochs=1, extra='loggers = ["tensorboard"]')
    result = CliRunner().invoke(cli, ["run", str(recipe), "--quiet"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "tb" / "1"
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    for tag in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        assert tag in events.Tags()["scalars"]
    assert "recipe/text_summary" in events.Tags()["tensors"]  # the resolved recipe, as text
    assert scalars("val_accuracy") == history("val_accuracy")

    # --resume continues the same curves: each epoch once, with the values of history.jsonl.
    result = CliRunner().invoke(cli, ["run", str(recipe), "--quiet", "--resume", str(run_dir),
                                      "--set", "train.epochs=2"])
    assert result.exit_code == 0, result.output
    assert [step for step, _ in scalars("val_loss")] == [0, 1]
    assert scalars("val_loss") == history("val_loss")

    # A run started --fresh in the same folder replaces the old curves instead of mixing with them.
    result = CliRunner().invoke(cli, ["run", str(recipe), "--quiet", "--out", str(run_dir), "--fresh"])
    assert result.exit_code == 0, result.output
    assert scalars("val_loss") == history("val_loss") and len(history("val_loss")) == 1


def test_missing_mlflow_is_one_line_naming_the_extra(tmp_path, make_recipe, monkeypatch):
    """Without the mlflow package (simulated where the test environment has it: `import mlflow` fails)."""
    import sys

    if importlib.util.find_spec("mlflow") is not None:
        monkeypatch.setitem(sys.modules, "mlflow", None)  # what Python does for a package that is not there
    monkeypatch.chdir(tmp_path)
    recipe = make_recipe("ml", epochs=1, extra='loggers = ["mlflow"]')
    result = CliRunner().invoke(cli, ["run", str(recipe), "--quiet"])
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and error[0].startswith(f"Error: {recipe}:")  # the file and line of train.loggers
    assert "train.loggers: logger 'mlflow' needs the 'mlflow' package, which is not installed (" in error[0]
    assert error[0].endswith("); install it with: pip install 'tk-train[mlflow]' (or remove 'mlflow' from "
                             "train.loggers).")
    assert "Traceback" not in result.output


def test_missing_tensorboard_is_one_line_naming_the_extra(tmp_path, make_recipe):
    """The real CLI in a process where the tensorboard package cannot be imported."""
    recipe = make_recipe("tbmissing", epochs=1, extra='loggers = ["tensorboard"]')
    code = ("import sys; sys.modules['tensorboard'] = None; sys.argv = ['tk'] + sys.argv[1:]; "
            "from toolkit.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, "run", str(recipe), "--quiet"], cwd=tmp_path, env=tk_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: {recipe}:") and (
        "train.loggers: logger 'tensorboard' needs the 'tensorboard' package, which is not installed" in last)
    assert "pip install 'tk-train[tensorboard]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mlflow_logger_records_params_metrics_and_artifacts(tmp_path, make_recipe, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    recipe = make_recipe("mlrun", epochs=2, extra='loggers = ["mlflow"]')
    result = CliRunner().invoke(cli, ["run", str(recipe), "--quiet"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "mlrun" / "1"
    client = mlflow.MlflowClient(uri)
    logged = client.get_run((run_dir / "mlflow_run_id").read_text())
    assert logged.info.status == "FINISHED"
    assert client.get_experiment(logged.info.experiment_id).name == "mlrun"
    assert logged.data.params["model.backbone"] == "test_efficientnet"
    assert logged.data.params["optim.lr"] == "0.01"
    assert [m.step for m in client.get_metric_history(logged.info.run_id, "val_accuracy")] == [0, 1]
    assert "final_accuracy" in logged.data.metrics
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"metrics.json", "history.jsonl", "best.pt"} <= artifacts
