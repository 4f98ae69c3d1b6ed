"""Text a user sees: names that may not be UTF-8, shown escaped rather than crashing a writer.

File and folder names come from the file system as `os.fsdecode` gives them: bytes that are
not UTF-8 become surrogate escapes ("caf\\udce9"), which a UTF-8 file, matplotlib or an HTML page
refuse. `printable` turns them into a visible escape ("caf\\xe9") for every place a name is
shown or written as text; the original string still names the file on disk.
"""

from __future__ import annotations

__all__ = ["printable"]


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
