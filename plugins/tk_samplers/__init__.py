"""Samplers: the order in which a training epoch visits the images."""

from __future__ import annotations

from toolkit import hookimpl

from .random import random_sampler


@hookimpl
def tk_register_samplers(register):
    register("random", random_sampler)
