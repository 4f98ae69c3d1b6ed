"""Tables a person can read: fitted to the terminal, or plain full-width text for pipes and files.

In a terminal, a table wider than the window first loses whole columns — the least important
first, in the order the caller gives (``drop_first``) — and a note names what was left out. What
still does not fit is wrapped, never cut: the least important column first (``wrap_first``,
default right to left) is narrowed to its longest word, so an interval moves under its value
and a long note takes two lines; only then does a column of names or paths fold inside a word.
No cell is ever shortened to "73.21% [64.…" or "may_be_slide_…", so two class names can never
read alike. Piped or redirected, the table is plain text with every column at its full width
(no box, no wrapping), which ``grep``, ``column`` and log files handle; `echo_fitted` does the
same for the sentences printed around a table.
"""

from __future__ import annotations

from typing import Any, Sequence

import click

__all__ = ["print_table", "fit_widths", "echo_fitted", "plain_text"]

FOLD_MIN = 10
"""The narrowest a column of names or paths is folded to (inside a word)."""


def plain_text(cell: Any) -> str:
    """A cell's text: a `rich.text.Text` (styled cell) or a string."""
    return cell.plain if hasattr(cell, "plain") else str(cell)


def _plain(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], right: set[str]) -> str:
    rows = [[plain_text(c) for c in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if h in right else c.ljust(w)
                         for c, w, h in zip(cells, widths, headers)).rstrip()

    return "\n".join([title, fmt(headers), *(fmt(r) for r in rows)])


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for line in text.splitlines() for w in line.split()), default=0)


def _wrapped_width(texts: Sequence[str], width: int) -> int:
    """The widest line of ``texts`` wrapped between words at ``width`` (a longer word folds)."""
    from rich.cells import cell_len

    widest = 0
    for text in texts:
        for line in text.splitlines() or [""]:
            current = 0
            for word in line.split():
                size = min(cell_len(word), width)
                current = size if not current or current + 1 + size > width else current + 1 + size
                widest = max(widest, current)
    return widest


def fit_widths(headers: Sequence[str], rows: Sequence[Sequence[Any]], width: int, *, right: set[str],
               wrap_first: Sequence[str] = ()) -> list[int] | None:
    """Column widths (content only) that fit a boxed table into ``width`` terminal columns, or None.

    Each column starts at its natural width. While the table is too wide, columns are narrowed
    in the order ``wrap_first`` (then the others, right to left), each only as far as needed:
    first down to its longest word (text wraps between words: nothing is cut), then — only for
    left-aligned columns of names and paths — down to `FOLD_MIN`, folding inside a word.
    Right-aligned (number) columns never fold. A wrapped column then keeps only the width its
    wrapped lines take, and what that frees goes back to the columns wrapped first. None when
    even folding does not fit.
    """
    from rich.cells import cell_len

    n = len(headers)
    texts = [[plain_text(r[i]) for r in rows] for i in range(n)]
    natural = [max([cell_len(headers[i]), *(max((cell_len(x) for x in t.splitlines()), default=0) for t in texts[i])])
               for i in range(n)]
    words = [max([_longest_word(headers[i]), *(_longest_word(t) for t in texts[i])]) for i in range(n)]
    folded = [words[i] if headers[i] in right else min(words[i], max(FOLD_MIN, _longest_word(headers[i])))
              for i in range(n)]
    available = width - (3 * n + 1)  # the box: a rule and a space either side of every cell
    widths = list(natural)
    order = [headers.index(h) for h in wrap_first if h in headers]
    order += [i for i in reversed(range(n)) if i not in order]
    for floor in (words, folded):
        for i in order:
            excess = sum(widths) - available
            if excess <= 0:
                break
            widths[i] -= min(excess, max(0, widths[i] - floor[i]))
    if sum(widths) > available:
        return None
    for _ in range(len(order) + 1):  # wrapped columns give back what their lines do not use
        columns = [[headers[i], *texts[i]] for i in range(n)]
        widths = [min(widths[i], max(1, _wrapped_width(columns[i], widths[i]))) if widths[i] < natural[i]
                  else widths[i] for i in range(n)]
        spare = available - sum(widths)
        grown = False
        for i in order:
            if spare <= 0:
                break
            if widths[i] < natural[i]:
                more = min(spare, natural[i] - widths[i])
                widths[i] += more
                spare -= more
                grown = True
        if not grown:
            break
    return widths


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, right: set[str],
                drop_first: Sequence[str] = (), wrap_first: Sequence[str] = (), styles: Sequence[str] | None = None,
                sections: Sequence[int] = (), console=None) -> None:
    """Print the table (see the module docstring). ``drop_first`` lists columns to hide, in order,
    when the terminal is too narrow for the table unwrapped; ``wrap_first`` the columns to wrap
    first when it still is. Cells are strings or `rich.text.Text` (printed as they are, never
    read as markup); ``sections``: indices of rows that start a new section (a rule above them).
    ``console``: a rich Console to print to (default: stdout's)."""
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console(soft_wrap=False)
    if not console.is_terminal:
        click.echo(_plain(title, headers, rows, right))
        return
    keep = list(range(len(headers)))

    def natural_width() -> int:
        return sum(max([cell_len(headers[i]), *(cell_len(plain_text(r[i])) for r in rows)]) + 3 for i in keep) + 1

    hidden = []
    for name in drop_first:
        if natural_width() <= console.width or name not in headers:
            continue
        keep.remove(headers.index(name))
        hidden.append(name)
    kept_headers = [headers[i] for i in keep]
    kept_rows = [[r[i] for i in keep] for r in rows]
    widths = fit_widths(kept_headers, kept_rows, console.width, right=right, wrap_first=wrap_first)
    table = Table(title=title)
    for j, name in enumerate(kept_headers):
        table.add_column(name, justify="right" if name in right else "left", no_wrap=widths is None,
                         overflow="fold" if widths else "ellipsis", width=widths[j] if widths else None)
    for n, row in enumerate(kept_rows):
        if n in sections:
            table.add_section()
        table.add_row(*[c if isinstance(c, Text) else Text(str(c)) for c in row], style=(styles[n] if styles else ""))
    console.print(table)
    if hidden:
        console.print(f"(left out to fit {console.width} columns: {', '.join(hidden)}; widen the window, or "
                      f"pipe the output for every column)", markup=False, highlight=False)


def echo_fitted(text: str, console=None, *, err: bool = False) -> None:
    """A sentence wrapped at word boundaries to the terminal's width (so no line of a command's
    output is wider than its window), or printed as one line when piped or redirected."""
    from rich.console import Console

    console = console or Console(soft_wrap=False, stderr=err)
    if not console.is_terminal:
        click.echo(text, err=err)
        return
    console.print(text, markup=False, highlight=False, overflow="fold")
