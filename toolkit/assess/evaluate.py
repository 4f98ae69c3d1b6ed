"""Accuracy of any model format on a run's labelled split: the one code path `tk eval` and `tk bench` share.

A model (checkpoint, ``.onnx``, ``.mlpackage`` …) is matched with the run it came from — its
own run folder for a checkpoint, the ``source.run`` its export manifest names for an exported
file, or a run folder given explicitly — and evaluated on that run's test split (or
validation split when the run has no test split). Images go through the model's own resize
rule; the metrics are the engine's (`toolkit.engine.metrics.classification_metrics`), so the
figures line up with the run's ``metrics.json``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import TkError
from ..export.source import ModelSource, resolve_source

if TYPE_CHECKING:
    import numpy as np

    from ..core.geometry import InputSpec
    from ..export.protocol import Predictor

__all__ = ["EvalSet", "Evaluation", "evaluate", "eval_set", "folder_set", "source_for_model", "SPLIT_NAMES",
           "recorded_source", "split_overlap"]

SPLIT_NAMES = {"val": "validation", "test": "test", "train": "training", "folder": "labelled"}


@dataclass
class EvalSet:
    """Decoded images of one split with their labels, at one image size and resize rule."""

    source: ModelSource
    split: str
    images: np.ndarray
    labels: list[int]
    paths: list[str]
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Evaluation:
    """What a model did on an `EvalSet`."""

    split: str
    runtime: str
    device: str
    probs: np.ndarray
    metrics: dict[str, Any]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return float(self.metrics["accuracy"])

    @property
    def predictions(self) -> list[int]:
        return [int(i) for i in self.probs.argmax(1)]


def source_for_model(model: str | Path, run: str | Path | None = None) -> ModelSource:
    """The run whose split a model is evaluated on (see the module docstring)."""
    from ..export.manifest import MANIFEST_NAME, read_manifest

    path = Path(model)
    if run is not None:
        return resolve_source(run)
    if path.is_dir() and path.suffix == "":  # a run folder, or a folder of runs (resolve_source takes one)
        return resolve_source(path)
    if path.suffix == ".pt":
        source = resolve_source(path)
        if source.split is not None:
            return source
    else:
        manifest_path = path.parent / MANIFEST_NAME
        if manifest_path.is_file():
            run_dir = (read_manifest(manifest_path).get("source") or {}).get("run")
            if run_dir and Path(run_dir).is_dir():
                return resolve_source(Path(run_dir))
    raise TkError(f"{path}: no labelled images to evaluate on (no run folder or export manifest names its split); "
                  f"pass the run with --run RUN_DIR.")


def recorded_source(model: str | Path) -> ModelSource | None:
    """The run a model records (`source_for_model`), or None when it records none or its record
    cannot be read: for notes about the model's own training data, never an error."""
    try:
        source = source_for_model(model)
        return source if source.split is not None else None
    except TkError:
        return None


def _digest(path: str) -> str | None:
    import hashlib

    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None


def split_overlap(source: ModelSource, paths: list[str]) -> dict[str, int]:
    """How many of ``paths`` are images of the run's ``train``, ``val`` and ``test`` splits
    (``split.json``): the same file (resolved path) or a copy of it (same size and SHA-256), so a
    folder copied elsewhere is recognised too. Splits with no such image are left out."""
    import os

    def key(path: str) -> str:
        return os.path.realpath(path)

    def size(path: str) -> int | None:
        try:
            return os.stat(path).st_size
        except OSError:
            return None

    found: dict[str, int] = {}
    wanted = {key(p): p for p in paths}
    for name in ("train", "val", "test"):
        recorded = [str(p) for p, _label in source.samples(name)]
        if not recorded or not wanted:
            continue
        same = wanted.keys() & {key(p) for p in recorded}
        rest = [p for k, p in wanted.items() if k not in same]
        copies = 0
        if rest:  # copies: compare contents only where the byte sizes meet
            by_size: dict[int, list[str]] = {}
            for p in recorded:
                if (n := size(p)) is not None:
                    by_size.setdefault(n, []).append(p)
            candidates = [p for p in rest if size(p) in by_size]
            if candidates:
                digests = {_digest(r) for p in candidates for r in by_size[size(p)]} - {None}
                hits = [p for p in candidates if _digest(p) in digests]
                copies = len(hits)
                for p in hits:
                    wanted.pop(key(p), None)
        for k in same:
            wanted.pop(k, None)
        if len(same) + copies:
            found[name] = len(same) + copies
    return found


