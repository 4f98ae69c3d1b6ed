"""What both loggers need: a clear error for a missing library, and flat recipe parameters."""

from __future__ import annotations

import importlib
from typing import Any

from toolkit import PluginError


def require(module: str, logger: str, extra: str) -> Any:
    """Import ``module`` or raise one line naming the logger and the extra that installs it.

    The check runs when the run builds its loggers, before the first epoch, so a recipe with
    ``loggers = ["mlflow"]`` on a machine without MLflow fails at the start rather than
    training without the log the user asked for.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PluginError(
            f"train.loggers: logger '{logger}' needs the '{module}' package, which is not installed "
            f"({exc}); install it with: pip install 'tk-train[{extra}]' (or remove '{logger}' from train.loggers)."
        ) from None


def recipe_sections(recipe: Any) -> dict[str, dict[str, Any]]:
    """The recipe as plain ``{section: {key: value}}``, whether given a `Recipe` or a dict."""
    if recipe is None:
        return {}
    sections = getattr(recipe, "sections", recipe)
    return {s: dict(t) for s, t in sections.items() if isinstance(t, dict)}


def flat_params(recipe: Any) -> dict[str, str]:
    """``{"optim.lr": "0.001", ...}``: every recipe value as a string, for trackers' param tables."""
    out: dict[str, str] = {}
    for section, table in recipe_sections(recipe).items():
        for key, value in table.items():
            if value is None:
                continue
            out[f"{section}.{key}"] = str(value)
    return out


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """The plain numbers of a metrics dict (per-class tables and lists are left out)."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}
