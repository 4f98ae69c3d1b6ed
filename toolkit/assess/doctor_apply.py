"""``tk data apply``: a corrected copy of a data folder from a ``fixes.csv`` that `toolkit.assess.doctor`
wrote (or its review page saved). The original folder is only read; every name in the copy is
planned before anything is copied, so no file is ever written over another.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..core.errors import TkError
from ..core.text import csv_value, printable

__all__ = ["apply_fixes"]

FIX_COLUMNS = ("file", "problem", "suggestion")
"""The columns of fixes.csv (`toolkit.assess.doctor` writes them in this order)."""


def apply_fixes(fixes_csv: Path, out: Path, *, data: Path | None = None) -> dict[str, Any]:
    """Write a corrected copy of the data folder to ``out`` (see the module docstring).

    ``data`` defaults to the folder recorded in the doctor.json beside ``fixes_csv``. The
    original folder is only read; only the images tk would train on are copied (unusable files
    and non-image files stay behind). ``out`` must not exist yet (or be empty), so a copy is never
    mixed with an older one; it is built beside its final place and renamed in at the end.

    No file of the copy is ever written twice: a file moved to a class that already has one of
    its name gets a free one (``NAME.moved.png``, then ``NAME.moved-2.png`` ...), planned before
    anything is copied. ``counts["written"]`` is the number of files found in the copy;
    ``counts["unmatched"]`` the rows naming a file the folder does not have (the first in
    ``counts["first_unmatched"]``).
    """
    fixes_csv = Path(fixes_csv)
    if data is None:
        data = _recorded_data(fixes_csv.with_name("doctor.json"))
    if "\0" in os.fspath(data):
        raise TkError("--data: the folder name holds a NUL byte; give the data folder's real name.")
    data = Path(data).resolve()
    out = Path(out).resolve()
    if not data.is_dir():
        raise TkError(f"{data}: the data folder does not exist.")
    if out == data or data in out.parents or out in data.parents:
        raise TkError(f"--out {out} must be a new folder outside the data folder {data}.")
    if out.exists() and any(out.iterdir()):
        raise TkError(f"--out {out} already exists and is not empty: choose a new folder.")
    from ..data import scan_folder

    index = scan_folder(data)
    actions = _read_fixes(fixes_csv, data, set(index.class_names))
    counts = {"copied": 0, "removed": 0, "moved": 0, "reviewed": 0}
    plan = _plan_copy(index.samples, data, actions, counts)
    # rows naming a file the folder does not have (a typo, a file since deleted): said, not dropped silently
    stray = sorted(rel for rel in actions if not os.path.lexists(data / rel))
    counts["unmatched"] = len(stray)
    counts["first_unmatched"] = stray[0] if stray else ""
    if not plan:
        raise TkError(f"{fixes_csv} removes every image of {data}: nothing would be left to copy; "
                      f"delete the rows of the images to keep and run tk data apply again.")
    tmp = out.with_name(f".{out.name}.tmp-apply")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for path, rel in plan:
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(target):  # the plan gives distinct names; a case-blind disk may not
                raise TkError(f"{target}: two images of {data} would share this name in the copy (a file system "
                              f"that ignores case?); rename one of them and run tk data apply again.")
            shutil.copy2(path, target)
        written = sum(len(files) for _, _, files in os.walk(tmp))
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    from ..engine.data_pipeline import bad_and_ignored

    counts["removed"] += len(bad_and_ignored(index.skipped)[0])  # unusable images are never copied
    counts["copied"] += counts["reviewed"]
    counts["written"] = written
    return counts


def _recorded_data(meta: Path) -> Path:
    """The data folder recorded in the doctor.json beside a fixes.csv (checked: one line if not)."""
    if not meta.is_file():
        raise TkError(f"{meta} is missing: give the data folder with --data DIR.")
    try:
        report = json.loads(meta.read_bytes().decode("utf-8", "surrogateescape"))
    except OSError as exc:
        raise TkError(f"{meta}: {exc.strerror or exc}; give the data folder with --data DIR.") from None
    except ValueError:
        raise TkError(f"{meta} is not JSON (damaged or edited?); give the data folder with --data DIR.") from None
    root = report.get("root") if isinstance(report, dict) else None
    if not isinstance(root, str) or not root or "\0" in root:
        raise TkError(f"{meta} names no data folder ('root' is {printable(json.dumps(root))[:60]}, not a folder "
                      f"name); give the data folder with --data DIR.")
    return Path(root)


def _plan_copy(samples: list[tuple[str, int]], data: Path, actions: dict[str, str],
               counts: dict[str, int]) -> list[tuple[str, str]]:
    """(source, name in the copy) of every image to copy; ``counts`` filled. Files that stay in
    their class keep their names; a moved file takes the first free one of NAME.EXT,
    NAME.moved.EXT, NAME.moved-2.EXT ..., against every name of the copy."""
    stay, move = [], []
    for path, _label in samples:
        rel = os.path.relpath(path, data)
        action = actions.get(rel, "keep")
        if action == "remove":
            counts["removed"] += 1
        elif action.startswith("move to "):
            parts = Path(os.path.dirname(rel)).parts
            new_class = action[len("move to "):]
            move.append((path, os.path.join(*parts[:-1], new_class, os.path.basename(rel))))
            counts["moved"] += 1
        else:
            stay.append((path, rel))
            counts["reviewed" if action == "review" else "copied"] += 1
    taken = {rel for _, rel in stay}
    plan = list(stay)
    for path, rel in move:
        stem, ext = os.path.splitext(rel)
        candidates = [rel, f"{stem}.moved{ext}"]
        n = 2
        while candidates[-1] in taken:
            candidates.append(f"{stem}.moved-{n}{ext}")
            n += 1
        name = next(c for c in candidates if c not in taken)
        taken.add(name)
        plan.append((path, name))
    return plan


def _read_fixes(path: Path, data: Path, classes: set[str]) -> dict[str, str]:
    """The actions of a fixes.csv: {file relative to the data folder: suggestion}.

    Read as tk writes it: names that are not UTF-8 as their own bytes (surrogate escapes, like
    `os.fsdecode`) and cells through `toolkit.core.text.csv_value` (the ``'`` that keeps a spreadsheet
    from running a cell is taken off again).
    """
    rows: list[list[str]] = []
    try:
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
            reader = csv.reader(fh)
            try:
                rows.extend(reader)
            except csv.Error as exc:  # e.g. a cell over csv's field size limit (128 KiB)
                raise TkError(f"{path}, line {reader.line_num}: not readable as CSV ({exc}); fix or delete "
                              f"that line.") from None
    except OSError as exc:
        raise TkError(f"{path}: {exc.strerror or exc}") from None
    if not rows or [csv_value(c).strip() for c in rows[0][:3]] != list(FIX_COLUMNS):
        raise TkError(f"{path}: not a fixes.csv (its first line must be {','.join(FIX_COLUMNS)}).")
    actions = {}
    for n, row in enumerate(rows[1:], start=2):
        row = [csv_value(c) for c in row]
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < 3:
            raise TkError(f"{path}, line {n}: expected file,problem,suggestion.")
        file, suggestion = row[0].strip(), row[2].strip()
        if "\0" in file or "\0" in suggestion:
            raise TkError(f"{path}, line {n}: a NUL byte, which no file or class name can hold; fix that line.")
        if suggestion.startswith("move to "):
            target = suggestion[len("move to "):]
            if not target or "/" in target or "\\" in target or target in (".", ".."):
                raise TkError(f"{path}, line {n}: 'move to' needs a class name, not {printable(target)!r}.")
            if target not in classes:
                raise TkError(f"{path}, line {n}: there is no class folder {printable(target)!r} in {data} "
                              f"(classes: {', '.join(sorted(printable(c) for c in classes))}).")
        elif suggestion not in ("remove", "review", "keep"):
            raise TkError(f"{path}, line {n}: unknown suggestion {printable(suggestion)[:80]!r}; use remove, "
                          f"move to CLASS, review or keep.")
        if os.path.isabs(file) or ".." in Path(file).parts:
            raise TkError(f"{path}, line {n}: {printable(file)[:200]!r} must be a path inside the data folder.")
        actions[file] = suggestion
    return actions
