"""Loggers: TensorBoard and MLflow, attached to a run with ``[train] loggers = [...]``.

A logger is a callback like any other (`toolkit.Callback`), registered through
`tk_register_loggers` so that a recipe can name it in ``train.loggers``: tk builds it on the
process of rank 0 only and runs it right after its ``events`` callback, once ``last.pt`` is
written. It opens in ``on_train_start`` (``state.epoch`` > 0 when resuming), logs
``state.metrics`` in ``on_train_epoch_end`` and closes in ``teardown``, which always comes, with
``state.status`` (finished, stopped, interrupted, failed) and ``state.final_metrics``. The
factory may declare the run context ``run_dir``, ``recipe`` and ``name`` by parameter name.

Both loggers here are optional: their libraries come with the extras
``pip install 'tk-train[tensorboard]'`` and ``pip install 'tk-train[mlflow]'``. A recipe that asks for one
whose library is missing fails before training with one line saying what to install.

Writing your own logger takes a class and a registration::

    from toolkit import Callback, hookimpl

    class PrintLogger(Callback):
        def on_train_epoch_end(self, state):
            print(state.epoch, state.metrics["val_accuracy"])

    @hookimpl
    def tk_register_loggers(register):
        register("print", lambda run_dir=None: PrintLogger())

and an entry point in your package's ``pyproject.toml``::

    [project.entry-points.tk]
    my_loggers = "tk_my_loggers"
"""

from __future__ import annotations

from toolkit import hookimpl

from .mlflow_logger import mlflow_logger
from .tensorboard_logger import tensorboard_logger


@hookimpl
def tk_register_loggers(register):
    register("tensorboard", tensorboard_logger,
             description="TensorBoard event files in <run>/tensorboard (needs the 'tensorboard' extra)")
    register("mlflow", mlflow_logger,
             description="an MLflow run per tk run, at MLFLOW_TRACKING_URI (needs the 'mlflow' extra)")
