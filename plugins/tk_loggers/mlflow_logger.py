"""MLflow: one MLflow run per tk run, in the tracking store ``MLFLOW_TRACKING_URI`` names.

Written against MLflow's documented client API (`mlflow.MlflowClient`), not the fluent
``mlflow.start_run()`` one: the fluent API keeps one *active* run per process, and `tk tune`
trains many runs in one process. The experiment is ``MLFLOW_EXPERIMENT_NAME`` or the recipe's
name. The resolved recipe goes in as parameters (``optim.lr`` …), each epoch's numbers as
metrics at step ``epoch``, the final evaluation as ``final_*`` metrics, and the run folder's
report files and ``best.pt`` as artifacts. The MLflow run id is kept in ``<run>/mlflow_run_id``
so that ``tk run --resume`` continues the same MLflow run instead of starting another.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from toolkit import Callback, TrainState

from ._common import flat_params, require, scalars

RUN_ID_FILE = "mlflow_run_id"
ARTIFACTS = ("metrics.json", "history.jsonl", "recipe.toml", "report.html", "curves.png",
             "confusion_matrix.png", "best.pt")
_STATUS = {"finished": "FINISHED", "stopped": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}


class MlflowLogger(Callback):
    """Logs to MLflow through an `mlflow.MlflowClient` bound to one run id (a callback, rank 0 only)."""

    def __init__(self, run_dir: Path, recipe: Any, tracking_uri: str | None, experiment: str):
        self.run_dir = Path(run_dir)
        self.recipe = recipe
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.client = None
        self.run_id: str | None = None

    def _experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        from mlflow.exceptions import MlflowException

        try:
            return self.client.create_experiment(self.experiment)
        except MlflowException:  # another process created it in between
            return self.client.get_experiment_by_name(self.experiment).experiment_id

    def on_train_start(self, state: TrainState) -> None:
        from mlflow import MlflowClient
        from mlflow.entities import Param

        from toolkit import atomic_write

        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        id_file = self.run_dir / RUN_ID_FILE
        if id_file.is_file() and state.epoch > 0:
            self.run_id = id_file.read_text(encoding="utf-8").strip()
            self.client.update_run(self.run_id, status="RUNNING")
            return  # parameters were logged when the run began; MLflow refuses changed values
        created = self.client.create_run(
            self._experiment_id(),
            run_name=f"{self.run_dir.parent.name}/{self.run_dir.name}",
            tags={"tk.run_dir": str(self.run_dir.resolve())},
        )
        self.run_id = created.info.run_id
        atomic_write(id_file, lambda fh: fh.write(self.run_id.encode()))
        params = [Param(k, v[:6000]) for k, v in flat_params(self._resolved_recipe()).items()]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[start:start + 100])

    def _resolved_recipe(self) -> Any:
        """The run folder's resolved recipe.toml (plugin defaults spelt out), else the recipe given."""
        import tomllib

        try:
            return tomllib.loads((self.run_dir / "recipe.toml").read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return self.recipe

    def on_train_epoch_end(self, state: TrainState) -> None:
        self._log_metrics(scalars(state.metrics), step=int(state.epoch))

    def teardown(self, state: TrainState) -> None:
        if self.client is None or self.run_id is None:
            return
        self._log_metrics({f"final_{k}": v for k, v in scalars(state.final_metrics).items()}, step=0)
        for name in ARTIFACTS:
            path = self.run_dir / name
            if path.is_file():
                self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, status=_STATUS.get(state.status, "FINISHED"))

    def _log_metrics(self, values: dict[str, float], step: int) -> None:
        if self.client is None or self.run_id is None or not values:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in values.items()])


def mlflow_logger(run_dir: Path, recipe: Any = None) -> MlflowLogger:
    """One MLflow run per tk run at MLFLOW_TRACKING_URI (experiment: MLFLOW_EXPERIMENT_NAME or the recipe name)."""
    require("mlflow", "mlflow", "mlflow")
    name = getattr(recipe, "name", None) or Path(run_dir).parent.name or "tk"
    return MlflowLogger(Path(run_dir), recipe,
                        os.environ.get("MLFLOW_TRACKING_URI") or None,
                        os.environ.get("MLFLOW_EXPERIMENT_NAME") or name)
