"""The ``[tune]`` table of a recipe: the search space and the study's settings, validated.

A quoted ``"section.key"`` names a recipe key to search; its value says how::

    [tune]
    metric = "val_accuracy"                 # any metric tk_epoch_end reports
    direction = "maximize"                  # or "minimize" (default: minimize for *loss*)
    pruner = "median"                       # "median", "hyperband" or "none"
    "optim.lr" = { low = 1e-5, high = 1e-2, log = true }      # float, log-uniform
    "model.drop_rate" = { low = 0.0, high = 0.5, step = 0.1 } # float on a grid
    "train.batch_size" = { choices = [16, 32] }               # categorical
    "train.accumulate" = { low = 1, high = 4, int = true }     # integer (step 1 unless given)

A bare list is short for ``choices``; an unquoted ``optim.lr = {...}`` (a TOML dotted key)
means the same as the quoted one. Every other key is a setting (`SETTINGS`). Everything is
checked before the first trial: the shape of each entry, and that every value the entry can
produce (its bounds, a point inside, each choice) is accepted by the recipe — so
``"train.batch_size" = { low = 8, high = 64 }`` fails at once, saying to add ``int = true``,
instead of in trial 7. Each mistake is one `RecipeError` line naming ``tune.KEY``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from ...core.errors import RecipeError, TkError
from ...recipe.schema import SCHEMA

__all__ = ["Param", "TuneSpec", "parse_tune", "SETTINGS", "PRUNERS", "SAMPLERS", "toml_literal"]

PRUNERS = ("median", "hyperband", "none")
SAMPLERS = ("tpe", "random")
SETTINGS: dict[str, str] = {
    "metric": "validation or training metric to optimise, e.g. val_accuracy (default: train.best_metric)",
    "direction": "'maximize' or 'minimize' (default: minimize when the metric is a loss)",
    "pruner": "stop unpromising trials early: " + ", ".join(PRUNERS) + " (default: median)",
    "sampler": "how trials pick values: " + ", ".join(SAMPLERS) + " (default: tpe)",
    "startup_trials": "trials that run in full before pruning starts (default: 3)",
    "warmup_epochs": "epochs a trial always trains before it may be pruned (default: 1)",
    "seed": "seed of the sampler (default: none, so parallel workers explore differently)",
}
_RANGE_KEYS = {"low", "high", "log", "step", "int"}


@dataclass(frozen=True)
class Param:
    """One searched recipe key and its distribution."""

    key: str  # "section.key"
    kind: str  # "float", "int" or "choice"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """Ask an Optuna trial for a value of this key."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)

    def probes(self) -> list[Any]:
        """Values this entry can produce, covering its bounds and its type, for up-front checks."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        middle = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
        return [float(self.low), float(self.high), middle]


@dataclass
class TuneSpec:
    """The search space and the settings of a study."""

    params: list[Param]
    metric: str
    direction: str
    pruner: str = "median"
    sampler: str = "tpe"
    startup_trials: int = 3
    warmup_epochs: int = 1
    seed: int | None = None

    def overrides(self, values: dict[str, Any]) -> list[str]:
        """``--set``-style overrides that put the values of one trial into the recipe."""
        return [f"{key}={toml_literal(value)}" for key, value in values.items()]


def toml_literal(value: Any) -> str:
    """A scalar as a TOML literal (what `toolkit.recipe.load.parse_override` reads back)."""
    from ...recipe.toml_text import toml_value

    if not isinstance(value, (bool, int, float, str)):
        raise TypeError(f"cannot write {type(value).__name__} as a recipe value")
    return toml_value(value)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _parse_param(key: str, spec: Any, fail: Callable[[str, str], RecipeError]) -> Param:
    section, _, name = key.partition(".")
    if section not in SCHEMA or section in ("tune", "plugins") or not name or "." in name:
        tunable = ", ".join(s for s in SCHEMA if s not in ("tune", "plugins"))
        raise fail(key, f"not a recipe key; searched keys are quoted \"section.key\" with a section among {tunable}.")
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, dict):
        raise fail(key, "must be a table such as { low = 1e-5, high = 1e-2, log = true } or { choices = [16, 32] }.")
    if "choices" in spec:
        if set(spec) != {"choices"}:
            raise fail(key, f"'choices' cannot be combined with {', '.join(sorted(set(spec) - {'choices'}))}.")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise fail(key, "choices must be a non-empty list.")
        for c in choices:
            if not isinstance(c, (str, int, float, bool)):
                raise fail(key, f"choices must be strings, numbers or booleans, not {c!r}.")
        if len(set(map(repr, choices))) != len(choices):
            raise fail(key, "choices must not repeat a value.")
        return Param(key, "choice", choices=tuple(choices))
    unknown = set(spec) - _RANGE_KEYS
    if unknown:
        raise fail(key, f"unknown field {', '.join(sorted(unknown))}; a range takes low, high, log, step, int "
                        "(or give choices = [...]).")
    if "low" not in spec or "high" not in spec:
        raise fail(key, "needs both low and high (or choices = [...]).")
    low, high = spec["low"], spec["high"]
    if not _is_number(low) or not _is_number(high):
        raise fail(key, f"low and high must be numbers, not {low!r} and {high!r}.")
    if not low < high:
        raise fail(key, f"low ({low}) must be below high ({high}).")
    for flag in ("log", "int"):
        if not isinstance(spec.get(flag, False), bool):
            raise fail(key, f"{flag} must be true or false.")
    log, is_int, step = spec.get("log", False), spec.get("int", False), spec.get("step")
    if step is not None and (not _is_number(step) or step <= 0):
        raise fail(key, f"step must be a positive number, not {step!r}.")
    if log and low <= 0:
        raise fail(key, f"log = true needs low > 0, not {low}.")
    if is_int:
        if not all(isinstance(v, int) for v in (low, high)) or (step is not None and not isinstance(step, int)):
            raise fail(key, "int = true needs integer low, high and step.")
        if log and step not in (None, 1):
            raise fail(key, "int = true with log = true allows only step = 1.")
        return Param(key, "int", low, high, log, step)
    if log and step is not None:
        raise fail(key, "log = true and step cannot be combined for floats.")
    return Param(key, "float", float(low), float(high), log, None if step is None else float(step))


def _flatten(table: dict[str, Any]) -> dict[str, Any]:
    """Turn unquoted dotted keys (``optim.lr = {...}`` → ``{"optim": {"lr": {...}}}``) back into
    ``"optim.lr"`` entries; everything else is left as written."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        is_nested = (key in SCHEMA and isinstance(value, dict) and value
                     and all(isinstance(v, (dict, list)) for v in value.values()))
        if is_nested:
            for sub, spec in value.items():
                out[f"{key}.{sub}"] = spec
        else:
            out[key] = value
    return out