def eval_set(source: ModelSource, split: str | None, spec: InputSpec, class_names: list[str]) -> EvalSet:
    """The ``split`` of ``source`` (None: test if the run has one, else val), decoded for the model's ``spec``."""
    from ..export.parity import labelled_images

    if source.split is None:
        raise TkError(f"{source.checkpoint}: no split.json beside it, so there are no labelled images to evaluate on.")
    name = split or ("test" if source.samples("test") else "val")
    if not source.samples(name):
        hint = " (the recipe's data.test_fraction is 0); use --split val" if name == "test" else ""
        raise TkError(f"{source.run_dir}: the run has no {SPLIT_NAMES.get(name, name)} images{hint}.")
    run_classes = list((source.split or {}).get("class_names") or source.class_names)
    if run_classes != list(class_names):
        raise TkError(f"The model's classes {list(class_names)} differ from the run's {run_classes}; "
                      f"evaluate it on the run it was trained on (--run).")
    images, labels, paths = labelled_images(source, name, spec)
    return EvalSet(source, name, images, labels, paths, run_classes)


def folder_set(folder: Path, spec: InputSpec, class_names: list[str],
               skipped: list[tuple[str, str]] | None = None) -> EvalSet:
    """Every image of a labelled ``folder`` (one sub-folder per class, or train/val/test of them),
    decoded for the model's ``spec``, with labels in the model's class order (``tk eval --data``).

    A class folder the model does not know is an error naming it; a model class with no folder
    simply has no images. Unreadable files are left out and listed in ``skipped``.
    """
    from ..core.errors import DataError
    from ..data import scan_folder
    from ..export.inputs import load_inputs

    try:
        index = scan_folder(folder)
    except DataError as exc:
        raise TkError(f"--data: {exc}") from None
    unknown = [c for c in index.class_names if c not in class_names]
    if unknown:
        raise TkError(f"--data {folder}: class folder '{unknown[0]}' is not one of the model's classes "
                      f"({', '.join(class_names)}); rename it or leave it out.")
    paths = [p for p, _ in index.samples]
    labels = [class_names.index(index.class_names[label]) for _, label in index.samples]
    images, failed = load_inputs(paths, spec)
    bad = {p for p, _ in failed}
    if skipped is not None:  # files the scanner left out (empty, corrupt …) and those that would not decode
        from ..data.images import is_image_name

        skipped.extend((p, why) for p, why in index.skipped if is_image_name(Path(p).name))
        skipped.extend(failed)
    kept = [(p, y) for p, y in zip(paths, labels) if p not in bad]
    if not kept:
        raise TkError(f"--data {folder}: none of its {len(paths)} images could be read.")
    return EvalSet(None, "folder", images, [y for _, y in kept], [p for p, _ in kept], list(class_names))


from ..core.geometry import size_words  # noqa: E402  (re-exported: its former home)


def evaluate(predictor: Predictor, data: EvalSet, *, batch_size: int = 32) -> Evaluation:
    """Run ``predictor`` over ``data`` and compute the classification metrics."""
    from ..engine.metrics import classification_metrics
    from ..export.protocol import predictor_spec

    if len(data) and predictor_spec(predictor).hw != tuple(data.images.shape[-2:]):
        raise TkError(f"The model takes {size_words(predictor.image_size)} images but the evaluation set was decoded "
                      f"at {size_words(tuple(data.images.shape[-2:]))}.")
    started = time.perf_counter()
    probs = predictor.predict_all(data.images, batch_size=batch_size)
    seconds = time.perf_counter() - started
    top5 = (-probs).argsort(axis=1, kind="stable")[:, :5].tolist() if len(probs) else []
    metrics = classification_metrics(data.labels, [int(i) for i in probs.argmax(1)], data.class_names, top5,
                                     intervals=True)
    return Evaluation(data.split, predictor.runtime, predictor.device, probs, metrics, seconds)
