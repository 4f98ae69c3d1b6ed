"""Errors a user can cause and fix.

Every exception here is a *user* mistake (a missing dataset, a bad recipe key, an unknown
plugin), not a bug. The CLI catches `TkError` and prints its message as one line, without a
traceback, so each message must be one clear sentence naming the file, key or image and what
to do about it. Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["TkError", "DataError", "RecipeError", "PluginError"]


class TkError(Exception):
    """A mistake the user can fix; the CLI prints it as one line, no traceback."""


class DataError(TkError):
    """The dataset on disk is missing, empty or unusable as given."""


class RecipeError(TkError):
    """The recipe (TOML or `--set` overrides) is invalid."""


class PluginError(TkError):
    """A plugin is missing, fails to load, or registers something invalid."""
