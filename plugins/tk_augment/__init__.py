"""Batch augmentations that run on the training device, per-sample random."""

from __future__ import annotations

from toolkit import hookimpl

from .color import color_jitter


@hookimpl
def tk_register_augmentations(register):
    register("color_jitter", color_jitter)
