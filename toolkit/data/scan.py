"""The folder index: which images exist, which class each belongs to, and what was left out.

A dataset is a folder with one sub-folder per class (`root/<class>/**/image.png`), or the same
layout under `train/`, `val/` and/or `test/` when the user already split it. The scanner turns
that into a `FolderIndex` and never crashes on what users really have in such folders
(`.DS_Store`, `Thumbs.db`, `__MACOSX`, broken or looping symlinks, names that are not UTF-8,
half-copied files): every file it leaves out is listed in `skipped` with a reason, so a
report can say exactly why 3,152 screenshots became 3,149 samples.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.core.errors import DataError
from toolkit.data.images import inspect_image, is_image_name

__all__ = ["SPLIT_NAMES", "FolderIndex", "ProgressFn", "class_counts", "scan_folder"]

#: Progress callback: `(done, total)`; called from the calling thread.
ProgressFn = Callable[[int, int], None]

#: Folder names (any case) that mark a pre-split dataset, mapped to the split they hold.
SPLIT_NAMES = {
    "train": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}
_SPLIT_ORDER = ("train", "val", "test")
#: Folders that archive tools leave behind and are never a class.
_JUNK_FOLDERS = {"__MACOSX", "@eaDir", "$RECYCLE.BIN", "System Volume Information"}


@dataclass
class FolderIndex:
    """Everything the scan found: samples with labels, plus what was left out and why."""

    root: Path
    class_names: list[str]
    samples: list[tuple[str, int]]
    presplit: dict[str, list[int]] | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    empty_classes: list[str] = field(default_factory=list)
    #: (path, note): usable files that are odd (16-bit, CMYK, rotated ...) and dataset-level
    #: remarks (a class missing from one split), for the run report.
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [p for p, _ in self.samples]

    @property
    def labels(self) -> list[int]:
        return [y for _, y in self.samples]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def counts(self) -> list[int]:
        """Images per class, in `class_names` order."""
        return class_counts(self.labels, self.num_classes)


def class_counts(labels: list[int] | tuple[int, ...], num_classes: int) -> list[int]:
    """How many of `labels` fall in each class `0..num_classes-1`."""
    counts = [0] * num_classes
    for y in labels:
        if not 0 <= y < num_classes:
            raise ValueError(f"label {y} is outside 0..{num_classes - 1}")
        counts[y] += 1
    return counts


def scan_folder(
    root: str | os.PathLike[str],
    *,
    check: bool = True,
    on_progress: ProgressFn | None = None,
) -> FolderIndex:
    """Index the class folders under `root`; see the module docstring for the layouts.

    With `check=True` every image gets `inspect_image(thorough=False)`: header, size and
    aspect checks plus a cheap integrity pass (PNG CRCs, JPEG at 1/8 scale), about 1-3 ms a
    screenshot. A full decode here would double the cost of the first run, because the
    decode cache decodes every image anyway, and it turns any failure it still meets into a
    skipped file. `check=False` trusts every file with an image extension.
    """
    root_path = Path(os.fspath(root))
    if not root_path.exists():
        raise DataError(f"dataset folder {root_path} does not exist: check the path")
    if not root_path.is_dir():
        raise DataError(f"dataset path {root_path} is a file, not a folder of class folders")

    skipped: list[tuple[str, str]] = []
    split_dirs = _split_dirs(root_path, skipped)
    layout = split_dirs if split_dirs else {None: root_path}

    # Pass 1: list candidate files per (split, class); cheap, so progress has a total.
    class_dirs = {split: _class_dirs(folder, skipped) for split, folder in layout.items()}
    walker = _Walker(root_path, skipped)
    walker.mark_seen([root_path, *split_dirs.values()])
    _drop_duplicate_class_dirs(class_dirs, skipped)
    walker.mark_seen([d for dirs in class_dirs.values() for d in dirs])
    found: dict[str | None, dict[str, list[str]]] = {}
    for split, folder in layout.items():
        found[split] = {}
        for class_dir in class_dirs[split]:
            files = found[split].setdefault(class_dir.name, [])
            files.extend(walker.images(class_dir))
        if not found[split] and split in ("val", "test"):
            skipped.append((str(folder), f"{split} folder has no class folders, not used"))
            del found[split]
        elif not found[split]:
            raise DataError(
                f"dataset folder {folder} has no class folders: put each class's images "
                f"in its own sub-folder, like {folder}/<class>/image.png"
            )

    # Pass 2: check the files.
    total = sum(len(files) for per_class in found.values() for files in per_class.values())
    notes: list[tuple[str, str]] = []
    good: dict[str | None, dict[str, list[str]]] = {}
    done = 0
    for split, per_class in found.items():
        good[split] = {}
        for name, files in per_class.items():
            kept = good[split].setdefault(name, [])
            for path in files:
                if check:
                    report = inspect_image(path, thorough=False)
                    if report.error:
                        skipped.append((path, report.error))
                    else:
                        kept.append(path)
                        notes.extend((path, note) for note in report.notes)
                else:
                    kept.append(path)
                done += 1
                if on_progress is not None:
                    on_progress(done, total)

    return _build_index(root_path, good, skipped, notes, presplit=bool(split_dirs))


def _build_index(
    root: Path,
    good: dict[str | None, dict[str, list[str]]],
    skipped: list[tuple[str, str]],
    notes: list[tuple[str, str]],
    *,
    presplit: bool,
) -> FolderIndex:
    all_names = sorted({name for per_class in good.values() for name in per_class})
    class_names = [n for n in all_names if any(pc.get(n) for pc in good.values())]
    empty = [n for n in all_names if n not in class_names]
    if len(class_names) < 2:
        have = f"only {class_names[0]!r}" if class_names else "none"
        extra = f"; {len(skipped)} files were skipped (see the scan report)" if skipped else ""
        raise DataError(
            f"dataset folder {root} needs at least 2 classes with usable images, "
            f"it has {have}{extra}"
        )
    label = {name: i for i, name in enumerate(class_names)}
    samples: list[tuple[str, int]] = []
    splits: dict[str, list[int]] = {}
    for split, per_class in good.items():
        indices = splits.setdefault(split or "", [])
        for name in class_names:
            for path in per_class.get(name, []):
                indices.append(len(samples))
                samples.append((path, label[name]))
        if presplit and split:
            for name in class_names:
                if not per_class.get(name):
                    notes.append((str(root / split), f"class {name!r} has no images in {split}"))
    return FolderIndex(
        root=root,
        class_names=class_names,
        samples=samples,
        presplit=splits if presplit else None,
        skipped=skipped,
        empty_classes=empty,
        notes=notes,
    )


def _split_dirs(root: Path, skipped: list[tuple[str, str]]) -> dict[str, Path]:
    """`{"train": path, ...}` when `root` is pre-split, else `{}`.

    Pre-split means a `train` folder exists and every other visible sub-folder is a split
    name too; a `train` folder beside ordinary class folders is just a class called train.
    """
    by_split: dict[str, list[Path]] = {}
    for d in _visible_dirs(root, skipped=None):
        split = SPLIT_NAMES.get(d.name.lower())
        if split is None:
            return {}
        by_split.setdefault(split, []).append(d)
    if "train" not in by_split:
        return {}
    for split, dirs in by_split.items():
        if len(dirs) > 1:
            names = " and ".join(sorted(d.name for d in dirs))
            raise DataError(f"dataset folder {root} has both {names}: keep one {split} folder")
    _note_skipped_entries(root, skipped)
    for _ in _visible_dirs(root, skipped):  # only to report hidden and junk folders
        pass
    return {s: by_split[s][0] for s in _SPLIT_ORDER if s in by_split}


def _class_dirs(folder: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """Visible sub-folders of `folder`, sorted; loose files there are reported as skipped."""
    _note_skipped_entries(folder, skipped)
    return list(_visible_dirs(folder, skipped))


def _visible_dirs(folder: Path, skipped: list[tuple[str, str]] | None) -> Iterator[Path]:
    """Sub-folders (symlinks to folders included: one level is safe) minus hidden and junk."""
    for entry in _sorted_entries(folder, skipped):
        if not _is_dir(entry):
            continue
        if entry.name.startswith("."):
            if skipped is not None:
                skipped.append((entry.path, "hidden folder, not scanned"))
        elif entry.name in _JUNK_FOLDERS:
            if skipped is not None:
                skipped.append((entry.path, "system or archive folder, not scanned"))
        else:
            yield Path(entry.path)


def _drop_duplicate_class_dirs(class_dirs: dict[str | None, list[Path]], skipped: list[tuple[str, str]]) -> None:
    """A class folder that is the same folder as another (a symlink to it) would count the same
    images under two labels, or in two splits: keep the real folder, skip the link with a reason."""
    owner: dict[tuple[int, int], Path] = {}
    every = [(split, d) for split, dirs in class_dirs.items() for d in dirs]
    for split, d in sorted(every, key=lambda item: item[1].is_symlink()):  # real folders claim first
        key = _Walker._key(d)
        if key is None:
            continue
        if key in owner:
            skipped.append((str(d), f"symlink to the class folder {str(owner[key])!r}: its images would count "
                                     f"twice, under two labels or in two splits; not used"))
            class_dirs[split].remove(d)
        else:
            owner[key] = d


def _note_skipped_entries(folder: Path, skipped: list[tuple[str, str]]) -> None:
    """Files lying next to the class folders belong to no class: say so."""
    for entry in _sorted_entries(folder, skipped):
        if not _is_dir(entry):
            skipped.append((entry.path, "not inside a class folder"))


class _Walker:
    """Lists image files under class folders, recursively, in a stable order.

    Symlinked folders are followed (datasets are often assembled from links), but never one
    that leads back to the dataset or above it, and every folder's (device, inode) is
    remembered across the whole scan: a link loop cannot hang the scan, and a folder reached
    twice cannot count its images twice or under another class.
    """

    def __init__(self, root: Path, skipped: list[tuple[str, str]]) -> None:
        self.root_real = os.path.realpath(root)
        self.skipped = skipped
        self.seen: set[tuple[int, int]] = set()

    def mark_seen(self, folders: list[Path]) -> None:
        for folder in folders:
            key = self._key(folder)
            if key is not None:
                self.seen.add(key)

    def images(self, class_dir: Path) -> Iterator[str]:
        stack = [class_dir]
        while stack:
            folder = stack.pop()
            subdirs = []
            for entry in _sorted_entries(folder, self.skipped):
                if entry.name.startswith("."):
                    kind = "hidden folder, not scanned" if _is_dir(entry) else "hidden file"
                    self.skipped.append((entry.path, kind))
                elif _is_dir(entry):
                    if self._enter(entry):
                        subdirs.append(Path(entry.path))
                elif is_image_name(entry.name):
                    yield entry.path
                else:
                    ext = os.path.splitext(entry.name)[1].lower()
                    self.skipped.append((entry.path, f"not an image file ({ext or 'no extension'})"))
            stack.extend(reversed(subdirs))

    def _enter(self, entry: os.DirEntry[str]) -> bool:
        if entry.is_symlink():
            target = os.path.realpath(entry.path)
            if self.root_real == target or self.root_real.startswith(target.rstrip(os.sep) + os.sep):
                self.skipped.append((entry.path, "symlink to a folder above it, not followed"))
                return False
        key = self._key(Path(entry.path))
        if key is None:
            self.skipped.append((entry.path, "unreadable folder"))
            return False
        if key in self.seen:
            self.skipped.append((entry.path, "folder already scanned (symlink loop or duplicate)"))
            return False
        self.seen.add(key)
        return True

    @staticmethod
    def _key(folder: Path) -> tuple[int, int] | None:
        try:
            st = folder.stat()
        except OSError:
            return None
        return (st.st_dev, st.st_ino)


def _sorted_entries(folder: Path, skipped: list[tuple[str, str]] | None) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        if skipped is not None:
            skipped.append((str(folder), f"unreadable folder: {_strerror(exc)}"))
        return []


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symlinks; False for broken or looping ones
    except OSError:
        return False


def _strerror(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()
