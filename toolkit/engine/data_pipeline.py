"""From a recipe's `[data]` to uint8 tensors on the way to the device, decoded once.

The steps, each of which can fail with a message that names the image or the key:

1. the dataset plugin (`data.source`) returns a `FolderIndex` (the folder scan, or generated
   images scanned after writing them);
2. the bad-image policy (`data.on_bad_image`): ``skip`` leaves unreadable images out and
   lists them, ``fail`` stops here with the list, before anything is trained;
3. one decode of every image to ``image_size`` through the disk cache (`toolkit.data`), which
   also yields each image's frame features (computed from the file at one canonical size, the
   same for every recipe: `toolkit.data.duplicates`);
4. the split (stratified, seeded, near-duplicate groups kept on one side — ``data.group_by``;
   pre-split folders as they are, with leakage across them reported; one fold of k with
   ``data.folds``) — or, when resuming, the run's own ``split.json``, so a resumed run sees
   exactly the images it started with.

`toolkit.engine.batches` then serves training and evaluation from the decoded images.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..core.errors import DataError
from .batches import StoreRows, take

__all__ = ["Part", "PreparedData", "cache_root", "check_data_root", "data_root", "prepare_data", "bad_and_ignored",
           "grouping_text"]

Progress = Callable[[str, int, int], None]


def cache_root(recipe: Any) -> Path:
    """``data.cache_dir`` (`toolkit.recipe.load.Recipe.path_of`), else ``$TK_CACHE_DIR``, else ``~/.cache/tk``."""
    return recipe.path_of("data", "cache_dir") or default_cache_dir()


def default_cache_dir() -> Path:
    """``$TK_CACHE_DIR``, else ``~/.cache/tk``: where tk keeps what it can make again."""
    return Path(os.environ.get("TK_CACHE_DIR") or Path.home() / ".cache" / "tk").expanduser()


def data_root(recipe: Any) -> Path | None:
    """``data.root`` as a path: relative to the recipe file when written there, relative to the
    working directory when given with ``--set`` (`toolkit.recipe.load.Recipe.base_for`)."""
    return recipe.path_of("data", "root")


def check_data_root(recipe: Any, plugins: Any) -> None:
    """Refuse a ``data.root`` that is not a folder, in one line, before torch or a model is loaded,
    when the dataset plugin reads an existing folder (registered with ``needs_root=True``, as tk's
    ``folder`` is); a plugin that makes its images (``screens``) may be given a new folder."""
    entry = plugins.registry("datasets").find(recipe["data"]["source"])
    root = data_root(recipe)
    if entry is None or not entry.info.get("needs_root") or root is None:
        return
    if not root.exists():
        raise DataError(f"{recipe.where('data', 'root')}data.root: dataset folder {root} does not exist: check the path")
    if not root.is_dir():
        raise DataError(f"{recipe.where('data', 'root')}data.root: dataset path {root} is a file, not a folder of "
                        f"class folders")


@dataclass
class Part:
    """One split: absolute paths, labels and the decoded uint8 images (N×3×H×W): a tensor, or
    `StoreRows` of the shared image store."""

    paths: list[str]
    labels: list[int]
    images: Any = None

    def __len__(self) -> int:
        return len(self.paths)

    def pairs(self) -> list[list[Any]]:
        return [[p, y] for p, y in zip(self.paths, self.labels)]


@dataclass
class PreparedData:
    """What training needs from the data layer, plus what the run folder reports about it."""

    class_names: list[str]
    train: Part
    val: Part
    test: Part
    seed: int
    notes: list[str] = field(default_factory=list)
    bad_images: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # non-image files left out
    decode_seconds: float = 0.0
    decoded: int = 0
    cached: int = 0
    #: how the split kept images together (``data.group_by``, groups, conflicts, fold): split.json
    grouping: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def train_counts(self) -> list[int]:
        counts = [0] * self.num_classes
        for y in self.train.labels:
            counts[y] += 1
        return counts

    def split_json(self) -> dict[str, Any]:
        """The run folder's ``split.json`` (the shared contract)."""
        return {"class_names": self.class_names, "seed": self.seed, "grouping": self.grouping,
                "train": self.train.pairs(), "val": self.val.pairs(), "test": self.test.pairs(), "notes": self.notes}


