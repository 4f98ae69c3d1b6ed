"""What `tk data doctor` looks at: the images a folder, a run or a cross-validation folder stands for.

A folder of class folders is scanned as `tk run` scans it. A run's ``split.json`` is checked
(a hand-edited or damaged file is one error naming it) and only files inside the run's recorded
``data.root`` are looked at or named in ``fixes.csv``; a file outside it is skipped and reported.
Only regular files are opened (a FIFO or a device would block), as in `tk data check`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.errors import TkError
from ..core.text import printable

__all__ = ["images_of", "read_split", "inside"]


def inside(path: str, root: str | Path) -> bool:
    rel = os.path.relpath(os.path.normpath(os.path.abspath(path)), os.path.abspath(root))
    return rel != ".." and not rel.startswith(".." + os.sep) and not os.path.isabs(rel)


def read_split(file: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """(class names, (path, label) pairs) of a run's split.json, checked: a hand-edited or damaged
    file is one `TkError` naming it, never a traceback."""
    def bad(what: str) -> TkError:
        return TkError(f"{file}: {what}; this is not a split.json as tk run writes it (train the run again, "
                       f"or run tk data doctor on the image folder).")

    try:
        split = json.loads(file.read_bytes().decode("utf-8", "surrogateescape"))
    except (OSError, ValueError) as exc:
        raise bad(f"cannot be read ({exc})") from None
    if not isinstance(split, dict):
        raise bad("holds no JSON object")
    names = split.get("class_names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise bad("'class_names' is not a list of class names")
    pairs = []
    for part in ("train", "val", "test"):
        entries = split.get(part, [])
        if not isinstance(entries, list):
            raise bad(f"'{part}' is not a list of [path, label] pairs")
        for entry in entries:
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
                raise bad(f"'{part}' holds {printable(json.dumps(entry, ensure_ascii=False))[:80]}, not a [path, label] pair")
            path, label = entry
            if type(label) is not int or not 0 <= label < len(names):
                raise bad(f"the label of {printable(path)!r} is {printable(json.dumps(label, ensure_ascii=False))[:40]}, "
                          f"not a class number from 0 to {len(names) - 1}")
            if "\0" in path:
                raise bad(f"the path {printable(path)!r} holds a NUL byte")
            pairs.append((path, label))
    return names, pairs


def _recorded_root(run: Path) -> str:
    """data.root of a run's resolved recipe.toml (read as plain TOML: nothing in it is imported):
    the folder whose files doctor may look at and name in fixes.csv."""
    import tomllib

    recipe = run / "recipe.toml"
    try:
        root = tomllib.loads(recipe.read_bytes().decode("utf-8", "surrogateescape"))["data"]["root"]
    except (OSError, ValueError, KeyError, TypeError):
        root = None
    if not isinstance(root, str) or not root or "\0" in root:
        raise TkError(f"{recipe} is missing or names no data folder (data.root): tk data doctor needs it to know "
                      f"which files are the run's data; run tk data doctor on the image folder instead.")
    root = os.path.normpath(run / root)  # a relative root is the run folder's, as tk run reads it
    if not os.path.isdir(root):
        raise TkError(f"{recipe}: the data folder {root} no longer exists; run tk data doctor on the image "
                      f"folder where it is now.")
    return root


def images_of(target: Path) -> tuple[str, Path, list[str], list[tuple[str, int]], list[tuple[str, str]],
                                      list[tuple[str, str]]]:
    """(kind, data root, class names, (path, label) pairs, unusable files, skipped files) of a
    folder, run or cv folder.

    A run's split.json is checked (`read_split`); the data root is the run's recorded
    ``data.root``. Files it names outside that folder are skipped (reported, never given a row
    in fixes.csv) and only regular files are opened: a FIFO or a device would block or never
    end, so it is an unusable file with its reason, as in `tk data check`.
    """
    from ..data import scan_folder
    from ..data.images import _file_problem
    from ..engine.data_pipeline import bad_and_ignored

    if (target / "crossval.json").is_file():
        folds = sorted(p for p in target.glob("fold-*/split.json"))
        if not folds:
            raise TkError(f"{target}: a cross-validation folder without any trained fold; run tk run --folds first.")
        split_file = folds[0]
        kind = "cross-validation"
    elif (target / "split.json").is_file():
        split_file = target / "split.json"
        kind = "run"
    else:
        index = scan_folder(target)
        bad, _ = bad_and_ignored(index.skipped)
        return "folder", Path(index.root), list(index.class_names), list(index.samples), bad, []
    names, named = read_split(split_file)
    recorded = _recorded_root(split_file.parent)
    pairs, unusable, skipped = [], [], []
    for path, label in named:
        if not os.path.isabs(path):
            skipped.append((path, "a relative path (tk run writes absolute ones)"))
            continue
        if not inside(path, recorded):
            skipped.append((path, f"outside the data folder {recorded}"))
            continue
        problem = _file_problem(path)
        if problem == "file not found":
            continue  # gone since the run: nothing to look at or fix
        if problem:
            unusable.append((path, problem))
            continue
        pairs.append((path, label))
    if not pairs:
        raise TkError(f"{target}: the images of this run's split.json no longer exist.")
    bad_file = target / "bad_images.txt"
    if bad_file.is_file():  # written as the files' own bytes (`write_bad_images`)
        for line in bad_file.read_bytes().decode("utf-8", "surrogateescape").splitlines():
            path, tab, reason = line.partition("\t")
            if not tab or "\0" in path or not os.path.isabs(path):
                continue
            if inside(path, recorded):
                unusable.append((path, reason))
            else:
                skipped.append((path, f"outside the data folder {recorded}"))
    return kind, Path(recorded), names, sorted(pairs), unusable, skipped