def _strip_location(message: str, path: Any) -> str:
    """Drop the ``FILE:LINE: `` / ``--set: `` prefix of a recipe error (the tune key says where)."""
    prefixes = ["--set"] + ([re.escape(str(path))] if path is not None else [])
    return re.sub(rf"^(?:{'|'.join(prefixes)})(?::\d+)?: ", "", message)


def parse_tune(recipe: Any, check: Callable[[str, Any], None] | None = None, plugins: Any | None = None) -> TuneSpec:
    """Read and validate ``recipe["tune"]``.

    ``check(key, value)`` is called for every probe value of every searched key and raises
    `TkError` when the recipe would refuse it (the caller loads the recipe with that override
    and validates it against the plugins); its message is re-worded to name ``tune.KEY``.
    """
    table = _flatten(dict(recipe["tune"]))

    def fail(key: str, message: str) -> RecipeError:
        return RecipeError(f"{recipe.where('tune', key)}tune.{key}: {message}")

    params: list[Param] = []
    settings: dict[str, Any] = {}
    for key, value in table.items():
        if "." in key:
            params.append(_parse_param(key, value, fail))
        elif key in SETTINGS:
            settings[key] = value
        elif isinstance(value, (dict, list)):
            raise fail(key, f"searched keys name a recipe key as \"section.key\" (e.g. \"optim.{key}\"); "
                            f"'{key}' is neither that nor a setting ({', '.join(SETTINGS)}).")
        else:
            raise fail(key, f"unknown setting; settings are {', '.join(SETTINGS)}.")
    metric = settings.get("metric", recipe["train"]["best_metric"])
    from ...engine.components import KNOWN_METRICS, declared_metrics

    allowed = [*KNOWN_METRICS, *([f"ema_{m}" for m in KNOWN_METRICS if m.startswith("val_")]
                                 if recipe["train"]["ema"] else [])]
    allowed += [m for m in declared_metrics(recipe, plugins) if m not in allowed]  # the recipe's callbacks' own
    if metric not in allowed:
        if "metric" not in settings:  # taken from train.best_metric: say so, not a tune.metric never written
            raise RecipeError(f"{recipe.where('train', 'best_metric')}train.best_metric: tk tune optimises it (no "
                              f"tune.metric given), but {metric!r} is no metric a trial reports; choose one of "
                              f"{', '.join(allowed)}.")
        raise fail("metric", f"unknown metric {metric!r}; choose one of {', '.join(allowed)}.")
    direction = settings.get("direction", "minimize" if "loss" in metric else "maximize")
    if direction not in ("maximize", "minimize"):
        raise fail("direction", f"must be 'maximize' or 'minimize', not {direction!r}.")
    pruner = settings.get("pruner", "median")
    if pruner not in PRUNERS:
        raise fail("pruner", f"must be one of {', '.join(PRUNERS)}, not {pruner!r}.")
    sampler = settings.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        raise fail("sampler", f"must be one of {', '.join(SAMPLERS)}, not {sampler!r}.")
    numbers = {}
    for key, default in (("startup_trials", 3), ("warmup_epochs", 1)):
        value = settings.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise fail(key, f"must be a whole number ≥ 0, not {value!r}.")
        numbers[key] = value
    seed = settings.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise fail("seed", f"must be an integer, not {seed!r}.")

    if not params:
        raise RecipeError(f"{recipe.where('tune')}[tune]: nothing to search; add the keys to search, e.g. "
                          "\"optim.lr\" = { low = 1e-5, high = 1e-2, log = true }.")

    if check is not None:
        for param in params:
            for value in param.probes():
                try:
                    check(param.key, value)
                except TkError as exc:
                    detail = _strip_location(str(exc), recipe.path)
                    hint = " Add int = true for an integer key." if param.kind == "float" and "integer" in detail else ""
                    raise fail(param.key, f"the value {value!r} is refused: {detail}{hint}") from None
    return TuneSpec(params, metric, direction, pruner, sampler, numbers["startup_trials"],
                    numbers["warmup_epochs"], seed)