def bad_and_ignored(skipped: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split a scan's skipped files into bad images (named like images, unusable) and the rest
    (hidden files, text files, loose files) which are ignored without counting as bad."""
    from ..data.images import is_image_name

    bad, ignored = [], []
    for path, reason in skipped:
        name = os.path.basename(path)
        (bad if is_image_name(name) and not name.startswith(".") else ignored).append((path, reason))
    return bad, ignored


def grouping_text(grouping: dict[str, Any]) -> str:
    """How the split kept images together, in words (the run header, report.html)."""
    how = grouping.get("group_by", "none")
    fold = f"fold {grouping['fold']} of {grouping['folds']}; " if grouping.get("folds") else ""
    if how == "none":
        return fold + "images split one by one (data.group_by = 'none'): near-duplicates may straddle it"
    what = ("near-duplicate images (the same frame, checked pixel by pixel)"
            if how == "near_duplicates" else f"images grouped by {how!r}")
    kept = grouping.get("groups_kept_together", 0)
    text = (f"{fold}{kept} group{'s' if kept != 1 else ''} of {what} kept on one side "
            f"({grouping.get('images_in_groups', 0)} images)")
    if grouping.get("label_conflicts"):
        text += f"; {grouping['label_conflicts']} group(s) carry different labels"
    return text


def _fail_on_bad(bad: list[tuple[str, str]], where: str) -> None:
    listing = "; ".join(f"{p}: {r}" for p, r in bad[:20])
    more = f"; and {len(bad) - 20} more" if len(bad) > 20 else ""
    raise DataError(f"{len(bad)} unusable image(s) {where} and data.on_bad_image = 'fail': {listing}{more}. "
                    f"Fix or remove them, or set data.on_bad_image = 'skip'.")


def load_index(recipe: Any, plugins: Any) -> Any:
    """The `FolderIndex` from the dataset plugin named by ``data.source``."""
    data = recipe["data"]
    source = data["source"]
    return plugins.build("datasets", source, recipe.plugin_params("data", plugins), where="data.source",
                         context={"root": data_root(recipe), "seed": data["seed"],
                                  "cache_dir": cache_root(recipe), "name": source})


def prepare_data(recipe: Any, plugins: Any, *, saved_split: dict[str, Any] | None = None,
                 progress: Progress | None = None) -> PreparedData:
    """Run steps 1–4 of the module docstring; ``saved_split`` is a resumed run's split.json.

    A new split is made after decoding, because decoding yields the frame features the
    split groups near-duplicates by (`toolkit.data.duplicates`); a resumed run decodes the
    images of its own split.json.
    """
    data = recipe["data"]
    notes: list[str] = []
    bad: list[tuple[str, str]] = []
    ignored: list[tuple[str, str]] = []
    if saved_split is not None and all(os.path.exists(p) for p, _ in _all_pairs(saved_split)):
        prepared = _from_saved(saved_split)
    else:
        index = load_index(recipe, plugins)
        bad, ignored = bad_and_ignored(index.skipped)
        if bad and data["on_bad_image"] == "fail":
            _fail_on_bad(bad, f"in {index.root}")
        notes += [f"class {name!r} has no usable images and is left out" for name in index.empty_classes]
        if saved_split is not None:
            prepared = _from_saved(saved_split)
            missing = [p for p, _ in _all_pairs(saved_split) if not os.path.exists(p)]
            if missing:
                raise DataError(f"{len(missing)} image(s) of the run's split no longer exist (first: {missing[0]}); "
                                f"the run cannot continue on the same data: start it again with --fresh.")
        else:
            prepared = _split_decoded(index, recipe, progress)
            prepared.notes = notes + prepared.notes
            prepared.bad_images = bad + prepared.bad_images
            prepared.ignored = ignored
            _check_nonempty(prepared, float(data.get("val_fraction") or 0) if index.presplit is None else None)
            return prepared
    prepared.notes = notes + prepared.notes
    prepared.bad_images, prepared.ignored = bad, ignored
    _decode(prepared, recipe, progress, strict=saved_split is not None)
    _check_nonempty(prepared)
    return prepared


def _check_nonempty(prepared: PreparedData, val_fraction: float | None = None) -> None:
    if not prepared.train.paths:
        raise DataError("no training images are left after leaving out the unusable ones.")
    if not prepared.val.paths:
        if val_fraction:  # a fraction was asked for: too few images (or groups) to take any from
            groups = len(prepared.train.paths)
            raise DataError(f"the validation split is empty: data.val_fraction {val_fraction} of {groups} training "
                            f"image(s) (near-duplicates kept together) rounds to none; tk picks best.pt and stops "
                            f"early on validation metrics — add images (a few per class at least) or a val/ folder.")
        raise DataError("the validation split is empty: tk picks best.pt and stops early on validation metrics; "
                        "set data.val_fraction above 0 (or add a val/ folder).")


def _all_pairs(saved: dict[str, Any]) -> list[tuple[str, int]]:
    return [(str(p), int(y)) for part in ("train", "val", "test") for p, y in saved.get(part, [])]


def _from_saved(saved: dict[str, Any]) -> PreparedData:
    try:
        parts = {k: Part([str(p) for p, _ in saved.get(k, [])], [int(y) for _, y in saved.get(k, [])])
                 for k in ("train", "val", "test")}
        return PreparedData(list(saved["class_names"]), parts["train"], parts["val"], parts["test"],
                            int(saved.get("seed", 0)), notes=list(saved.get("notes", [])),
                            grouping=dict(saved.get("grouping", {})))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"the run's split.json is damaged ({exc}); start the run again with --fresh.") from None


@dataclass
class _Decoded:
    images: Any
    hashes: Any
    features: Callable[[], Any]  # N×FEATURE_BYTES frame features, read when grouping asks for them
    failed: list[tuple[int, str]]
    decoded: int
    cached: int
    seconds: float
    notes: list[str]


def _decode_all(paths: list[str], recipe: Any, progress: Progress | None) -> _Decoded:
    """Every image of ``paths`` decoded: through the shared image store (``data.cache = "disk"``)
    or into this process's memory (``"memory"``)."""
    from ..core.geometry import InputSpec
    from ..data import decode_images

    data = recipe["data"]
    spec = InputSpec.from_recipe(data)
    on_progress = (lambda done, total: progress("decode", done, total)) if progress else None
    if data["cache"] == "disk":
        from ..data.store import open_store

        root = cache_root(recipe)
        res = open_store(paths, spec, cache_dir=root, workers=data["workers"], on_progress=on_progress)
        notes = res.notes + _old_cache_note(root)
        return _Decoded(StoreRows(res.store, res.rows), res.store.hashes[res.rows] if res.rows else res.store.hashes[:0],
                        lambda: res.store.features(res.rows),
                        res.failed, res.decoded, res.reused, res.seconds, notes)
    out = decode_images(paths, spec, cache_dir=None, workers=data["workers"], on_progress=on_progress)
    return _Decoded(out.images, out.hashes, lambda: out.features, out.failed, out.decoded, out.cached, out.seconds,
                    out.notes)


def _old_cache_note(root: Path) -> list[str]:
    """tk 0.1 kept one file per decoded image under <cache>/images; they are not read any more."""
    old = root / "images"
    try:
        if old.is_dir() and any(old.iterdir()):
            return [f"the per-image decode cache {old} of earlier tk versions is no longer read (images now go to "
                    f"one shared store in {root / 'stores'}); delete that folder to free its space"]
    except OSError:
        pass
    return []


def group_ids(index: Any, data: dict[str, Any], features: Any, ok: list[int]) -> list[int] | None:
    """A group id per sample in ``ok`` (``data.group_by``), or None for ``'none'``."""
    from ..data.duplicates import regex_groups, same_frame_groups

    how = data["group_by"]
    if how == "none":
        return None
    if how == "near_duplicates":
        return same_frame_groups(features()[ok])
    rel = [os.path.relpath(index.samples[i][0], index.root) for i in ok]
    return regex_groups(rel, how)


def _split_decoded(index: Any, recipe: Any, progress: Progress | None) -> PreparedData:
    """Decode every image of the folder, group, split: a new run's data."""
    from ..data.duplicates import group_report
    from ..data.split import fold_indices, split_from_presplit, split_indices, straddling_groups

    data = recipe["data"]
    paths = [os.path.abspath(p) for p, _ in index.samples]
    decoded = _decode_all(paths, recipe, progress)
    failed = dict(decoded.failed)
    new_bad = [(paths[i], reason) for i, reason in sorted(failed.items())]
    if new_bad and data["on_bad_image"] == "fail":
        _fail_on_bad(new_bad, "while decoding")
    ok = [i for i in range(len(paths)) if i not in failed]
    labels = [index.samples[i][1] for i in ok]
    groups = group_ids(index, data, decoded.features, ok)
    report = group_report(groups, labels) if groups is not None else None
    names = index.class_names
    notes: list[str] = []
    if index.presplit:
        position = {i: j for j, i in enumerate(ok)}
        presplit = {k: [position[i] for i in v if i in position] for k, v in index.presplit.items()}
        split = split_from_presplit(presplit, labels, val_fraction=data["val_fraction"], seed=data["seed"],
                                    class_names=names)
        if groups is not None:
            leaks = straddling_groups({"train": split.train, "val": split.val, "test": split.test}, groups)
            if leaks:
                first = ", ".join(os.path.relpath(paths[ok[i]], index.root) for i in leaks[0][:3])
                notes.append(f"{len(leaks)} group(s) of near-duplicate images straddle the folder's own "
                             f"train/val/test split, so validation sees copies of training images (first: {first}); "
                             f"tk keeps a pre-split folder as it is")
    elif data["folds"]:
        split = fold_indices(labels, folds=data["folds"], fold=data["fold"], test_fraction=data["test_fraction"],
                             seed=data["seed"], class_names=names, groups=groups)
    else:
        split = split_indices(labels, val_fraction=data["val_fraction"], test_fraction=data["test_fraction"],
                              seed=data["seed"], class_names=names, groups=groups)
    grouping = {"group_by": data["group_by"]}
    if report is not None:
        grouping.update({"groups_kept_together": split.groups_kept, "images_in_groups": split.images_in_groups,
                         "label_conflicts": len(report.conflicts)})
        if data["group_by"] == "near_duplicates":
            grouping["detector"] = "same_frame"
            if data["near_duplicate_bits"] != 8:
                notes.append("data.near_duplicate_bits has no effect any more: near-duplicates are images verified "
                             "to show the same frame (README, near-duplicates); use data.group_by for coarser groups")
        if report.conflicts:
            first: dict[int, int] = {}  # one image per label of the first group, so the conflict shows
            for i in report.conflicts[0]:
                first.setdefault(index.samples[ok[i]][1], i)
            shown = list(first.values())[:3]
            notes.append(f"{len(report.conflicts)} group(s) of near-duplicate images carry different labels "
                         f"(first: {', '.join(os.path.relpath(paths[ok[i]], index.root) for i in shown)}); "
                         f"tk data doctor lists them")
    if data["folds"]:
        grouping.update({"folds": data["folds"], "fold": data["fold"]})

    def part(ids: list[int]) -> Part:
        rows = [ok[j] for j in ids]
        return Part([paths[r] for r in rows], [index.samples[r][1] for r in rows], take(decoded.images, rows))

    prepared = PreparedData(list(names), part(split.train), part(split.val), part(split.test), int(data["seed"]),
                            notes=notes + list(split.notes) + decoded.notes, bad_images=new_bad, grouping=grouping)
    prepared.decode_seconds, prepared.decoded, prepared.cached = decoded.seconds, decoded.decoded, decoded.cached
    return prepared


def _decode(prepared: PreparedData, recipe: Any, progress: Progress | None, *, strict: bool) -> None:
    """Decode every part once; failures become bad images (or stop the run, see the policy)."""
    data = recipe["data"]
    parts = [("train", prepared.train), ("val", prepared.val), ("test", prepared.test)]
    paths = [p for _, part in parts for p in part.paths]
    decoded = _decode_all(paths, recipe, progress)
    prepared.decode_seconds, prepared.decoded, prepared.cached = decoded.seconds, decoded.decoded, decoded.cached
    prepared.notes += decoded.notes
    failed = dict(decoded.failed)
    if failed:
        new_bad = [(paths[i], reason) for i, reason in sorted(failed.items())]
        if strict:
            raise DataError(f"{new_bad[0][0]}: {new_bad[0][1]}; an image of the resumed run's split can no longer be "
                            f"decoded, so the run cannot continue on the same data: start it again with --fresh.")
        if data["on_bad_image"] == "fail":
            _fail_on_bad(new_bad, "while decoding")
        prepared.bad_images += new_bad
    offset = 0
    for _, part in parts:
        n = len(part.paths)
        keep = [j for j in range(n) if offset + j not in failed]
        rows = [offset + j for j in keep]
        part.images = take(decoded.images, rows)
        part.paths = [part.paths[j] for j in keep]
        part.labels = [part.labels[j] for j in keep]
        offset += n
