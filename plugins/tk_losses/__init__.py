"""Losses: cross-entropy with class weights and label smoothing."""

from __future__ import annotations

from toolkit import hookimpl

from .cross_entropy import cross_entropy


@hookimpl
def tk_register_losses(register):
    register("cross_entropy", cross_entropy)
