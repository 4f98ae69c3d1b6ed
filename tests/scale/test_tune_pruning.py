"""The pruning callback against a real Optuna study: it reports each epoch and stops a bad run."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.core.errors import RecipeError
from toolkit.engine.run import RunInfo
from toolkit.orchestrate.tune.study import PruningCallback


def _study():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    good = study.ask()
    good.report(0.9, 0)
    study.tell(good, 0.9)
    return study


def test_a_trial_below_the_median_is_stopped_as_pruned(tmp_path):
    study = _study()
    trial = study.ask()
    callback = PruningCallback(trial, "val_accuracy")
    run = RunInfo(dir=Path(tmp_path), recipe=None, class_names=["a", "b"])
    callback.tk_epoch_end(run=run, epoch=0, metrics={"val_accuracy": 0.2, "val_loss": 1.0})
    assert (callback.pruned_at, run.stop_reason, callback.values) == (0, "pruned", [0.2])
    assert study.trials[1].intermediate_values == {0: 0.2}


def test_a_trial_at_or_above_the_median_keeps_training(tmp_path):
    study = _study()
    callback = PruningCallback(study.ask(), "val_accuracy")
    run = RunInfo(dir=Path(tmp_path), recipe=None, class_names=["a", "b"])
    callback.tk_epoch_end(run=run, epoch=0, metrics={"val_accuracy": 0.95})
    assert (callback.pruned_at, run.stop_reason) == (None, None)


def test_an_unknown_metric_names_the_ones_reported(tmp_path):
    callback = PruningCallback(_study().ask(), "val_acc")
    run = RunInfo(dir=Path(tmp_path), recipe=None, class_names=["a", "b"])
    with pytest.raises(RecipeError, match=r"tune.metric: 'val_acc' is not reported by the run; choose one of "
                                          r"lr, val_accuracy"):
        callback.tk_epoch_end(run=run, epoch=0, metrics={"val_accuracy": 0.5, "lr": 0.1})
