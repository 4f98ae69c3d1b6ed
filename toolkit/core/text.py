"""Text a user sees: names that may not be UTF-8, shown escaped rather than crashing a writer;
CSV cells a spreadsheet will not run as formulas.

File and folder names come from the file system as `os.fsdecode` gives them: bytes that are
not UTF-8 become surrogate escapes ("caf\\udce9"), which a UTF-8 file, matplotlib or an HTML page
refuse. `printable` turns them into a visible escape ("caf\\xe9") for every place a name is
shown or written as text; the original string still names the file on disk.

Every CSV tk writes (fixes.csv, predictions.csv, oof_predictions.csv, label_issues.csv, the
video frames and segments files) goes through `csv_cell`/`csv_row`: a cell a spreadsheet would
take for a formula (one starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, as
OWASP describes for CSV injection) gets a leading ``'``, which spreadsheets show as text. Plain
numbers (``-0.5``) are left as they are. `csv_value` undoes it when tk reads its own files, so a
round trip is exact: a name that really starts with ``'`` and then one of those characters (or
a second ``'``) is written with one more ``'``; any other name starting with ``'`` is written
and read as it is (so a hand-typed ``'notes.png`` in fixes.csv still names that file).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

__all__ = ["printable", "csv_cell", "csv_row", "csv_value", "FORMULA_PREFIXES"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a CSV cell as a formula (OWASP, CSV injection)."""

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def printable(text: str) -> str:
    """``text`` with bytes that are not UTF-8 shown as ``\\xNN`` (unchanged when it is clean UTF-8)."""
    text = str(text)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is not an escaped byte
        return text.encode("utf-8", "backslashreplace").decode("ascii")


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}
_CONTROL.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"})


def shown(text: str) -> str:
    """``text`` (a file name) safe to print on a terminal: control characters — a newline that
    would fake an output line, an escape sequence that would recolour or move the terminal's
    cursor — written as ``\\n``, ``\\x1b`` …; bytes that are not UTF-8 are left as they are
    (the console writes them back as the name's own bytes, so the name can be copied)."""
    return str(text).translate(_CONTROL)


def _quoted(text: str) -> bool:
    """Whether ``text`` starts with the ``'`` that `csv_cell` adds (and `csv_value` removes)."""
    return len(text) > 1 and text[0] == "'" and (text[1] == "'" or text[1] in FORMULA_PREFIXES)


def csv_cell(value: Any) -> Any:
    """``value`` safe to open in a spreadsheet: a string a spreadsheet would run as a formula
    gets a leading ``'`` (see the module docstring); numbers and other strings are unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if (value[0] in FORMULA_PREFIXES and not _NUMBER.fullmatch(value)) or _quoted(value):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """`csv_cell` of every value of a row."""
    return [csv_cell(v) for v in values]


def csv_value(cell: str) -> str:
    """A cell of a CSV that tk wrote, as it was before `csv_cell` (exact inverse)."""
    return cell[1:] if _quoted(cell) else cell


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message, at most ``limit`` characters: what a one-line
    error quotes of an error raised in someone else's code (the rest is for ``tk --debug``)."""
    return (str(exc).strip().splitlines() or [""])[0][:limit]
