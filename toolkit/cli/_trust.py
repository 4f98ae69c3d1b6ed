"""``--trust-plugins``: the one way a command imports plugin modules named inside a file it was given.

A checkpoint or run folder stores the recipe it was trained with, including ``[plugins] modules``;
tk imports those only when the user says so for that command (see `toolkit.plugin.manager.trusting`).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import click

__all__ = ["trust_plugins_option"]


def trust_plugins_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--trust-plugins`` to a click command and run it inside `trusting` when given."""

    @click.option("--trust-plugins", is_flag=True,
                  help="Import the plugin modules the checkpoint's stored recipe names (code from the file's "
                       "author: only for files you trust). Installed plugins never need this.")
    @functools.wraps(command)
    def wrapper(*args: Any, trust_plugins: bool, **kwargs: Any) -> Any:
        from ..plugin.manager import trusting

        with trusting(everything=trust_plugins):
            return command(*args, **kwargs)

    return wrapper
