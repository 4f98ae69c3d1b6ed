"""Optimisers and learning-rate schedules."""

from __future__ import annotations

from toolkit import hookimpl

from .optimizers import adamw
from .schedules import constant, cosine


@hookimpl
def tk_register_optimizers(register):
    register("adamw", adamw)


@hookimpl
def tk_register_schedulers(register):
    register("cosine", cosine)
    register("constant", constant)
