"""Options several commands share, checked the same way: one line for a bad value."""

from __future__ import annotations

import click

__all__ = ["threads_value"]


def threads_value(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """--threads must be a whole number of at least 1: one line otherwise (click's own message
    for a bad integer is a usage block)."""
    from ..core.errors import TkError

    if value is None:
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise TkError(f"--threads {value}: give the number of CPU threads, a whole number of at least 1.")
    return int(text)
