"""Samplers: the order in which a training epoch visits the images, deterministic by seed+epoch.

``random`` visits every image once in a new order each epoch; ``class_balanced`` and
``sqrt_balanced`` draw with replacement so rare classes are seen (much) more often.
"""

from __future__ import annotations

from toolkit import hookimpl

from .balanced import class_balanced, sqrt_balanced
from .random import random_sampler


@hookimpl
def tk_register_samplers(register):
    register("random", random_sampler)
    register("class_balanced", class_balanced)
    register("sqrt_balanced", sqrt_balanced)
