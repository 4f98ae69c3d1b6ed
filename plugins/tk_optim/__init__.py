"""Optimisers (AdamW, Adam, SGD with momentum/Nesterov) and learning-rate schedules (cosine with
warm-up, step, reduce-on-plateau, one-cycle, constant).

Modules: `groups` (no decay on norms and biases, layer-wise LR decay), `optimizers`,
`schedules`. Model EMA is the engine's (``train.ema``), not an optimiser here.
"""

from __future__ import annotations

from toolkit import hookimpl

from .optimizers import adam, adamw, check_adam, check_sgd, sgd
from .schedules import check_cosine, constant, cosine, onecycle, plateau, step


@hookimpl
def tk_register_optimizers(register):
    register("adamw", adamw, check=check_adam)
    register("adam", adam, check=check_adam)
    register("sgd", sgd, check=check_sgd)


@hookimpl
def tk_register_schedulers(register):
    register("cosine", cosine, check=check_cosine)
    register("step", step)
    register("plateau", plateau)
    register("onecycle", onecycle)
    register("constant", constant)
