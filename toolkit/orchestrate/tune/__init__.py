"""Hyperparameter search with Optuna over a recipe's ``[tune]`` table (`tk tune`).

`space` reads and validates the table, `study` runs trials (each a normal run folder) with
pruning from the epoch-end hook, `summary` reports the best trials and writes the best recipe
and plots. Optuna is imported only when a study is opened.
"""

from __future__ import annotations

from .space import Param, TuneSpec, parse_tune
from .study import PruningCallback, run_trials
from .summary import Summary, summarize

__all__ = ["Param", "PruningCallback", "Summary", "TuneSpec", "parse_tune", "run_trials", "summarize"]
