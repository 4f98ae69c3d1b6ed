"""Tables a person can read: fitted to the terminal, or plain full-width text for pipes and files.

In a terminal, a table wider than the window loses whole columns — the least important first, in
the order the caller gives — instead of cutting every cell to "onn" and "0.", and a note names
what was left out. Piped or redirected, the table is plain text with every column at its full
width (no box, no truncation), which ``grep``, ``column`` and log files handle.
"""

from __future__ import annotations

from typing import Sequence

import click

__all__ = ["print_table"]


def _plain(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[str]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if h in right else c.ljust(w)
                         for c, w, h in zip(cells, widths, headers)).rstrip()

    return "\n".join([title, fmt(headers), *(fmt(r) for r in rows)])


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[str],
                drop_first: Sequence[str] = (), styles: Sequence[str] | None = None, console=None) -> None:
    """Print the table (see the module docstring); ``drop_first`` lists columns to hide, in order,
    when the terminal is too narrow. ``console``: a rich Console to print to (default: stdout's)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(soft_wrap=False)
    if not console.is_terminal:
        click.echo(_plain(title, headers, rows, right))
        return
    keep = list(range(len(headers)))

    def build() -> Table:
        table = Table(title=title)
        for i in keep:
            table.add_column(headers[i], justify="right" if headers[i] in right else "left", no_wrap=True)
        for n, row in enumerate(rows):
            table.add_row(*[row[i] for i in keep], style=(styles[n] if styles else ""))
        return table

    def natural_width(table: Table) -> int:  # unclamped: console.measure would cap it at the window
        return console.measure(table, options=console.options.update_width(100_000)).maximum

    table = build()
    hidden = []
    for name in drop_first:
        if natural_width(table) <= console.width or name not in headers:
            continue
        keep.remove(headers.index(name))
        hidden.append(name)
        table = build()
    console.print(table)
    if hidden:
        console.print(f"(left out to fit {console.width} columns: {', '.join(hidden)}; widen the window, or "
                      f"pipe the output for every column)", markup=False)
